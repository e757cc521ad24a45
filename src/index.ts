/**
 * rolegate's public library surface: the catalog loader, the decision engine, and the subgraph helpers
 * (also at `rolegate/subgraph`, which brings them alone). Everything else (store, cache, API) is internal
 * to the gateway.
 */
export * from './catalog';
export * from './engine';
export * from './subgraph';
