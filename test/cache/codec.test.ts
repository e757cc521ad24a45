import fc from 'fast-check';
import {
  decide,
  decodeGrants,
  encodeGrants,
  UserGrants,
  type CheckRequest,
  type CompiledCatalog,
  type Subject,
} from '../../src/engine';
import type { CatalogDocument } from '../../src/catalog';
import { referenceDecide } from '../engine/reference-evaluator';
import { NOW, worldArbitrary, type World } from '../engine/world-arbitrary';
import { compileWorld } from './world-store';

/**
 * The shared cache's binary encoding of compiled grants (src/engine/codec.ts), on the random worlds of
 * the engine's property test: decoding what was encoded gives grants that decide every check exactly
 * as the grants compiled from the subject; other catalogs, truncated and corrupted bytes are refused
 * (null), never a throw.
 *
 * Replay a failure with the seed and path fast-check prints: CODEC_SEED=… CODEC_PATH=…
 */

const RUNS = Number(process.env.CODEC_RUNS ?? 200);
const SEED = process.env.CODEC_SEED === undefined ? undefined : Number(process.env.CODEC_SEED);
const PATH = process.env.CODEC_PATH;
const params = { ...(SEED !== undefined ? { seed: SEED } : {}), ...(PATH ? { path: PATH } : {}) };

/** Everything a UserGrants holds, as plain data (bitsets as arrays, maps and sets sorted). */
function parts(g: UserGrants) {
  const map = (m: ReadonlyMap<string, Uint32Array>) =>
    [...m.entries()].map(([k, v]) => [k, [...v]] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    userId: g.userId,
    locked: g.locked,
    deleted: g.deleted,
    active: g.active,
    flags: [...g.flags],
    memberOf: [...g.memberOf],
    validUntil: g.validUntil,
    org: [...g.org],
    flagAdd: [...g.flagAdd],
    flagKeep: [...g.flagKeep],
    byLocation: map(g.byLocation),
    byTeam: map(g.byTeam),
    restricted: g.restricted.map((r) => ({ ...r, groupIds: [...r.groupIds].sort(), bits: [...r.bits] })),
  };
}

/**
 * Asserts that `decoded` stands for `original`: same fields, same effective set and the same decision
 * for every check of the world (whoever it was generated for), and the same decision as the reference
 * evaluator for the checks generated for `subject`.
 */
function expectSameGrants(
  world: World,
  catalog: CompiledCatalog,
  subject: Subject,
  original: UserGrants,
  decoded: UserGrants | null,
): void {
  expect(decoded).not.toBeNull();
  const d = decoded!;
  expect(d.userId).toBe(original.userId);
  expect(d.validUntil).toBe(original.validUntil);
  expect(d.flags).toEqual(original.flags);
  expect([d.locked, d.deleted, d.active]).toEqual([original.locked, original.deleted, original.active]);
  expect(parts(d)).toEqual(parts(original));
  for (const check of world.checks) {
    const { request } = check;
    expect([...d.effective(request)]).toEqual([...original.effective(request)]);
    const want = decide(catalog, original, request, world.policies);
    const got = decide(catalog, d, request, world.policies);
    if (got !== want)
      throw new Error(
        `decoded grants decide ${got}, compiled ${want}: ${JSON.stringify({ request, subject })}`,
      );
    if (world.users[check.user] === subject) {
      const reference = referenceDecide(world.doc, world.customRoles, subject, request, NOW, world.policies);
      expect(got).toBe(reference);
    }
  }
}

describe('codec: encodeGrants / decodeGrants on random worlds', () => {
  test('decoded grants equal the compiled ones: fields, effective sets, every decision', () => {
    const seen = { users: 0, byLocation: 0, byTeam: 0, restricted: 0, inactive: 0, expiring: 0, allow: 0 };
    fc.assert(
      fc.property(worldArbitrary, (world) => {
        const catalog = compileWorld(world);
        // Decoding reads into a catalog compiled separately (another replica's), not the writer's object.
        const reader = compileWorld(world);
        for (const subject of world.users) {
          const original = new UserGrants(catalog, subject, NOW);
          const bytes = encodeGrants(original);
          const decoded = decodeGrants(reader, subject.userId, bytes);
          expectSameGrants(world, catalog, subject, original, decoded);
          // Canonical: the decoded grants encode to the very same bytes.
          expect(encodeGrants(decoded!).equals(bytes)).toBe(true);
          seen.users++;
          if (original.byLocation.size) seen.byLocation++;
          if (original.byTeam.size) seen.byTeam++;
          if (original.restricted.length) seen.restricted++;
          if (!original.active) seen.inactive++;
          if (original.validUntil !== Infinity) seen.expiring++;
          for (const { request } of world.checks)
            if (decide(catalog, original, request, world.policies) === 'ALLOW') seen.allow++;
        }
      }),
      { numRuns: RUNS, ...params },
    );
    // Not vacuous: every part of the encoding carried something, many times.
    if (PATH) return;
    for (const [what, n] of Object.entries(seen))
      if (n < RUNS / 20) throw new Error(`only ${n} users with ${what}: ${JSON.stringify(seen)}`);
  });

  test('a catalog with other permission keys reads null; one compiled from the same document reads the grants', () => {
    fc.assert(
      fc.property(worldArbitrary, fc.nat(), (world, pick) => {
        const catalog = compileWorld(world);
        const subject = world.users[pick % world.users.length]!;
        const bytes = encodeGrants(new UserGrants(catalog, subject, NOW));
        expect(decodeGrants(compileWorld(world), subject.userId, bytes)).not.toBeNull();

        const other = (mutate: (doc: CatalogDocument) => void) => {
          const changed = structuredClone(world);
          mutate(changed.doc);
          return compileWorld(changed);
        };
        const modules = Object.keys(world.doc.permissions);
        const variants = {
          'one more permission': other((doc) => {
            doc.permissions.m_extra = { a0: { description: 'one more' } };
          }),
          'one more action in the first module': other((doc) => {
            doc.permissions[modules[0]!]!.zz_extra = { description: 'one more' };
          }),
          'modules in another order (same keys, other bits)': other((doc) => {
            doc.permissions = Object.fromEntries(Object.entries(doc.permissions).reverse());
          }),
        };
        for (const [name, changed] of Object.entries(variants)) {
          const sameOrder = changed.keys.join('\n') === catalog.keys.join('\n');
          if (sameOrder) continue; // one module only: reversing changes nothing
          const decoded = decodeGrants(changed, subject.userId, bytes);
          if (decoded !== null) throw new Error(`${name}: decoded with another bit layout`);
        }
      }),
      { numRuns: 100, ...params },
    );
  });

  test('every truncation of an encoding reads null (never a throw); so does a trailing byte', () => {
    fc.assert(
      fc.property(worldArbitrary, fc.nat(), (world, pick) => {
        const catalog = compileWorld(world);
        const subject = world.users[pick % world.users.length]!;
        const bytes = encodeGrants(new UserGrants(catalog, subject, NOW));
        for (let n = 0; n < bytes.length; n++) {
          let decoded: UserGrants | null | 'threw' = 'threw';
          try {
            decoded = decodeGrants(catalog, subject.userId, bytes.subarray(0, n));
          } catch {
            // recorded as 'threw'
          }
          if (decoded !== null) throw new Error(`a prefix of ${n} of ${bytes.length} bytes read ${decoded}`);
        }
        expect(decodeGrants(catalog, subject.userId, Buffer.concat([bytes, Buffer.from([0])]))).toBeNull();
        expect(decodeGrants(catalog, subject.userId, Buffer.alloc(0))).toBeNull();
      }),
      { numRuns: 100, ...params },
    );
  });

  test('a corrupted byte never throws; in the format byte or the catalog fingerprint it reads null', () => {
    const tally = { null: 0, sameDecisions: 0, otherDecisions: 0, wrongAllow: 0 };
    fc.assert(
      fc.property(worldArbitrary, fc.nat(), fc.integer({ min: 1, max: 255 }), (world, pick, mask) => {
        const catalog = compileWorld(world);
        const subject = world.users[pick % world.users.length]!;
        const original = new UserGrants(catalog, subject, NOW);
        const bytes = encodeGrants(original);
        for (let at = 0; at < bytes.length; at++) {
          const corrupt = Buffer.from(bytes);
          corrupt[at]! ^= mask;
          let decoded: UserGrants | null;
          try {
            decoded = decodeGrants(catalog, subject.userId, corrupt);
          } catch (err) {
            throw new Error(`byte ${at} ^ ${mask} threw ${String(err)}`, { cause: err });
          }
          if (at < 9) {
            if (decoded !== null) throw new Error(`byte ${at} (format or fingerprint) ^ ${mask} was read`);
            continue;
          }
          if (decoded === null) {
            tally.null++;
            continue;
          }
          // Read: the bytes are not checksummed, so the grants may differ. Decisions must not throw.
          let differs = false;
          for (const { request } of world.checks) {
            const want = decide(catalog, original, request, world.policies);
            const got = decide(catalog, decoded, request, world.policies);
            if (got !== want) differs = true;
            if (got === 'ALLOW' && want !== 'ALLOW') tally.wrongAllow++;
          }
          if (differs) tally.otherDecisions++;
          else tally.sameDecisions++;
        }
      }),
      { numRuns: 60, ...params },
    );
    if (process.env.CODEC_STATS) console.log(JSON.stringify(tally));
    expect(tally.null).toBeGreaterThan(0);
  });

  test('Unicode ids, flags, persons and groups round-trip, and decide as before', () => {
    // Well-formed strings of any code point (fast-check's "binary" unit excludes lone surrogates).
    const id = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });
    const ids = fc.uniqueArray(id, { minLength: 30, maxLength: 30 });
    fc.assert(
      fc.property(worldArbitrary, ids, fc.array(id, { maxLength: 4 }), (world, names, extraFlags) => {
        // Every location, team, person and group id the world names becomes a distinct Unicode string.
        const rename = new Map<string, string>();
        const to = (s: string) => {
          let r = rename.get(s);
          if (r === undefined) rename.set(s, (r = names[rename.size % names.length]!));
          return r;
        };
        const mapped: World = {
          ...world,
          locations: world.locations.map((l) => ({
            id: to(l.id),
            parent: l.parent === null ? null : to(l.parent),
          })),
          users: world.users.map((u) => ({
            ...u,
            userId: `用户-${u.userId}-🙂`,
            flags: [...(u.flags ?? []), ...extraFlags],
            assignments: u.assignments.map((a) => ({
              ...a,
              ...(a.locationId ? { locationId: to(a.locationId) } : {}),
              ...(a.teamId ? { teamId: to(a.teamId) } : {}),
              ...(a.personId ? { personId: to(`person:${a.personId}`) } : {}),
              ...(a.groupIds ? { groupIds: a.groupIds.map((g) => to(`group:${g}`)) } : {}),
            })),
          })),
          checks: world.checks.map(({ user, request }) => ({
            user,
            request: {
              ...request,
              locationPath: (request.locationPath ?? []).map(to),
              ...(request.teamIds ? { teamIds: request.teamIds.map(to) } : {}),
              ...(request.personId ? { personId: to(`person:${request.personId}`) } : {}),
              ...(request.groupIds ? { groupIds: request.groupIds.map((g) => to(`group:${g}`)) } : {}),
            },
          })),
        };
        if (rename.size > names.length) return; // not enough distinct names: skip rather than merge ids
        const catalog = compileWorld(mapped);
        for (const subject of mapped.users) {
          const original = new UserGrants(catalog, subject, NOW);
          const decoded = decodeGrants(catalog, subject.userId, encodeGrants(original));
          expectSameGrants(mapped, catalog, subject, original, decoded);
          expect(decoded!.flags).toEqual([...(subject.flags ?? [])]);
        }
      }),
      { numRuns: 60, ...params },
    );
  });

  test('hand-picked Unicode: emoji, combining marks, NUL, commas, right-to-left text', () => {
    const world: World = {
      doc: {
        catalog: 'unicode',
        name: 'Unicode',
        owner: { role: 'owner' },
        flags: { f0: { name: 'F0', description: 'flag' } },
        permissions: { m0: { a0: { description: 'a0' }, a1: { description: 'a1', grantedByFlag: 'f0' } } },
        roles: {
          owner: { name: 'Owner', kind: 'org' },
          loc: { name: 'Location', kind: 'location', grants: ['m0:a0'] },
          team: { name: 'Team', kind: 'team', grants: ['m0:a0'] },
        },
      },
      customRoles: {},
      locations: [
        { id: '🏢 Zürich', parent: null },
        { id: 'e\u0301\u0000,מחלקה', parent: '🏢 Zürich' },
      ],
      users: [
        {
          userId: '👩‍💻 ñ',
          flags: ['f0', 'drapeau-ü', '🚩', '\u0000', 'x,y'],
          memberOf: ['チーム 🧪', 'e\u0301\u0000,チーム'],
          assignments: [
            { id: 'a1', role: 'loc', locationId: '🏢 Zürich', personId: 'Ωmega' },
            { id: 'a2', role: 'loc', locationId: 'e\u0301\u0000,מחלקה', groupIds: ['グループ', '👥'] },
            { id: 'a3', role: 'team', teamId: 'チーム 🧪', expiresAt: NOW + 60_000 },
          ],
        },
      ],
      policies: {},
      checks: [],
    };
    const requests: CheckRequest[] = [
      { permission: 'm0:a0', locationPath: ['🏢 Zürich'], personId: 'Ωmega' },
      { permission: 'm0:a0', locationPath: ['🏢 Zürich'], personId: 'Omega' },
      { permission: 'm0:a0', locationPath: ['e\u0301\u0000,מחלקה', '🏢 Zürich'], groupIds: ['👥'] },
      { permission: 'm0:a0', locationPath: ['é\u0000,מחלקה', '🏢 Zürich'], groupIds: ['👥'] }, // é precomposed: another id
      { permission: 'm0:a0', locationPath: ['🏢 Zürich'], groupIds: ['グループ'] },
      { permission: 'm0:a0', teamIds: ['チーム 🧪'] },
      { permission: 'm0:a0', teamIds: ['チーム'] },
      { permission: 'm0:a1' },
    ];
    world.checks = requests.map((request) => ({ user: 0, request }));
    const catalog = compileWorld(world);
    const subject = world.users[0]!;
    const original = new UserGrants(catalog, subject, NOW);
    const decoded = decodeGrants(catalog, subject.userId, encodeGrants(original));
    expectSameGrants(world, catalog, subject, original, decoded);
    expect(decoded!.flags).toEqual(['f0', 'drapeau-ü', '🚩', '\u0000', 'x,y']);
    expect(decoded!.memberOf).toEqual(['チーム 🧪', 'e\u0301\u0000,チーム']);
    expect(requests.map((r) => decide(catalog, decoded!, r))).toEqual([
      'ALLOW',
      'DENY',
      'ALLOW',
      'DENY',
      'DENY',
      'ALLOW',
      'DENY',
      'ALLOW',
    ]);
  });
});
