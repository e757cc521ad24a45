import { createHash, type Hash } from 'node:crypto';
import { hasBit, orInto, emptyBits, type Bits } from './bitset';
import type { CompiledCatalog } from './compile';
import type { UserGrants } from './grants';
import type { ToolPolicies } from './types';

/**
 * A user's grants version: an opaque digest of everything a `check` or `capabilities` answer about
 * them depends on, and of nothing else, so that it changes when one of their answers could change and
 * stays the same after a write that changes none. It covers, canonically (sorted, duplicates merged):
 *
 * - their compiled grants (`UserGrants`): the bits held organization-wide, at each location, in each
 *   team they are a member of, and under each person/group restriction; their flags' masks; whether
 *   they are locked or deleted. Role definitions, memberships, expiry already shaped those bits, so an
 *   edit of a role they hold changes them, and a role renamed (same grants) does not;
 * - their flags as stored (`capabilities` reports them, unknown ones included);
 * - the organization's policy of each agent tool whose permission they hold somewhere (rule 9); a
 *   tool they cannot hold answers DENY whatever its policy;
 * - where their location grants reach (rule 2): for each location they hold a grant at, the digest of
 *   its subtree (`extents`, one per such location: every location at or below it). A location created,
 *   moved or deleted under one of them changes it; one elsewhere does not.
 *
 * Not covered, on purpose: the organization's `version`, names and descriptions, memberships of teams
 * where they hold no role (team roles count only in members' teams, so a membership that matters
 * shows in the bits), and the next expiry of an assignment (when it expires, the grants compiled
 * after it differ, and so does the digest).
 */
export function grantsDigest(
  grants: UserGrants,
  policies: ToolPolicies,
  extents: ReadonlyMap<string, string>,
): string {
  const h = createHash('sha256');
  const field = (s: string) => h.update(`${s.length}:${s};`);
  field('rg-grants-1');
  field(layoutOf(grants.catalog));
  field(`${grants.locked ? 'L' : ''}${grants.deleted ? 'D' : ''}${grants.active ? 'A' : ''}`);
  field([...new Set(grants.flags)].sort().join(','));
  for (const b of [grants.org, grants.flagAdd, grants.flagKeep]) bits(h, b);
  const byLocation = [...grants.byLocation.keys()].sort();
  field(`locations:${byLocation.length}`);
  for (const id of byLocation) {
    field(id);
    bits(h, grants.byLocation.get(id)!);
    field(extents.get(id) ?? '');
  }
  const byTeam = [...grants.byTeam.keys()].sort();
  field(`teams:${byTeam.length}`);
  for (const id of byTeam) {
    field(id);
    bits(h, grants.byTeam.get(id)!);
  }
  const restricted = [
    ...new Set(
      grants.restricted.map((r) =>
        [
          r.locationId ?? '',
          r.locationId ? (extents.get(r.locationId) ?? '') : '',
          r.teamId ?? '',
          r.personId ?? '',
          [...r.groupIds].sort().join(','),
          hex(r.bits),
          r.ownBits ? hex(r.ownBits) : '',
        ].join('|'),
      ),
    ),
  ].sort();
  field(`restricted:${restricted.length}`);
  for (const r of restricted) field(r);
  const held = heldAnywhere(grants);
  const tools = [...grants.catalog.tools.values()]
    .filter((t) => hasBit(held, t.bit))
    .map((t) => `${t.name}=${grants.catalog.toolMode(t, policies).mode}`)
    .sort();
  field(`tools:${tools.join(',')}`);
  return h.digest().subarray(0, 16).toString('base64url');
}

const layouts = new WeakMap<CompiledCatalog, string>();

/** The catalog's bit layout (its permission keys in bit order), as a digest computed once per catalog. */
function layoutOf(catalog: CompiledCatalog): string {
  let layout = layouts.get(catalog);
  if (layout === undefined) {
    layout = createHash('sha256').update(catalog.keys.join('\n')).digest('base64url');
    layouts.set(catalog, layout);
  }
  return layout;
}

/** Every location the user holds a grant at (restricted or not): the roots of where their grants reach. */
export function grantLocations(grants: UserGrants): string[] {
  const ids = new Set(grants.byLocation.keys());
  for (const r of grants.restricted) if (r.locationId) ids.add(r.locationId);
  return [...ids].sort();
}

/** The union of every bit the user might hold somewhere, before flag gates and dependencies. */
function heldAnywhere(grants: UserGrants): Bits {
  const all = emptyBits(grants.catalog.words);
  if (!grants.active) return all;
  orInto(all, grants.org);
  orInto(all, grants.flagAdd);
  for (const b of grants.byLocation.values()) orInto(all, b);
  for (const b of grants.byTeam.values()) orInto(all, b);
  for (const r of grants.restricted) {
    orInto(all, r.bits);
    if (r.ownBits) orInto(all, r.ownBits);
  }
  return all;
}

function bits(h: Hash, b: Bits): void {
  h.update(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  h.update(';');
}

function hex(b: Bits): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
