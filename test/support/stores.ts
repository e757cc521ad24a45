import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadPreset } from '../../src/catalog';
import { openStore, type Store } from '../../src/store';

const JRNI = loadPreset('jrni');

/** The two backends every store test runs against. */
export const BACKENDS = ['pglite', 'postgres'] as const;
export type Backend = (typeof BACKENDS)[number];

/** Opens a store of the given kind: PGlite in a fresh temp folder, or the test run's PostgreSQL. */
export async function openTestStore(
  kind: Backend,
  databaseUrl?: string,
): Promise<{ store: Store; close(): Promise<void> }> {
  if (kind === 'postgres') {
    const url = databaseUrl ?? process.env.ROLEGATE_TEST_DATABASE_URL;
    if (!url)
      throw new Error(
        'ROLEGATE_TEST_DATABASE_URL is not set: run the tests through jest (globalSetup starts PostgreSQL)',
      );
    const store = await openStore({ databaseUrl: url, migrate: true, poolSize: 20 });
    return { store, close: () => store.close() };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'rolegate-pglite-'));
  const store = await openStore({ dataDir: dir });
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh organization to test in: tests never share one, so they cannot see each other's rows. */
export async function newOrg(store: Store, name = 'Test org') {
  const { result } = await store.organizations.create(
    { name, catalogName: 'jrni', catalogSource: JRNI.text },
    'test',
  );
  return { orgId: result.id, ctx: { orgId: result.id, actor: 'test', requestId: 'req-test' } };
}
