/**
 * rolegate's public library surface: the catalog loader and the decision engine. Everything else
 * (store, cache, API) is internal to the gateway.
 */
export * from './catalog';
export * from './engine';
