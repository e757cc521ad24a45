/**
 * The gateway's administrative operations. A catalog says which of its permissions guards each one
 * (`operations:`), so that Juno's "Settings - User: Create", Junto's "Admin: invite users" and JRNI's
 * "only Owners create users" are each honoured by their own preset. An operation a catalog leaves out
 * is refused for everyone (deny by default).
 */
export const OPERATIONS = [
  // reading the organization and deciding for others
  'viewUsers',
  'viewRoles',
  'checkOthers',
  'viewAudit',
  // teams and their members (a member reads their own teams without it)
  'viewTeams',
  // locations
  'createLocation',
  'moveLocation',
  'deleteLocation',
  // users
  'createUser',
  'updateUser',
  'importUsers',
  'deleteUser',
  'undeleteUser',
  'lockUser',
  'unlockUser',
  'setUserFlags',
  // teams
  'createTeam',
  'updateTeam',
  'deleteTeam',
  'undeleteTeam',
  // roles and assignments
  'createRole',
  'updateRole',
  'cloneRole',
  'deleteRole',
  'undeleteRole',
  'assignRole',
  'revokeAssignment',
  // the organization
  'transferOwnership',
  'setToolPolicy',
  // approvals: where approvers are told (Slack bot token, Teams webhook)
  'manageNotifications',
] as const;

export type Operation = (typeof OPERATIONS)[number];
