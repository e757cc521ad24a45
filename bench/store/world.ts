/**
 * The benchmark's data set: one organization's location tree, users and assignments, generated as
 * PostgreSQL COPY text (tab-separated) in chunks, never as arrays of row objects. Everything is a
 * function of a seed: ids are derived from (kind, index), so a user or location is named by its index
 * and its uuid is recomputed on demand instead of being kept in memory.
 */

export interface WorldSize {
  locations: number;
  users: number;
  assignments: number;
}

export const FULL: WorldSize = { locations: 100_000, users: 1_000_000, assignments: 5_000_000 };
export const PGLITE: WorldSize = { locations: 10_000, users: 100_000, assignments: 500_000 };

/** JRNI's built-in roles with the share of assignments each gets. */
export const ROLE_WEIGHTS: readonly (readonly [string, number])[] = [
  ['owner', 0.05],
  ['administrator', 0.12],
  ['user', 0.33],
  ['user_plus', 0.2],
  ['manager', 0.15],
  ['call_center', 0.15],
];

/** Shares of assignments with a given shape (independent draws). */
export const SHAPES = {
  orgWide: 0.2,
  expiring: 0.03,
  person: 0.01,
  groups: 0.015,
} as const;

/** Shares of users with a given state. */
export const USER_STATES = { locked: 0.01, deleted: 0.005, flagged: 0.02 } as const;

/** Tree shape: level k (from 0) has 10·6^k locations; the deepest level takes what is left. */
export const TREE = { first: 10, fanout: 6, maxDepth: 6 } as const;

/** sfc32: a small, fast, seedable PRNG (32-bit state words). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
}

/** murmur3's 32-bit finalizer: a bijection on 32-bit integers. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const hex32 = (w: number) => HEX[w >>> 24]! + HEX[(w >>> 16) & 255]! + HEX[(w >>> 8) & 255]! + HEX[w & 255]!;

export const KIND = { location: 0x5a17c0de, user: 0x1badb002, assignment: 0x0ddba11 } as const;

/**
 * A version-4-shaped uuid for the `i`-th row of a kind. The first word is a bijection of `i`, so ids
 * never collide within a kind; the rest looks random.
 */
export function uuidOf(kind: number, i: number): string {
  const w0 = fmix32((i ^ kind) >>> 0);
  const w1 = ((fmix32((w0 + 0x9e3779b9) >>> 0) & 0xffff0fff) | 0x4000) >>> 0;
  const w2 = ((fmix32((w1 ^ kind) >>> 0) & 0x3fffffff) | 0x80000000) >>> 0;
  const w3 = fmix32((w2 + i) >>> 0);
  const h1 = hex32(w1);
  const h2 = hex32(w2);
  return `${hex32(w0)}-${h1.slice(0, 4)}-${h1.slice(4)}-${h2.slice(0, 4)}-${h2.slice(4)}${hex32(w3)}`;
}

export const userId = (i: number) => uuidOf(KIND.user, i);

/**
 * COPY text in chunks of about `size` bytes, each row written into a Buffer as soon as it is made.
 * (Appending rows to a string instead keeps every row's pieces alive as a rope until the chunk is
 * flattened: they get promoted, and the garbage collector then takes most of the generator's time.)
 */
class Chunker {
  private buf: Buffer;
  private pos = 0;

  constructor(private readonly size: number) {
    this.buf = Buffer.allocUnsafe(size + MAX_ROW);
  }

  /** Adds a row (ASCII only); returns a full chunk when there is one. */
  add(row: string): Buffer | null {
    this.pos += this.buf.write(row, this.pos, 'latin1');
    if (this.pos < this.size) return null;
    return this.take();
  }

  /** What is left, if anything. */
  rest(): Buffer | null {
    return this.pos ? this.take() : null;
  }

  private take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.size + MAX_ROW);
    this.pos = 0;
    return out;
  }
}

/** More than any generated row takes. */
const MAX_ROW = 4096;
const CHUNK = 1 << 20;

/** The location tree: parent of each location by index (-1: under the organization root). */
export class Tree {
  readonly parent: Int32Array;
  readonly levels: number[] = [];
  readonly ids: string[];
  /** `{top,...,self}` for each location: the `path` column, in COPY's array syntax. */
  private readonly pathText: string[];

  constructor(
    readonly size: number,
    rng: Rng,
  ) {
    let placed = 0;
    for (let k = 0; placed < size; k++) {
      let n = TREE.first * TREE.fanout ** k;
      if (placed + n >= size || k === TREE.maxDepth - 1) n = size - placed;
      this.levels.push(n);
      placed += n;
    }
    this.parent = new Int32Array(size);
    this.ids = Array.from({ length: size }, (_, i) => uuidOf(KIND.location, i));
    this.pathText = new Array<string>(size);
    let start = 0;
    let prevStart = 0;
    for (let k = 0; k < this.levels.length; k++) {
      const n = this.levels[k]!;
      for (let i = start; i < start + n; i++) {
        const p = k === 0 ? -1 : prevStart + rng.int(this.levels[k - 1]!);
        this.parent[i] = p;
        this.pathText[i] = p < 0 ? this.ids[i]! : `${this.pathText[p]!},${this.ids[i]!}`;
      }
      prevStart = start;
      start += n;
    }
  }

  get depth(): number {
    return this.levels.length;
  }

  /** What `store.locations.paths` must return: the location, then its ancestors, nearest first. */
  expectedPath(i: number): string[] {
    return this.pathText[i]!.split(',').reverse();
  }

  /** COPY rows for `locations (org_id, id, parent_id, name, path)`, parents before children. */
  *rows(orgId: string): Generator<Buffer> {
    const out = new Chunker(CHUNK);
    for (let i = 0; i < this.size; i++) {
      const p = this.parent[i]!;
      const full = out.add(
        `${orgId}\t${this.ids[i]}\t${p < 0 ? '\\N' : this.ids[p]}\tLocation ${i}\t{${this.pathText[i]}}\n`,
      );
      if (full) yield full;
    }
    const rest = out.rest();
    if (rest) yield rest;
  }
}

const DAY = 86_400_000;
/** A fixed instant the generated timestamps are relative to, so a run's data does not depend on the clock. */
export const EPOCH = Date.UTC(2026, 0, 1);

export const USER_COLUMNS = '(org_id, id, email, name, flags, locked, deleted_at, created_at)';

/** COPY rows for users. */
export function* userRows(orgId: string, size: WorldSize, seed: number): Generator<Buffer> {
  const rng = new Rng(seed);
  const out = new Chunker(CHUNK);
  for (let i = 0; i < size.users; i++) {
    const flags = rng.float() < USER_STATES.flagged ? '{beta}' : '{}';
    const locked = rng.float() < USER_STATES.locked ? 't' : 'f';
    const deleted =
      rng.float() < USER_STATES.deleted ? new Date(EPOCH - rng.int(365) * DAY).toISOString() : '\\N';
    const created = new Date(EPOCH - 365 * DAY * 3 + rng.int(365 * 3 * DAY)).toISOString();
    const full = out.add(
      `${orgId}\t${userId(i)}\tuser${i}@example.com\tUser ${i}\t${flags}\t${locked}\t${deleted}\t${created}\n`,
    );
    if (full) yield full;
  }
  const rest = out.rest();
  if (rest) yield rest;
}

export const ASSIGNMENT_COLUMNS =
  '(org_id, id, user_id, role_key, location_id, person_id, group_ids, expires_at, created_at)';

/** What the generated assignments came to (filled in as rows are generated). */
export interface AssignmentStats {
  orgWide: number;
  expiring: number;
  person: number;
  groups: number;
  /** Assignments per user index, to check what the store returns. */
  perUser: Uint16Array;
}

/**
 * COPY rows for assignments: random users, weighted JRNI roles, ~80% at a uniformly random location
 * and ~20% org-wide; a few expiring (half already expired), a few restricted to a person or groups.
 */
export function* assignmentRows(
  orgId: string,
  size: WorldSize,
  tree: Tree,
  seed: number,
  stats: AssignmentStats,
): Generator<Buffer> {
  const rng = new Rng(seed);
  const cumulative: number[] = [];
  let sum = 0;
  for (const [, w] of ROLE_WEIGHTS) cumulative.push((sum += w));
  const out = new Chunker(CHUNK);
  for (let j = 0; j < size.assignments; j++) {
    const u = rng.int(size.users);
    stats.perUser[u]!++;
    const r = rng.float() * sum;
    let role = 0;
    while (role < cumulative.length - 1 && r >= cumulative[role]!) role++;
    let location = '\\N';
    if (rng.float() < SHAPES.orgWide) stats.orgWide++;
    else location = tree.ids[rng.int(tree.size)]!;
    let person = '\\N';
    if (rng.float() < SHAPES.person) {
      person = `person-${rng.int(5000)}`;
      stats.person++;
    }
    let groups = '{}';
    if (rng.float() < SHAPES.groups) {
      groups = `{g${rng.int(200)},g${rng.int(200)}}`;
      stats.groups++;
    }
    let expires = '\\N';
    if (rng.float() < SHAPES.expiring) {
      // Half expired already, half expiring within the next year.
      expires = new Date(EPOCH + (rng.float() < 0.5 ? -1 : 1) * rng.int(365 * DAY)).toISOString();
      stats.expiring++;
    }
    const created = new Date(EPOCH - 365 * DAY * 3 + rng.int(365 * 3 * DAY)).toISOString();
    const full = out.add(
      `${orgId}\t${uuidOf(KIND.assignment, j)}\t${userId(u)}\t${ROLE_WEIGHTS[role]![0]}\t${location}\t${person}\t${groups}\t${expires}\t${created}\n`,
    );
    if (full) yield full;
  }
  const rest = out.rest();
  if (rest) yield rest;
}

export function newAssignmentStats(size: WorldSize): AssignmentStats {
  return { orgWide: 0, expiring: 0, person: 0, groups: 0, perUser: new Uint16Array(size.users) };
}
