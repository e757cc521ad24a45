/**
 * @casl/ability 7 publishes its typings only through package.json "exports", which this repo's
 * `moduleResolution: "node"` does not read. This shim points the bare specifier at them.
 */
declare module '@casl/ability' {
  export * from '@casl/ability/dist/types/index';
}
