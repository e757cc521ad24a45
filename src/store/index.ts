/** The durable store: PostgreSQL or embedded PGlite behind the same repositories. */
export { Store, openStore, pendingMigrations } from './store';
export { countingDb, KnownVersions, openDb, type Db, type DbConfig, type Queryable } from './db';
export { migrate, listMigrations } from './migrate';
export { asError, notFound, StoreError, type StoreErrorCode } from './errors';
export { isUuid } from './ids';
export { Organizations } from './organizations';
export {
  WRITE_DEADLINE_MS,
  type WriteContext,
  type Written,
  type Invariant,
  type VersionHooks,
  type Entry,
  type Recorder,
} from './write';
export type { Organization } from './organizations';
export type { Location } from './locations';
export { isEmail, type User, type ImportedUser, type ImportedUpdate } from './users';
export type { Team } from './teams';
export { roleSpec, type CustomRole, type RoleInput } from './roles';
export { toEngineAssignment, type Assignment, type AssignInput, type HolderQuery } from './assignments';
export { EFFECTIVE_OWNER_SQL, isActiveOwner, isOwnerAssignment } from './owners';
export { canonicalJson, type AuditEntry, type AuditVerdict } from './audit';
export { ApiKeys, gatewaySecret, SERVICE_SCOPES, type ApiKey } from './api-keys';
export {
  APPROVAL_STATUSES,
  TransitionRefused,
  refusal as approvalRefusal,
  type ApprovalRequest,
  type ApprovalStatus,
  type Recipient,
  type Visibility,
} from './approvals';
export {
  Notifications,
  type Notification,
  type NotificationSettings,
  type NotificationAddresses,
  type NotificationsOptions,
} from './notifications';
