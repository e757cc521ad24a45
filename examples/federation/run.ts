import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startGateway } from '../../src/api/server';
import { devToken } from '../../src/cli/org';
import { seedDemo } from '../../src/cli/setup';
import { openStore } from '../../src/store';
import { demoLocations, startFederation } from './stack';

/**
 * `npm run example:federation`: rolegate (development, embedded store in a temporary folder, the JRNI
 * demo organization with 50 locations), the bookings subgraph (500 bookings across them) and
 * @apollo/gateway over both, all on 127.0.0.1. Prints tokens and a query to paste. Ctrl-C stops it.
 *
 * Ports: FEDERATION_PORT (default 4200) for the gateway, +1 rolegate, +2 bookings.
 */
async function main() {
  const base = Number(process.env.FEDERATION_PORT ?? 4200);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rolegate-federation-'));
  const store = await openStore({ dataDir });
  const demo = await seedDemo(store, 'jrni');
  const cities = demo.locations as { london: string; leeds: string; bristol: string };
  const locationIds = await demoLocations(store, demo.orgId, cities);
  const rolegate = await startGateway({
    store,
    config: { port: base + 1, env: 'development' },
    host: '127.0.0.1',
    approvals: { notify: false },
  });
  // The gateway composes at start-up from rolegate's `_service { sdl }`, which needs credentials: an
  // API key of the organization (any key authenticates; it needs no scope to read the SDL).
  const { result: key } = await rolegate.store.apiKeys.create(
    { orgId: demo.orgId, actor: 'example' },
    { name: 'federation example gateway', scopes: [] },
  );
  const federation = await startFederation({
    rolegateUrl: rolegate.url,
    rolegateHeaders: { authorization: `Bearer ${key.token}` },
    locationIds,
    ports: { gateway: base, bookings: base + 2 },
  });

  const token = async (email: string) => (await devToken(store, demo.orgId, demo.people[email]!))!;
  const manager = await token('manager@jrni.example');
  const user = await token('user@jrni.example');
  const query = `{ bookings(first: 6) { id startsAt customer notes location { id name viewerCan(permission: "booking:manage") } } }`;
  const curl = (t: string) =>
    `curl -s ${federation.gatewayUrl} -H 'content-type: application/json' -H 'authorization: Bearer ${t}' -d '${JSON.stringify({ query })}'`;
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(
    `rolegate        ${rolegate.url}   (JRNI demo organization ${demo.orgId}; embedded store in ${dataDir})`,
  );
  out(
    `bookings        ${federation.bookingsUrl}   (500 bookings across 50 locations; @can via rolegate/subgraph)`,
  );
  out(
    `gateway         ${federation.gatewayUrl}   (@apollo/gateway over rolegate + bookings; open it for Apollo Sandbox)`,
  );
  out('');
  out('Manager at London (manages London and its branches: 1 booking in 3 shows its customer and notes):');
  out(`  ${curl(manager)}`);
  out('');
  out('User at Bristol (Bristol and its branches):');
  out(`  ${curl(user)}`);
  out('');
  out(`The query:\n  ${query}`);
  out(
    `Another user's token: curl -s ${rolegate.url.replace(/\/graphql$/, '')}/dev/token -H 'content-type: application/json' -d '{"org":"${demo.orgId}","user":"admin@jrni.example"}'`,
  );

  const stop = async () => {
    await federation.stop();
    await rolegate.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
