/**
 * @casl/ability 7 publishes its typings only through package.json "exports", which this repo's
 * `moduleResolution: "node"` does not read (see bench/engine/casl-ability.d.ts for the main entry).
 */
declare module '@casl/ability/extra' {
  export * from '@casl/ability/dist/types/extra/index';
}
