import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { CompiledCatalog, Subject } from '../engine';
import { Access, ROOT, scopeOf, type Scope } from '../decisions/access';
import { ForbiddenError, InvalidInputError } from '../decisions/errors';
import type { Loaders } from '../decisions/loaders';
import type { Viewer } from '../identity/tokens';
import {
  IMPORT_LIMITS,
  readImportFile,
  readTable,
  type ImportFormat,
  type RowProblem,
  type TableRow,
} from '../import';
import {
  isEmail,
  isOwnerAssignment,
  isUuid,
  StoreError,
  type AssignInput,
  type ImportedUpdate,
  type ImportedUser,
  type Location,
  type Store,
  type User,
  type WriteContext,
} from '../store';
import { checkAssignment, engineAssignment } from './assignment-request';

/**
 * `importUsers`: users from a CSV or XLSX file, all or nothing. Every row obeys what `createUser` with
 * `assignments` obeys (a new user), or what changing that user one operation at a time would (an
 * existing one, with `onExisting: UPDATE`); any problem in any row is reported with its row and column,
 * and then nothing is written. A good file is one write: one version, one audit entry (counts, not
 * rows).
 *
 * What a row needs of the importer (the catalog's permission for each operation, "at S" meaning at
 * that scope or wider):
 * - a new user: `importUsers` at the scope of each of its roles (the organization when it has none),
 *   every permission of each role there, and no permission gained anywhere that the importer lacks
 *   there (exactly as createUser); flags: `setUserFlags` at those scopes too (nobody gives flags they
 *   could not set on that user afterwards);
 * - an existing user (UPDATE): cover the user for `importUsers`; a new name: cover them for
 *   `updateUser`; new roles: `importUsers` and `assignRole` at each role's scope and the same
 *   no-escalation checks as assignRole; new flags: cover them for `setUserFlags`, never one's own.
 * An UPDATE adds: a name given replaces the name, roles and flags given are added; nothing is removed.
 */

export type ImportMode = 'fail' | 'skip' | 'update';

export interface ImportRequest {
  format: ImportFormat;
  /** CSV text or an XLSX workbook in base64 (the API), or the file's bytes (the command line). */
  content: string | Buffer;
  /** Default false: check everything, write nothing. */
  dryRun?: boolean;
  /** What a row naming an existing user does (default `fail`: it is an error). */
  onExisting?: ImportMode;
}

/** One problem with a row: where, what kind (the API's codes), and what. */
export interface ImportRowError {
  row: number;
  column: string | null;
  code: 'BAD_USER_INPUT' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT';
  message: string;
}

export interface ImportReport {
  /** Users created (a dry run: that would be); 0 whenever there are errors (nothing is written). */
  created: number;
  updated: number;
  /** Rows naming an existing user left as they are: SKIP, or UPDATE with nothing to change. */
  skipped: number;
  errors: ImportRowError[];
  /** The users created and updated, in id order (none for a dry run or a refused file). */
  userIds: string[];
  /** The organization's version after the write; null when nothing was written. */
  version: string | null;
  /** Data rows read. */
  rows: number;
}

/** Where an import is, for a progress bar: reading the file, checking rows, writing. */
export type ImportProgress = (step: 'read' | 'check' | 'write', done: number, total: number) => void;

/** What an import needs from the administration service it runs in. */
export interface ImportDeps {
  store: Store;
  catalog: CompiledCatalog;
  access: Access;
  loaders: Loaders;
  viewer: Viewer;
  /** The write's context (actor, request, invariants); `summary` becomes the audit entry's `after`. */
  context(): WriteContext;
  /** Added to the audit entry's summary (the command line says whose rights it used). */
  audit?: Record<string, unknown>;
}

/** Rows checked between two yields to the event loop (other requests are served meanwhile). */
const BATCH = 500;

/** One role of a row as written: `key`, `key@location` (id or path of names) or `key@team:name`. */
interface RoleRef {
  key: string;
  location?: string;
  team?: string;
  text: string;
}

interface Draft {
  row: number;
  /** False when a cell could not be read (its problem is reported): the row's rules are not run. */
  ok: boolean;
  email: string;
  name: string | null;
  roles: RoleRef[];
  flags: string[];
}

/** Rows of one file whose checks failed, kept in order: at most IMPORT_LIMITS.errors. */
class Problems {
  readonly list: ImportRowError[] = [];

  get full(): boolean {
    return this.list.length >= IMPORT_LIMITS.errors;
  }

  add(row: number, column: string | null, message: string, code: ImportRowError['code'] = 'BAD_USER_INPUT') {
    if (!this.full) this.list.push({ row, column, code, message });
  }

  /** A refusal thrown by a rule, as a row's problem; anything unexpected is thrown on. */
  caught(row: number, column: string | null, err: unknown): void {
    if (err instanceof ForbiddenError) return this.add(row, column, err.message, 'FORBIDDEN');
    if (err instanceof InvalidInputError) return this.add(row, column, err.message);
    if (err instanceof StoreError && err.code !== 'UNAVAILABLE')
      return this.add(row, column, err.message, err.code === 'INVALID' ? 'BAD_USER_INPUT' : err.code);
    throw err;
  }
}

export async function importUsers(
  deps: ImportDeps,
  request: ImportRequest,
  progress: ImportProgress = () => {},
): Promise<ImportReport> {
  const mode = request.onExisting ?? 'fail';
  progress('read', 0, 1);
  const file = await readImportFile(request.format, request.content);
  const table = readTable(file.rows);
  const empty = (errors: ImportRowError[], rows: number): ImportReport => ({
    created: 0,
    updated: 0,
    skipped: 0,
    errors: sorted(errors),
    userIds: [],
    version: null,
    rows,
  });
  if (table.problems.length)
    return empty(
      table.problems.map((p: RowProblem) => ({ ...p, code: 'BAD_USER_INPUT' as const })),
      table.rows.length,
    );
  progress('read', 1, 1);

  const problems = new Problems();
  if (file.broken) problems.add(file.broken.row, null, file.broken.message);
  const drafts = draftRows(table.rows, problems);
  const rules = new Rules(deps, problems);
  const [directory, existing] = await Promise.all([
    Directory.load(deps, drafts),
    deps.store.users.byEmails(
      deps.viewer.orgId,
      drafts.filter((d) => d.ok).map((d) => d.email),
    ),
  ]);
  const byEmail = new Map(existing.map((u) => [u.email.toLowerCase(), u]));
  // The users an UPDATE may change, read in one batch (their rows are then checked one by one).
  if (mode === 'update') await Promise.all(existing.map((u) => deps.loaders.subjects.load(u.id)));
  const created: ImportedUser[] = [];
  const updated: ImportedUpdate[] = [];
  let skipped = 0;
  for (let i = 0; i < drafts.length && !problems.full; i++) {
    if (i % BATCH === 0) {
      progress('check', i, drafts.length);
      if (i) await yieldToLoop();
    }
    const draft = drafts[i]!;
    // Every cell is read, so that each of a row's problems is reported; the rules run on good rows only.
    const assignments = directory.assignments(draft, problems);
    const flagsKnown = rules.knownFlags(draft);
    if (!draft.ok || !assignments || !flagsKnown) continue;
    const user = byEmail.get(draft.email.toLowerCase());
    if (!user) {
      const planned = await rules.newUser(draft, assignments);
      if (planned) created.push(planned);
    } else if (mode === 'fail') {
      problems.add(
        draft.row,
        'email',
        'a user with this email already exists: import with onExisting SKIP to leave such users as they are, or UPDATE to change them',
        'CONFLICT',
      );
    } else if (mode === 'skip') {
      skipped++;
    } else {
      const change = await rules.existingUser(draft, assignments, user);
      if (change === 'unchanged') skipped++;
      else if (change) updated.push(change);
    }
  }
  progress('check', drafts.length, drafts.length);
  if (problems.list.length) return empty(problems.list, table.rows.length);

  const report = (userIds: string[], version: string | null): ImportReport => ({
    created: created.length,
    updated: updated.length,
    skipped,
    errors: [],
    userIds,
    version,
    rows: table.rows.length,
  });
  if (request.dryRun || (!created.length && !updated.length)) return report([], null);

  progress('write', 0, 1);
  const { result, version } = await deps.store.users.importUsers(deps.context(), {
    created,
    updated,
    summary: {
      format: request.format,
      onExisting: mode,
      rows: table.rows.length,
      bytes: file.bytes,
      sha256: file.sha256,
      created: created.length,
      updated: updated.length,
      skipped,
      ...deps.audit,
    },
  });
  progress('write', 1, 1);
  return report([...result.created, ...result.updated].sort(), version);
}

/** Errors in file order: by row, then by column in the order of the columns. */
function sorted(errors: ImportRowError[]): ImportRowError[] {
  const order = (c: string | null) => (c === null ? -1 : ['email', 'name', 'roles', 'flags'].indexOf(c));
  return [...errors].sort((a, b) => a.row - b.row || order(a.column) - order(b.column));
}

/** Each row's cells read as what they say; what cannot be is a problem of that row and column. */
function draftRows(rows: readonly TableRow[], problems: Problems): Draft[] {
  const seen = new Map<string, number>();
  const drafts: Draft[] = [];
  for (const { row, cells, unnamed } of rows) {
    if (problems.full) break;
    let ok = true;
    const bad = (column: string | null, message: string) => {
      problems.add(row, column, message);
      ok = false;
    };
    if (unnamed) bad(null, 'this row has text in a column the header does not name');
    const email = cells.email ?? '';
    if (!email) bad('email', 'email is required');
    else if ([...email].length > 320) bad('email', 'email is too long');
    else if (!isEmail(email))
      bad('email', `email must be an address like name@example.com, not "${clip(email)}"`);
    else {
      const first = seen.get(email.toLowerCase());
      if (first !== undefined) bad('email', `this email is already on row ${first} of the file`);
      else seen.set(email.toLowerCase(), row);
    }
    const name = cells.name || null;
    if (name && [...name].length > 200) bad('name', 'name is too long');
    const roles = list(cells.roles);
    if (roles.length > 100) bad('roles', 'roles has too many items');
    const refs: RoleRef[] = [];
    for (const text of roles) {
      const at = text.indexOf('@');
      const key = (at < 0 ? text : text.slice(0, at)).trim().toLowerCase();
      const scope = at < 0 ? '' : text.slice(at + 1).trim();
      if (!key) bad('roles', `"${clip(text)}" names no role before its @`);
      else if (key.length > 100) bad('roles', 'a role key is too long');
      else if (at >= 0 && !scope) bad('roles', `"${clip(text)}" names no location or team after its @`);
      else if (/^team:/i.test(scope)) {
        const team = scope.slice(5).trim();
        if (!team) bad('roles', `"${clip(text)}" names no team after team:`);
        else refs.push({ key, team, text });
      } else refs.push({ key, ...(scope ? { location: scope } : {}), text });
    }
    const flags = list(cells.flags).map((f) => f.toLowerCase());
    if (flags.length > 100) bad('flags', 'flags has too many items');
    else if (flags.some((f) => f.length > 100)) bad('flags', 'a flag is too long');
    drafts.push({ row, ok, email, name, roles: refs, flags: [...new Set(flags)] });
  }
  return drafts;
}

/** `a; b;;c ` → ['a', 'b', 'c']. */
function list(cell: string | null): string[] {
  return (cell ?? '')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** At most 100 characters of a cell, as every message quotes input. */
function clip(text: string): string {
  const chars = [...text];
  return chars.length > 100 ? `${chars.slice(0, 99).join('')}…` : text;
}

/**
 * The locations and teams a file names, read once for all its rows. A location is named by its id, its
 * name, or a path of names ending at it (`Parent company/London`; one starting with `/` starts at the
 * top of the tree), without case; a name or path that fits several locations is refused. A team by its
 * name, without case, live ones only.
 */
class Directory {
  private constructor(
    private readonly catalog: CompiledCatalog,
    private readonly byId: Map<string, Location>,
    /** Locations whose name is a segment of some path of the file: by id, and by lowercased name. */
    private readonly named: Map<string, Location>,
    private readonly byName: Map<string, Location[]>,
    private readonly teams: Map<string, string>,
  ) {}

  static async load(deps: ImportDeps, drafts: readonly Draft[]): Promise<Directory> {
    const refs = drafts.flatMap((d) => d.roles);
    const ids = new Set<string>();
    const names = new Set<string>();
    const teamNames = new Set<string>();
    for (const r of refs) {
      if (r.team) teamNames.add(r.team.toLowerCase());
      else if (r.location && isUuid(r.location)) ids.add(r.location.toLowerCase());
      else if (r.location) for (const s of segments(r.location)) names.add(s);
    }
    const { orgId } = deps.viewer;
    const [byIds, byNames, teams] = await Promise.all([
      deps.store.locations.getMany(orgId, [...ids]),
      deps.store.locations.byNames(orgId, [...names]),
      deps.store.teams.byNames(orgId, [...teamNames]),
    ]);
    const byName = new Map<string, Location[]>();
    for (const l of byNames) {
      const key = l.name.trim().toLowerCase();
      byName.set(key, [...(byName.get(key) ?? []), l]);
    }
    return new Directory(
      deps.catalog,
      new Map(byIds.flatMap((l) => (l ? [[l.id, l]] : []))),
      new Map(byNames.map((l) => [l.id, l])),
      byName,
      new Map(teams.map((t) => [t.name.trim().toLowerCase(), t.id])),
    );
  }

  /** A row's roles as assignments checked against the catalog; null (with its problems) when one is not. */
  assignments(draft: Draft, problems: Problems): Omit<AssignInput, 'userId'>[] | null {
    const out = new Map<string, Omit<AssignInput, 'userId'>>();
    let ok = true;
    for (const ref of draft.roles) {
      try {
        let locationId: string | null = null;
        let teamId: string | null = null;
        if (ref.team) {
          teamId = this.teams.get(ref.team.toLowerCase()) ?? null;
          if (!teamId) throw new InvalidInputError(`"${clip(ref.text)}": unknown team "${clip(ref.team)}"`);
        } else if (ref.location) locationId = this.location(ref);
        // A bare role key needs no quoting of itself before its refusal.
        const where = ref.text.toLowerCase() === ref.key ? undefined : `"${clip(ref.text)}"`;
        const a = checkAssignment(this.catalog, { role: ref.key, locationId, teamId }, where);
        out.set(`${a.roleKey}|${a.locationId ?? ''}|${a.teamId ?? ''}`, a);
      } catch (err) {
        ok = false;
        problems.caught(draft.row, 'roles', err);
      }
    }
    return ok ? [...out.values()] : null;
  }

  private location(ref: RoleRef): string {
    const text = ref.location!;
    const fromTop = text.trim().startsWith('/');
    const unknown = () => new InvalidInputError(`"${clip(ref.text)}": unknown location "${clip(text)}"`);
    if (isUuid(text)) {
      const l = this.byId.get(text.toLowerCase());
      if (!l) throw unknown();
      return l.id;
    }
    const path = segments(text);
    // Candidates end the path; each must have the path's earlier names as its nearest ancestors.
    const found = (this.byName.get(path[path.length - 1] ?? '') ?? []).filter((l) => {
      let at: Location | undefined = l;
      for (let i = path.length - 2; i >= 0; i--) {
        at = at.parentId ? this.named.get(at.parentId) : undefined;
        if (!at || at.name.trim().toLowerCase() !== path[i]) return false;
      }
      return !fromTop || at.parentId === null;
    });
    if (!found.length) throw unknown();
    if (found.length > 1)
      throw new InvalidInputError(
        `"${clip(ref.text)}": ${found.length} locations fit "${clip(text)}": give more of its path, or its id`,
      );
    return found[0]!.id;
  }
}

/** `Parent company / London` → ['parent company', 'london']. */
function segments(path: string): string[] {
  return path
    .split('/')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

/**
 * The checks on the importer, row by row, each answer kept for the rows that ask the same (a file of
 * 10,000 users holds a handful of distinct role sets).
 */
class Rules {
  private readonly memo = new Map<string, Promise<unknown>>();

  constructor(
    private readonly deps: ImportDeps,
    private readonly problems: Problems,
  ) {}

  private get doc() {
    return this.deps.catalog.catalog.document;
  }

  /** A new user as createUser would make it, or null (with its problems). */
  async newUser(draft: Draft, given: Omit<AssignInput, 'userId'>[]): Promise<ImportedUser | null> {
    const { catalog, access } = this.deps;
    const assignments = given.length
      ? given
      : (this.doc.defaultRoles ?? []).map((role) => checkAssignment(catalog, { role }, 'defaultRoles'));
    if (
      this.doc.requireOrgRole &&
      !assignments.some((a) => catalog.roles.get(a.roleKey)!.kind === 'org' && !a.expiresAt)
    ) {
      this.problems.add(
        draft.row,
        'roles',
        'this catalog requires every user to hold an organization-wide role that does not expire: give one in roles',
      );
      return null;
    }
    const scopes = unique(assignments.length ? assignments.map(scopeOf) : [ROOT]);
    const key = assignments
      .map((a) => `${a.roleKey}|${a.locationId ?? ''}|${a.teamId ?? ''}`)
      .sort()
      .join(',');
    const ok = await this.check(draft.row, 'roles', `new:${key}`, async () => {
      await access.require({ operation: 'importUsers' }, scopes);
      for (const a of assignments)
        await this.once(`holds:${a.roleKey}|${scopeKey(scopeOf(a))}`, () =>
          access.requireHoldsAll(catalog.roles.get(a.roleKey)!.closure, scopeOf(a), null),
        );
      const subject: Subject = {
        userId: 'new',
        assignments: assignments.map((a, i) => engineAssignment(a, `new-${i}`)),
      };
      await access.requireNoGain(null, subject);
    });
    const flagsOk =
      !draft.flags.length ||
      (await this.check(draft.row, 'flags', `flags:${scopes.map(scopeKey).sort().join(',')}`, () =>
        access.require({ operation: 'setUserFlags' }, scopes),
      ));
    if (!ok || !flagsOk) return null;
    const owner = assignments.some((a) => isOwnerAssignment(engineAssignment(a, 'new'), catalog.ownerRole));
    return {
      email: draft.email,
      name: draft.name,
      flags: [...new Set([...draft.flags, ...(owner ? (this.doc.owner.flags ?? []) : [])])],
      assignments,
    };
  }

  /** What UPDATE changes in an existing user, 'unchanged', or null (with its problems). */
  async existingUser(
    draft: Draft,
    given: Omit<AssignInput, 'userId'>[],
    user: User,
  ): Promise<ImportedUpdate | 'unchanged' | null> {
    const { catalog, access, loaders, viewer } = this.deps;
    if (user.deletedAt) {
      this.problems.add(
        draft.row,
        'email',
        'this user is deleted: restore them (undeleteUser) before an import changes them',
        'CONFLICT',
      );
      return null;
    }
    const before = await loaders.subjects.load(user.id);
    if (!before) return null; // deleted since it was read: the write would refuse it too
    const held = new Set(
      before.assignments
        .filter((a) => a.personId == null && !a.groupIds?.length && a.expiresAt == null)
        .map((a) => `${a.role}|${a.locationId ?? ''}|${a.teamId ?? ''}`),
    );
    const added = given.filter((a) => !held.has(`${a.roleKey}|${a.locationId ?? ''}|${a.teamId ?? ''}`));
    const rename = draft.name !== null && draft.name !== user.name;
    const flags = draft.flags.filter((f) => !user.flags.includes(f));
    if (!added.length && !rename && !flags.length) return 'unchanged';

    // Each answer depends on what the user holds and what is added, not on who they are: users of the
    // same shape (most of a file) share them.
    const shape = shapeOf(before);
    const change = added
      .map((a) => `${a.roleKey}|${a.locationId ?? ''}|${a.teamId ?? ''}`)
      .sort()
      .join(',');
    // Someone the importer does not cover is that row's one problem; past it, each change's own.
    const covered = await this.check(draft.row, 'email', `covers:importUsers:${shape}`, () =>
      access.requireCovers(user.id, 'importUsers'),
    );
    if (!covered) return null;
    const checks = [
      !rename ||
        this.check(draft.row, 'name', `covers:updateUser:${shape}`, () =>
          access.requireCovers(user.id, 'updateUser'),
        ),
      !added.length ||
        this.check(draft.row, 'roles', `gives:${shape}:${change}`, async () => {
          for (const a of added) {
            await access.require({ operation: 'importUsers' }, [scopeOf(a)]);
            await access.require({ operation: 'assignRole' }, [scopeOf(a)]);
            await access.requireHoldsAll(catalog.roles.get(a.roleKey)!.closure, scopeOf(a), null);
          }
          const after = added.map((a, i) => engineAssignment(a, `new-${i}`));
          await access.requireNoGain(before, { ...before, assignments: [...before.assignments, ...after] });
        }),
      !flags.length ||
        this.check(
          draft.row,
          'flags',
          viewer.kind === 'user' && viewer.userId === user.id ? null : `covers:setUserFlags:${shape}`,
          async () => {
            if (viewer.kind === 'user' && viewer.userId === user.id)
              throw Access.forbidden(
                access.permissionOf('setUserFlags') ?? 'setUserFlags',
                ROOT,
                'forbidden: nobody changes their own flags; ask another administrator',
              );
            await access.requireCovers(user.id, 'setUserFlags');
          },
        ),
    ];
    if (!(await Promise.all(checks)).every(Boolean)) return null;
    const owner = added.some((a) => isOwnerAssignment(engineAssignment(a, 'new'), catalog.ownerRole));
    const addFlags = [...new Set([...flags, ...(owner ? (this.doc.owner.flags ?? []) : [])])].filter(
      (f) => !user.flags.includes(f),
    );
    return {
      id: user.id,
      ...(rename ? { name: draft.name! } : {}),
      addFlags,
      assignments: added,
    };
  }

  /** Whether every flag a row names is the catalog's (those that are not are reported on the row). */
  knownFlags(draft: Draft): boolean {
    const known = Object.keys(this.doc.flags ?? {});
    const unknown = draft.flags.filter((f) => !known.includes(f));
    if (unknown.length)
      this.problems.add(
        draft.row,
        'flags',
        `unknown flag${unknown.length > 1 ? 's' : ''} ${unknown.map((f) => `"${clip(f)}"`).join(', ')}; the catalog has: ${known.join(', ') || 'none'}`,
      );
    return !unknown.length;
  }

  /** Runs a rule for a row (its answer kept under `key` when given); a refusal is the row's problem. */
  private async check(
    row: number,
    column: string,
    key: string | null,
    rule: () => Promise<void>,
  ): Promise<boolean> {
    try {
      await (key === null ? rule() : this.once(key, rule));
      return true;
    } catch (err) {
      this.problems.caught(row, column, err);
      return false;
    }
  }

  private once(key: string, rule: () => Promise<void>): Promise<unknown> {
    let answer = this.memo.get(key);
    if (!answer) {
      answer = rule();
      answer.catch(() => {}); // kept for later rows; each caller sees the refusal
      this.memo.set(key, answer);
    }
    return answer;
  }
}

/**
 * What the rules on an existing user look at: whether they are locked or deleted, their flags and their
 * assignments (everything but their ids). Two users of one shape get the same answers.
 */
function shapeOf(subject: Subject): string {
  return JSON.stringify([
    !!subject.locked,
    !!subject.deleted,
    [...(subject.flags ?? [])].sort(),
    subject.assignments
      .map((a) =>
        JSON.stringify([
          a.role,
          a.locationId,
          a.teamId,
          a.personId,
          [...(a.groupIds ?? [])].sort(),
          a.expiresAt,
        ]),
      )
      .sort(),
  ]);
}

const scopeKey = (s: Scope) => (s.type === 'org' ? '' : `${s.type}:${s.id}`);

function unique(scopes: Scope[]): Scope[] {
  return [...new Map(scopes.map((s) => [scopeKey(s), s])).values()];
}
