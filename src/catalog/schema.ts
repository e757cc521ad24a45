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
  })
  .refine((e) => !(e.minRole && e.permission), { message: 'give minRole or permission, not both' });

const toolSpec = z.strictObject({
  name: text.optional(),
  description: text,
  permission: permissionRef,
  policy: z.enum(TOOL_MODES),
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
});

/** A catalog document as written in YAML, form-checked. */
export type CatalogDocument = z.infer<typeof catalogSchema>;
export type PermissionSpec = z.infer<typeof permissionSpec>;
export type RoleSpec = z.infer<typeof roleSpec>;
export type UiEntrySpec = z.infer<typeof uiEntrySpec>;
export type ToolSpec = z.infer<typeof toolSpec>;
