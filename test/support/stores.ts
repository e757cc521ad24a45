import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadPreset } from '../../src/catalog';
import { Client } from 'pg';
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

/**
 * A PostgreSQL database of its own on the test run's server, for tests whose outbox workers claim
 * every organization's notifications (in the shared database they would take other files' too).
 * `drop()` removes it.
 */
export async function privateDatabase(
  prefix = 'rolegate_private',
): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.ROLEGATE_TEST_DATABASE_URL;
  if (!base) throw new Error('ROLEGATE_TEST_DATABASE_URL is not set: run the tests through jest');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new Client({ connectionString: base });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
