import type { CatalogDocument, Operation, UiEntrySpec } from '../catalog';

/**
 * What a user interface draws from the catalog: pages and navigation modules in the catalog's order,
 * modules with their pages, permissions with their descriptions. Pure: `capabilities` keeps the entries
 * a user may see, `catalog` lists them all.
 */

/** A page or navigation module as the API lists it. */
export interface UiEntryModel {
  key: string;
  name: string;
  description: string | null;
  /** Its index in the catalog's list. */
  order: number;
  /** A page: the navigation module that lists it. */
  module: string | null;
  /** A module: its pages kept, in order. A page: []. */
  pages: UiEntryModel[];
}

/** The pages and modules `keep` keeps (default all), in order; each module with its pages kept. */
export function uiEntries(
  doc: CatalogDocument,
  keep: (prefix: 'page' | 'nav', key: string) => boolean = () => true,
): { pages: UiEntryModel[]; modules: UiEntryModel[] } {
  const list = (prefix: 'page' | 'nav', entries: Record<string, UiEntrySpec> | undefined) =>
    Object.entries(entries ?? {})
      .map(([key, e], order) => ({
        key,
        name: e.name,
        description: e.description ?? null,
        order,
        module: prefix === 'page' ? (e.module ?? null) : null,
        pages: [] as UiEntryModel[],
      }))
      .filter(({ key }) => keep(prefix, key));
  const pages = list('page', doc.pages);
  const modules = list('nav', doc.navigation).map((m) => ({
    ...m,
    pages: pages.filter((p) => p.module === m.key),
  }));
  return { pages, modules };
}

/** A permission `module:action` with the catalog's description. */
export function permissionInfo(doc: CatalogDocument, key: string) {
  const at = key.indexOf(':');
  const [module, action] = [key.slice(0, at), key.slice(at + 1)];
  return { key, module, action, description: doc.permissions[module]?.[action]?.description ?? key };
}

/** Every permission of the catalog, module by module, in its order. */
export function allPermissions(doc: CatalogDocument) {
  return Object.entries(doc.permissions).flatMap(([module, actions]) =>
    Object.entries(actions).map(([action, spec]) => ({
      key: `${module}:${action}`,
      module,
      action,
      description: spec.description,
    })),
  );
}

/** An administrative operation, the permission the catalog guards it with, and whether it is held. */
export interface OperationHeld {
  operation: Operation;
  /** null: the catalog leaves it out (refused for everyone). */
  permission: string | null;
  allowed: boolean;
}
