import { createHash } from 'node:crypto';
import type { Bits } from './bitset';
import type { CompiledCatalog } from './compile';
import { UserGrants, type GrantParts, type RestrictedGrant } from './grants';

/**
 * A compact binary form of a user's compiled grants, for the shared cache: bitsets as raw words, ids as
 * length-prefixed UTF-8. Only a catalog compiled to the same bit layout may read it back: the encoding
 * starts with a fingerprint of the catalog's permission keys, and `decodeGrants` returns null for any
 * other catalog (a replica on another release, a changed catalog) or for bytes it cannot read.
 */

/** 3: team memberships (rule 3), own-person grants (rule 5). Entries of another format are misses. */
const FORMAT = 3;

/** Encodes grants for the shared cache. */
export function encodeGrants(grants: UserGrants): Buffer {
  const w = new Writer();
  w.u8(FORMAT);
  w.raw(fingerprint(grants.catalog));
  w.u8((grants.locked ? 1 : 0) | (grants.deleted ? 2 : 0) | (grants.active ? 4 : 0));
  w.f64(grants.validUntil);
  w.u32(grants.flags.length);
  for (const f of grants.flags) w.str(f);
  w.u32(grants.memberOf.length);
  for (const t of grants.memberOf) w.str(t);
  w.bits(grants.org);
  w.bits(grants.flagAdd);
  w.bits(grants.flagKeep);
  for (const map of [grants.byLocation, grants.byTeam]) {
    w.u32(map.size);
    for (const [id, bits] of map) {
      w.str(id);
      w.bits(bits);
    }
  }
  w.u32(grants.restricted.length);
  for (const r of grants.restricted) {
    w.optStr(r.locationId);
    w.optStr(r.teamId);
    w.optStr(r.personId);
    w.u32(r.groupIds.size);
    for (const g of r.groupIds) w.str(g);
    w.bits(r.bits);
    w.u8(r.ownBits ? 1 : 0);
    if (r.ownBits) w.bits(r.ownBits);
  }
  return w.done();
}

/** The grants `encodeGrants` wrote for `userId`, for the same catalog; null when written for another. */
export function decodeGrants(catalog: CompiledCatalog, userId: string, bytes: Buffer): UserGrants | null {
  try {
    const r = new Reader(bytes, catalog.words);
    if (r.u8() !== FORMAT || !r.raw(8).equals(fingerprint(catalog))) return null;
    const state = r.u8();
    const validUntil = r.f64();
    const flags = r.list(() => r.str());
    const memberOf = r.list(() => r.str());
    const org = r.bits();
    const flagAdd = r.bits();
    const flagKeep = r.bits();
    const byLocation = new Map(r.list(() => [r.str(), r.bits()] as const));
    const byTeam = new Map(r.list(() => [r.str(), r.bits()] as const));
    const restricted = r.list((): RestrictedGrant => ({
      locationId: r.optStr(),
      teamId: r.optStr(),
      personId: r.optStr(),
      groupIds: new Set(r.list(() => r.str())),
      bits: r.bits(),
      ownBits: r.u8() === 0 ? null : r.bits(),
    }));
    if (!r.atEnd()) return null;
    const parts: GrantParts = {
      userId,
      locked: (state & 1) !== 0,
      deleted: (state & 2) !== 0,
      active: (state & 4) !== 0,
      flags,
      memberOf,
      validUntil,
      org,
      flagAdd,
      flagKeep,
      byLocation,
      byTeam,
      restricted,
    };
    return new UserGrants(catalog, parts);
  } catch {
    return null; // truncated or corrupt: a miss, never a guess
  }
}

const fingerprints = new WeakMap<CompiledCatalog, Buffer>();

/** 8 bytes of SHA-256 over the catalog's permission keys in bit order: equal means the same layout. */
function fingerprint(catalog: CompiledCatalog): Buffer {
  let f = fingerprints.get(catalog);
  if (!f) {
    f = createHash('sha256').update(catalog.keys.join('\n')).digest().subarray(0, 8);
    fingerprints.set(catalog, f);
  }
  return f;
}

class Writer {
  private buf = Buffer.allocUnsafe(256);
  private at = 0;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }
  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v, this.at);
    this.at += 4;
  }
  f64(v: number): void {
    this.room(8);
    this.buf.writeDoubleLE(v, this.at);
    this.at += 8;
  }
  raw(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.at);
    this.at += b.length;
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u32(b.length);
    this.raw(b);
  }
  optStr(s: string | null): void {
    this.u8(s === null ? 0 : 1);
    if (s !== null) this.str(s);
  }
  bits(b: Bits): void {
    this.room(b.length * 4);
    for (const word of b) {
      this.buf.writeUInt32LE(word, this.at);
      this.at += 4;
    }
  }
  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.at));
  }
}

class Reader {
  private at = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly words: number,
  ) {}

  private take(n: number): number {
    if (this.at + n > this.buf.length) throw new RangeError('truncated');
    const start = this.at;
    this.at += n;
    return start;
  }
  u8(): number {
    return this.buf[this.take(1)]!;
  }
  u32(): number {
    return this.buf.readUInt32LE(this.take(4));
  }
  f64(): number {
    return this.buf.readDoubleLE(this.take(8));
  }
  raw(n: number): Buffer {
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }
  str(): string {
    const n = this.u32();
    return this.raw(n).toString('utf8');
  }
  optStr(): string | null {
    return this.u8() === 0 ? null : this.str();
  }
  bits(): Bits {
    const at = this.take(this.words * 4);
    const out = new Uint32Array(this.words);
    for (let i = 0; i < this.words; i++) out[i] = this.buf.readUInt32LE(at + i * 4);
    return out;
  }
  list<T>(item: () => T): T[] {
    const n = this.u32();
    if (n > this.buf.length) throw new RangeError('corrupt length');
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item());
    return out;
  }
  atEnd(): boolean {
    return this.at === this.buf.length;
  }
}
