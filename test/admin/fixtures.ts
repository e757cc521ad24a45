import { gql, newTenant, startTestGateway, type GqlResult, type TestGateway } from '../support/gateway';
import { BACKENDS } from '../support/stores';

/**
 * The administration decision tables (test/admin/*.table.test.ts): fixture worlds declared as data,
 * and one runner that plays a row (actor, operation, target, scope → outcome) over HTTP and checks it.
 *
 * A row runs in a fresh organization built from its world: allowed rows change state, and no row can
 * see another's. Fixtures are written through the store (no API rule stands in their way: an owner
 * assignment restricted to a person, an expired one, a locked owner), so a row tests only its own
 * operation. Inputs are data too: a string `$u.name` is that user's id, `$l.name` a location's,
 * `$t.name` a team's, `$a.name` an assignment's, `$days.N` an instant N days from now.
 */

export type Preset = 'junto' | 'juno' | 'jrni';
export type Outcome = 'allowed' | 'FORBIDDEN' | 'CONFLICT' | 'BAD_USER_INPUT';

const DAY = 86_400_000;

/** One assignment of a fixture user: org-wide unless `at` (a location) or `team` is given. */
export interface AssignmentSpec {
  role: string;
  /** A location's name. */
  at?: string;
  /** A team's name. */
  team?: string;
  personId?: string;
  groupIds?: string[];
  /** Days from now: positive expires later, negative has expired already. */
  expiresInDays?: number;
  /** The name rows use for this assignment (`$a.<as>`). */
  as?: string;
}

export interface UserSpec {
  /** Org-wide role keys, or full assignments. */
  roles: (string | AssignmentSpec)[];
  flags?: string[];
  locked?: boolean;
  deleted?: boolean;
}

export interface RoleSpec {
  key: string;
  kind: 'org' | 'location' | 'team';
  grants: string[];
  inherits?: string[];
  /** Deleted (by the owner) once the users are in. */
  deleted?: boolean;
}

/** A fixture world. The tenant's owner is the user `owner`, and their owner assignment is `$a.owner`. */
export interface WorldSpec {
  /** [name, parent name or null], parents first. */
  locations?: [string, string | null][];
  teams?: string[];
  roles?: RoleSpec[];
  users?: Record<string, UserSpec>;
  /** Replaces the tenant owner's flags (default: the catalog's owner flags). */
  ownerFlags?: string[];
}

export interface World {
  preset: Preset;
  orgId: string;
  users: Record<string, string>;
  locations: Record<string, string>;
  teams: Record<string, string>;
  assignments: Record<string, string>;
}

export async function buildWorld(t: TestGateway, preset: Preset, spec: WorldSpec): Promise<World> {
  const { orgId, ownerId } = await newTenant(t, preset);
  const ctx = { orgId, actor: 'test-fixture' };
  const w: World = { preset, orgId, users: { owner: ownerId }, locations: {}, teams: {}, assignments: {} };
  const [ownerAssignments] = await t.store.assignments.forUsers(orgId, [ownerId]);
  w.assignments.owner = ownerAssignments![0]!.id;
  if (spec.ownerFlags) await t.store.users.setFlags(ctx, ownerId, spec.ownerFlags);
  for (const [name, parent] of spec.locations ?? [])
    w.locations[name] = (
      await t.store.locations.create(ctx, { name, parentId: parent ? w.locations[parent] : null })
    ).result.id;
  for (const name of spec.teams ?? []) w.teams[name] = (await t.store.teams.create(ctx, { name })).result.id;
  for (const r of spec.roles ?? [])
    await t.store.roles.create(ctx, {
      key: r.key,
      name: r.key,
      kind: r.kind,
      grants: r.grants,
      inherits: r.inherits ?? [],
    });
  for (const [name, u] of Object.entries(spec.users ?? {})) {
    const { result: user } = await t.store.users.create(ctx, {
      email: `${name}@x.test`,
      flags: u.flags ?? [],
    });
    w.users[name] = user.id;
    for (const r of u.roles) {
      const a = typeof r === 'string' ? { role: r } : r;
      const { result } = await t.store.assignments.assign(ctx, {
        userId: user.id,
        roleKey: a.role,
        locationId: a.at ? must(w.locations, a.at) : null,
        teamId: a.team ? must(w.teams, a.team) : null,
        personId: a.personId ?? null,
        groupIds: a.groupIds ?? [],
        expiresAt: a.expiresInDays != null ? new Date(Date.now() + a.expiresInDays * DAY) : null,
      });
      if (a.as) w.assignments[a.as] = result.id;
    }
    if (u.locked) await t.store.users.lock(ctx, user.id);
    if (u.deleted) await t.store.users.delete(ctx, user.id);
  }
  for (const r of spec.roles ?? []) if (r.deleted) await t.store.roles.delete(ctx, r.key);
  return w;
}

function must(map: Record<string, string>, name: string): string {
  const id = map[name];
  if (!id) throw new Error(`the world has no "${name}"`);
  return id;
}

/** Replaces `$u.x`, `$l.x`, `$t.x`, `$a.x` and `$days.N` anywhere in a value. */
export function resolve(value: unknown, w: World): unknown {
  if (typeof value === 'string') {
    const m = /^\$(u|l|t|a|days)\.(.+)$/.exec(value);
    if (!m) return value;
    const [, kind, name] = m;
    if (kind === 'days') return new Date(Date.now() + Number(name) * DAY).toISOString();
    const map = { u: w.users, l: w.locations, t: w.teams, a: w.assignments }[kind as 'u' | 'l' | 't' | 'a'];
    return must(map, name!);
  }
  if (Array.isArray(value)) return value.map((v) => resolve(v, w));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, w)]));
  return value;
}

/** The operations rows run: [input type, selection]. `users` and `capabilities` are queries. */
const MUTATIONS = {
  createUser: ['CreateUserInput', 'user { id } version warnings'],
  updateUser: ['UpdateUserInput', 'user { id } version warnings'],
  deleteUser: ['UserIdInput', 'user { id } version warnings'],
  undeleteUser: ['UserIdInput', 'user { id } version warnings'],
  lockUser: ['UserIdInput', 'user { id } version warnings'],
  unlockUser: ['UserIdInput', 'user { id } version warnings'],
  setUserFlags: ['SetUserFlagsInput', 'user { id } version warnings'],
  assignRole: ['AssignRoleInput', 'assignment { id } version warnings'],
  revokeAssignment: ['RevokeAssignmentInput', 'assignment { id } version warnings'],
  createRole: ['CreateRoleInput', 'role { key permissions } version warnings'],
  updateRole: ['UpdateRoleInput', 'role { key permissions } version warnings'],
  cloneRole: ['CloneRoleInput', 'role { key permissions } version warnings'],
  deleteRole: ['RoleKeyInput', 'role { key } version warnings'],
  undeleteRole: ['RoleKeyInput', 'role { key permissions } version warnings'],
  createLocation: ['CreateLocationInput', 'location { id } version warnings'],
  moveLocation: ['MoveLocationInput', 'location { id } version warnings'],
  deleteLocation: ['LocationIdInput', 'location { id } version warnings'],
  transferOwnership: ['TransferOwnershipInput', 'owner { id } previousOwner { id } version warnings'],
} as const;

export type Operation = keyof typeof MUTATIONS | 'users';

export interface Row {
  actor: string;
  op: Operation;
  /** Who or what the operation acts on, as a reader would say it. */
  target: string;
  /** Where it acts: `root`, or the location or team. */
  scope: string;
  outcome: Outcome;
  /** The world to build (default `base`). */
  world?: string;
  /** The operation's input (`users`: its variables), with `$` references into the world. */
  input: Record<string, unknown>;
  /** FORBIDDEN: the permission the refusal must name (any of these). */
  permission?: string | string[];
  /** FORBIDDEN: where the refusal must say it was refused: `root` or a location's or team's name. */
  at?: string;
  /** A fragment the error message must contain. */
  message?: RegExp;
  /** `users` rows: `capabilities` at the same location shows this page exactly when the query is allowed. */
  page?: string;
  /** Steps of the row's story before the operation, through the API (each must succeed). */
  before?: (x: Harness, w: World) => Promise<void>;
  /** Allowed rows: what the write did. `data` is the operation's payload. */
  then?: (x: Harness, w: World, data: any) => Promise<void>;
}

/** Row runner and store reads, over one test gateway. */
export class Harness {
  constructor(readonly t: TestGateway) {}

  token(w: World, user: string): Promise<string> {
    return this.t.token(w.orgId, must(w.users, user));
  }

  async version(w: World): Promise<number> {
    return Number((await this.t.store.organizations.versions([w.orgId]))[0]);
  }

  /** Runs an operation as a user of the world. */
  async run(w: World, actor: string, op: Operation, input: Record<string, unknown>): Promise<GqlResult> {
    const token = await this.token(w, actor);
    if (op === 'users')
      return gql(
        this.t.url,
        token,
        `query($locationId: ID) { users(locationId: $locationId, first: 100) { edges { node { id } } } }`,
        resolve(input, w) as Record<string, unknown>,
      );
    const [type, select] = MUTATIONS[op];
    return gql(this.t.url, token, `mutation($i: ${type}!) { ${op}(input: $i) { ${select} } }`, {
      i: resolve(input, w),
    });
  }

  /** The same, for a step that must succeed; returns the payload. */
  async must(w: World, actor: string, op: Operation, input: Record<string, unknown>): Promise<any> {
    const r = await this.run(w, actor, op, input);
    if (r.errors || r.status >= 400)
      throw new Error(`${actor} ${op} ${JSON.stringify(input)}: ${JSON.stringify(r.errors ?? r.raw)}`);
    return r.data![op];
  }

  /** Any GraphQL request as a user of the world. */
  async query(w: World, actor: string, query: string, variables?: Record<string, unknown>) {
    return gql(this.t.url, await this.token(w, actor), query, variables);
  }

  /** A user as stored; `ref` is a user's name in the world or an id. */
  async user(w: World, ref: string) {
    const [u] = await this.t.store.users.getMany(w.orgId, [w.users[ref] ?? ref]);
    if (!u) throw new Error(`no user ${ref}`);
    return u;
  }

  /**
   * A user's assignments, each as `role@scope` (scope: `root`, a location's or team's name), with
   * ` (expires)`, ` (person)`, ` (groups)` when so; sorted.
   */
  async held(w: World, ref: string): Promise<string[]> {
    const [list] = await this.t.store.assignments.forUsers(w.orgId, [w.users[ref] ?? ref]);
    const nameOf = (map: Record<string, string>, id: string) =>
      Object.entries(map).find(([, v]) => v === id)?.[0] ?? id;
    return list!
      .map((a) => {
        const scope = a.locationId
          ? nameOf(w.locations, a.locationId)
          : a.teamId
            ? `team ${nameOf(w.teams, a.teamId)}`
            : 'root';
        return (
          `${a.roleKey}@${scope}` +
          (a.expiresAt ? ' (expires)' : '') +
          (a.personId ? ' (person)' : '') +
          (a.groupIds.length ? ' (groups)' : '')
        );
      })
      .sort();
  }

  /** The wording a refusal uses for a scope named in a row (`root`, a location or a team). */
  scopeWording(w: World, at: string): string {
    if (at === 'root') return 'the organization';
    if (w.locations[at]) return `location ${w.locations[at]}`;
    if (w.teams[at]) return `team ${w.teams[at]}`;
    throw new Error(`unknown scope ${at}`);
  }

  /** Plays a row in a fresh organization built from `worlds[row.world ?? 'base']`, and checks it. */
  async play(preset: Preset, worlds: Record<string, WorldSpec>, row: Row): Promise<void> {
    const spec = worlds[row.world ?? 'base'];
    if (!spec) throw new Error(`no world ${row.world}`);
    const w = await buildWorld(this.t, preset, spec);
    await row.before?.(this, w);
    const before = await this.version(w);

    if (row.page) {
      const caps = await this.query(
        w,
        row.actor,
        `query($l: ID) { capabilities(locationId: $l) { pages { key } } }`,
        { l: resolve(row.input.locationId ?? null, w) },
      );
      expect(caps.errors).toBeUndefined();
      const shown = caps.data!.capabilities.pages.some((p: { key: string }) => p.key === row.page);
      // What the frontend is told agrees with what the API then does.
      expect({ page: row.page, shown }).toEqual({ page: row.page, shown: row.outcome === 'allowed' });
    }

    const r = await this.run(w, row.actor, row.op, row.input);
    expect(r.status).toBeLessThan(500);
    const error = r.errors?.[0];
    const got = (error?.extensions?.code as string | undefined) ?? 'allowed';
    // On a mismatch, the diff shows what the gateway said.
    expect({ outcome: got, ...(got !== row.outcome ? { error: error ?? null } : {}) }).toEqual({
      outcome: row.outcome,
    });
    const after = await this.version(w);

    if (row.outcome === 'allowed') {
      // One write for a mutation, none for a read.
      expect(after).toBe(row.op === 'users' ? before : before + 1);
      await row.then?.(this, w, r.data![row.op]);
      return;
    }
    expect(r.data?.[row.op] ?? null).toBeNull();
    expect(after).toBe(before); // nothing was written
    if (row.message) expect(error!.message).toMatch(row.message);
    if (row.outcome === 'FORBIDDEN') {
      const ext = error!.extensions!;
      expect(ext.permission).toEqual(expect.any(String));
      if (row.permission) {
        const wanted = [row.permission].flat();
        // The refusal names one of the wanted permissions (the diff shows the message otherwise).
        const ok = wanted.includes(ext.permission as string);
        expect({ permission: ext.permission, ...(ok ? {} : { message: error!.message }) }).toEqual({
          permission: ok ? ext.permission : wanted.join(' or '),
        });
      }
      expect(ext.scope).toEqual(
        row.at
          ? this.scopeWording(w, row.at)
          : expect.stringMatching(/^(the organization|location [\w-]+|team [\w-]+)$/),
      );
    }
  }
}

/** The title of a row in a test.each table. */
export const ROW_TITLE = '$actor $op $target at $scope → $outcome';

/**
 * A preset's administration table, on every backend: each row played on a fresh world against a real
 * gateway, which must log no unexpected error.
 */
export function describeTable(
  title: string,
  preset: Preset,
  worlds: Record<string, WorldSpec>,
  rows: Row[],
): void {
  describe.each(BACKENDS)(`${title} on %s`, (backend) => {
    let t: TestGateway;
    let x: Harness;
    beforeAll(async () => {
      t = await startTestGateway(backend);
      x = new Harness(t);
    });
    afterAll(() => t.close());
    afterEach(() => expect(t.logged).toEqual([]));

    test.each(rows)(ROW_TITLE, (row) => x.play(preset, worlds, row));
  });
}
