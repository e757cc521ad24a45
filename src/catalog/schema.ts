import { z } from 'zod';
import { OPERATIONS } from './operations';

/**
 * The shape of a catalog document (`catalogs/*.yaml`). This file checks form only; references between
 * parts (a grant naming a permission, a role inheriting another) are checked in `validate.ts`.
 */

const KEY = /^[a-z][a-z0-9_]*$/;
const PERMISSION = /^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$/;
const GRANT = /^[a-z][a-z0-9_]*:([a-z][a-z0-9_]*|\*)$/;

const key = z.string().regex(KEY, 'expected a snake_case key (a-z, 0-9 and _, starting with a letter)');
const permissionRef = z.string().regex(PERMISSION, 'expected a permission "module:action" in snake_case');
const grantRef = z
  .string()
  .regex(GRANT, 'expected a permission "module:action" (or "module:*" for every action of a module)');
const text = z.string().trim().min(1, 'expected a non-empty text');

export const ROLE_KINDS = ['org', 'location', 'team'] as const;
export type RoleKind = (typeof ROLE_KINDS)[number];

export const TOOL_MODES = ['auto', 'require_approval', 'deny'] as const;
export type ToolMode = (typeof TOOL_MODES)[number];

const permissionSpec = z.strictObject({
  description: text,
  /** Effective only where every one of these is effective too (rule 7). */
  requires: z.array(permissionRef).optional(),
  /** The flag alone grants it, whatever the roles (rule 6). */
  grantedByFlag: key.optional(),
  /** Roles grant it only while the user has this flag (rule 6). */
  requiresFlag: key.optional(),
});

const roleSpec = z.strictObject({
  name: text,
  description: text.optional(),
  kind: z.enum(ROLE_KINDS),
  inherits: z.array(key).optional(),
  grants: z.array(grantRef).optional(),
  /**
   * Grants that hold only for the staff person an assignment of the role is restricted to (`personId`),
   * on resources of that person (rule 5; JRNI's "depends on if the user is assigned to a staff member").
   * An assignment naming no person gets none of them. Inherited like `grants`. Default none.
   */
  ownPersonGrants: z.array(grantRef).optional(),
});

/** A page or a navigation module: shown where its permission is effective. */
const uiEntrySpec = z
  .strictObject({
    name: text,
    description: text.optional(),
    /** The page is granted to this role, and so to every role that inherits it (the ladder). */
    minRole: key.optional(),
    /** The page follows this permission: `page:x` is decided exactly as this permission is. */
    permission: permissionRef.optional(),
    /**
     * Pages only: the navigation module (a key of `navigation:`) that lists the page, for a menu that
     * groups its pages. Pages and modules are listed in the order the catalog writes them.
     */
    module: key.optional(),
  })
  .refine((e) => !(e.minRole && e.permission), { message: 'give minRole or permission, not both' });

const toolSpec = z.strictObject({
  name: text.optional(),
  description: text,
  permission: permissionRef,
  policy: z.enum(TOOL_MODES),
});

/** Who holds something: a permission `module:action`, or a flag `flag:<key>`. */
const holderRef = z
  .string()
  .regex(
    /^([a-z][a-z0-9_]*:[a-z][a-z0-9_]*)$/,
    'expected a permission "module:action", or "flag:<key>" for the holders of a flag',
  );

/** The longest any approval may live: 30 days. */
export const MAX_APPROVAL_LIFETIME_S = 30 * 24 * 3600;
const lifetime = z
  .number()
  .int('expected a whole number of seconds')
  .min(1, 'expected at least 1 second')
  .max(MAX_APPROVAL_LIFETIME_S, 'expected at most 2592000 seconds (30 days)');

/** A kind of approval request (SPEC.md "Approvals"): who approves it, who hears of it, how long it lives. */
const approvalSpec = z.strictObject({
  name: text,
  description: text,
  /** Approvers hold this (a permission at the request's scope, or a flag). */
  approvedBy: holderRef,
  /**
   * Holders of this (a permission at the request's scope) see the kind's requests and may cancel them,
   * without deciding them (Junto's "Manage escalations"). Default: nobody beyond the approvers.
   */
  managedBy: z.string().regex(PERMISSION, 'expected a permission "module:action" in snake_case').optional(),
  /** Who is notified when a request opens: holders of any of these. Default: the approvers. */
  notify: z.array(holderRef).optional(),
  /** A request lives this long unless its requester asks for less. */
  defaultLifetimeSeconds: lifetime,
  /** The longest a requester may ask for. */
  maxLifetimeSeconds: lifetime,
  /** Requests of this kind are opened by an agent tool's REQUIRES_APPROVAL decision (one kind at most). */
  onToolDecision: z.boolean().optional(),
  /** The subject must hold this at the request's scope to raise it. Default: any active member. */
  raisedWith: z.string().regex(PERMISSION, 'expected a permission "module:action" in snake_case').optional(),
});

const flagSpec = z.strictObject({
  name: text,
  description: text,
  default: z.boolean().optional(),
  /** At least one active user should hold it (Junto's Escalation Approver): a warning when none does. */
  atLeastOne: z.boolean().optional(),
});

export const catalogSchema = z.strictObject({
  catalog: key,
  name: text,
  description: text.optional(),
  owner: z.strictObject({
    /** The role whose holders own the organization (at least one active holder, always). */
    role: key,
    /** Flags an owner has on by default (Junto: Escalation Approver). */
    flags: z.array(key).optional(),
    /** What the previous owner keeps after `transferOwnership` (Junto: admin). Default: nothing. */
    formerRole: key.optional(),
  }),
  /** Roles given at the root to a user created without any (Junto: technician). Default none. */
  defaultRoles: z.array(key).optional(),
  /** Every user must hold at least one org role (Juno's "specific role"). Default false. */
  requireOrgRole: z.boolean().optional(),
  flags: z.record(key, flagSpec).optional(),
  permissions: z.record(key, z.record(key, permissionSpec)),
  roles: z.record(key, roleSpec),
  pages: z.record(key, uiEntrySpec).optional(),
  navigation: z.record(key, uiEntrySpec).optional(),
  tools: z.record(key, toolSpec).optional(),
  operations: z.partialRecord(z.enum(OPERATIONS), permissionRef).optional(),
  /** Kinds of approval request (Junto's agent tool use, Action Requests, escalations, recommendations). */
  approvals: z.record(key, approvalSpec).optional(),
});

/** A catalog document as written in YAML, form-checked. */
export type CatalogDocument = z.infer<typeof catalogSchema>;
export type PermissionSpec = z.infer<typeof permissionSpec>;
export type RoleSpec = z.infer<typeof roleSpec>;
export type UiEntrySpec = z.infer<typeof uiEntrySpec>;
export type ToolSpec = z.infer<typeof toolSpec>;
export type ApprovalSpec = z.infer<typeof approvalSpec>;
