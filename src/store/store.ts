import type { Subject } from '../engine';
import { ApiKeys } from './api-keys';
import { Assignments, toEngineAssignment, type Assignment } from './assignments';
import { AUDIT_COLUMNS, auditFromRow, verifyAudit, type AuditEntry, type AuditVerdict } from './audit';
import { openDb, type Db, type DbConfig } from './db';
import { notFound, StoreError } from './errors';
import { isUuid } from './ids';
import { listMigrations, migrate } from './migrate';
import { Locations } from './locations';
import { Organizations } from './organizations';
import { Roles } from './roles';
import { Teams } from './teams';
import { ToolPolicies } from './tool-policies';
import { Users, type User } from './users';
import { Approvals } from './approvals';
import { Notifications, type NotificationsOptions } from './notifications';
import { recorder, writer, type Recorder, type VersionHooks, type Write } from './write';

/**
 * rolegate's durable store: a few small repositories over one database. Reads take an organization id
 * and never see another organization's rows; writes go through one unit of work (`write.ts`) that
 * bumps the organization's version and appends its audit entry in the same transaction.
 */
export class Store {
  readonly organizations: Organizations;
  readonly locations: Locations;
  readonly users: Users;
  readonly teams: Teams;
  readonly roles: Roles;
  readonly assignments: Assignments;
  readonly toolPolicies: ToolPolicies;
  readonly apiKeys: ApiKeys;
  readonly approvals: Approvals;
  /** The notification outbox, and where each organization and user is reached. */
  readonly notifications: Notifications;

  /** Every write, bumping the organization's version and appending its audit entry. */
  readonly write: Write;
  /** Audited changes that change no permission (approval transitions): no version bump. */
  readonly record: Recorder;

  /**
   * `versions`: how each write makes its version known to every replica (src/consistency/); without
   * it, readers learn versions from the database.
   */
  constructor(
    readonly db: Db,
    options: { versions?: VersionHooks; notifications?: NotificationsOptions } = {},
  ) {
    this.organizations = new Organizations(db);
    const write = writer((fn) => db.transaction(fn), { versions: options.versions, known: db.known });
    this.write = write;
    this.locations = new Locations(db, write);
    this.users = new Users(db, write);
    this.teams = new Teams(db, write);
    this.roles = new Roles(db, write);
    this.assignments = new Assignments(db, write);
    this.toolPolicies = new ToolPolicies(db, write);
    this.apiKeys = new ApiKeys(db, write);
    this.record = recorder((fn) => db.transaction(fn));
    this.approvals = new Approvals(db, this.record);
    this.notifications = new Notifications(db, this.record, options.notifications);
  }

  /**
   * What the engine needs to decide for each user: the user's state, flags, team memberships and
   * assignments. One entry per id in key order, null for a user that does not exist in this
   * organization. Two queries for any number of users.
   */
  async subjects(orgId: string, userIds: readonly string[]): Promise<(Subject | null)[]> {
    const [users, assignments] = await Promise.all([
      this.users.getManyWithTeams(orgId, userIds),
      this.assignments.forUsers(orgId, userIds),
    ]);
    return users.map((u, i) => (u ? subjectOf(u, assignments[i]!) : null));
  }

  /**
   * The users with what the engine needs to decide for each (`subjects`), one entry per id in key
   * order, null for a user that does not exist in this organization. Two queries for any number.
   */
  async usersWithSubjects(
    orgId: string,
    userIds: readonly string[],
  ): Promise<({ user: User; subject: Subject } | null)[]> {
    const [users, assignments] = await Promise.all([
      this.users.getManyWithTeams(orgId, userIds),
      this.assignments.forUsers(orgId, userIds),
    ]);
    return users.map((u, i) => {
      if (!u) return null;
      const { teamIds: _teams, ...user } = u;
      return { user, subject: subjectOf(u, assignments[i]!) };
    });
  }

  /** A page of an organization's audit log, oldest first, after sequence number `afterSeq`. */
  async auditLog(orgId: string, page: { afterSeq?: number; first: number }): Promise<AuditEntry[]> {
    if (!isUuid(orgId)) return [];
    const rows = await this.db.query<Parameters<typeof auditFromRow>[0]>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE org_id = $1 AND seq > $2 ORDER BY audit_log.seq LIMIT $3`,
      [orgId, page.afterSeq ?? 0, page.first],
    );
    return rows.map(auditFromRow);
  }

  /** Recomputes the organization's audit chain; names the first entry edited, deleted or reordered. */
  async verifyAudit(orgId: string): Promise<AuditVerdict> {
    if (!isUuid(orgId)) throw notFound('organization', orgId);
    // One snapshot: writes committing meanwhile (approvals, the expiry sweep) are not half seen.
    return this.db.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const [org] = await tx.query<{ seq: string }>(
        'SELECT audit_seq::text AS seq FROM organizations WHERE id = $1',
        [orgId],
      );
      if (!org) throw notFound('organization', orgId);
      return verifyAudit(tx, orgId, Number(org.seq));
    });
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** What the engine decides on for a user: state, flags, live team memberships, assignments. */
function subjectOf(u: User & { teamIds: string[] }, assignments: readonly Assignment[]): Subject {
  return {
    userId: u.id,
    locked: u.locked,
    deleted: u.deletedAt !== null,
    flags: u.flags,
    memberOf: u.teamIds,
    assignments: assignments.map(toEngineAssignment),
  };
}

/**
 * Opens the store. The embedded store applies pending migrations itself; PostgreSQL must have been
 * migrated (`rolegate migrate`) unless `migrate` is true.
 */
export async function openStore(
  config: DbConfig & { migrate?: boolean },
  options: { versions?: VersionHooks } = {},
): Promise<Store> {
  const db = await openDb(config);
  try {
    if (db.kind === 'pglite' || config.migrate) {
      await migrate(db);
    } else {
      const pending = await pendingMigrations(db);
      if (pending.length) {
        throw new StoreError(
          'UNAVAILABLE',
          `the database needs migrations ${pending.join(', ')}: run \`rolegate migrate\``,
        );
      }
    }
  } catch (err) {
    await db.close();
    throw err;
  }
  return new Store(db, options);
}

export async function pendingMigrations(db: Db): Promise<number[]> {
  const [table] = await db.query<{ name: string | null }>(
    `SELECT to_regclass('schema_migrations')::text AS name`,
  );
  const applied = new Set(
    table?.name
      ? (await db.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) =>
          Number(r.version),
        )
      : [],
  );
  return listMigrations()
    .map((m) => m.version)
    .filter((v) => !applied.has(v));
}
