import {
  getNullableType,
  isInputObjectType,
  isListType,
  isNonNullType,
  type GraphQLArgument,
  type GraphQLInputType,
} from 'graphql';
import type { CatalogDocument } from '../../catalog';
import { operationEnum, type Guard } from '../guards/directives';

/**
 * What a guarded field needs, in words, for its description: what an API explorer (GraphiQL, the
 * Sandbox, Postman) shows on every field. Derived from the field's `@requires` / `@authenticated` guard
 * (src/api/guards/directives.ts) exactly as the guards decide it (src/api/guards/shield.ts and
 * src/decisions/access.ts), and named in an organization's catalog: `createUser` needs `user:create` in
 * JRNI, `user:invite` in Junto and `settings_user:create` in Juno. Without a catalog (no credentials,
 * `rolegate schema print` without a preset) an operation is named by its enum value: "the catalog's
 * permission for CREATE_USER".
 *
 * Scopes are named as the administration rules decide them: a location's permission may be held there
 * or above it (cascade), a team's in the team or organization-wide, and acting on an existing user needs
 * covering them wherever they hold a role.
 */
export function describeRequirement(
  guard: Guard,
  field: { args: readonly GraphQLArgument[] },
  catalog: CatalogDocument | null,
): string {
  const self = guard.self ? ` ${selfNote(guard)}` : '';
  if (guard.kind === 'authenticated')
    return '**Requires** signing in: any active user of the organization, or one of its API keys.';
  if (guard.approval && guard.approvalRole) return approvalRequirement(guard, catalog);
  const key = guard.serviceScope ? `, or an API key with \`${guard.serviceScope}\`` : '';
  if (!guard.operation && !guard.permission)
    return `**Requires** ${guard.type === 'Mutation' ? 'acting for yourself' : 'asking about yourself'} (${code(guard.self!)} your own id, or left out)${key}.`;

  const what = permissionPhrase(guard, catalog);
  const { where, more } = scopePhrase(guard, field);
  if (!what) {
    const name = operationEnum(guard.operation!);
    const keyPasses = guard.serviceScope ? ` An API key with \`${guard.serviceScope}\` passes.` : '';
    const member = more.filter((m) => m.startsWith('A member')).map((m) => ` ${m}`);
    return `**Not available** in this organization: its catalog names no permission for ${name}, so no user may.${keyPasses}${member.join('')}${self}`;
  }
  return `**Requires** ${what} ${where}${key}.${more.map((m) => ` ${m}`).join('')}${self}`;
}

/** `settings_user:create` (*Create a new user*), or the generic "the catalog's permission for CREATE_USER". */
function permissionPhrase(guard: Guard, catalog: CatalogDocument | null): string | null {
  if (guard.operation && !catalog) return `the catalog's permission for ${operationEnum(guard.operation)}`;
  const permission = guard.operation ? catalog!.operations?.[guard.operation] : guard.permission!;
  if (!permission) return null;
  return named(permission, catalog);
}

/** A permission with its description in the catalog: `module:action` (*what it allows*). */
function named(permission: string, catalog: CatalogDocument | null): string {
  const [module, action] = permission.split(':') as [string, string];
  const description = catalog?.permissions[module]?.[action]?.description;
  return description ? `${code(permission)} (*${sentence(description)}*)` : code(permission);
}

/** Where the permission is needed, as the guard's arguments name it, and what else is asked or passes. */
function scopePhrase(
  guard: Guard,
  field: { args: readonly GraphQLArgument[] },
): { where: string; more: string[] } {
  const more: string[] = [];
  let where: string;
  if (guard.somewhere)
    where =
      'at the organization, or at a location or team where you hold a role (each item then needs it at its own scope)';
  else if (guard.location?.length || guard.team) where = scopesAt(guard, field);
  else if (guard.assignment) {
    where = `at the scope of the assignment given by ${code(guard.assignment)} (its location, or above it; its team)`;
    more.push(`You must cover its user: ${COVER}.`);
  } else if (guard.target && guard.operation === 'viewUsers')
    where = `at the organization, or at a location or team where ${whom(guard.target)} holds a role`;
  else if (guard.target) {
    where = `wherever ${whom(guard.target)} holds a role (none: at the organization)`;
    more.push(`You must cover them: ${COVER}; an active owner covers everyone.`);
  } else where = 'at the organization';
  if (guard.target && guard.operation !== 'viewUsers' && (guard.location?.length || guard.team))
    more.push(`You must cover ${whom(guard.target)}: ${COVER}.`);
  if (guard.target?.startsWith('parent.') && guard.operation === 'viewUsers' && !guard.self)
    more.push('You may always see your own.');
  if (guard.member)
    more.push(
      guard.member.startsWith('parent.')
        ? 'A member of this team needs nothing.'
        : `A member of the team given by ${code(guard.member)} needs nothing.`,
    );
  return { where, more };
}

/** Covering a user (SPEC.md "Administration rules"), in words. */
const COVER = 'hold, wherever they hold a role, every permission they hold there';

/**
 * The scopes named by `location` (each path: a location, where a grant there or above it counts) and
 * `team` (item by item with the first location: a team wins over its location).
 */
function scopesAt(guard: Guard, field: { args: readonly GraphQLArgument[] }): string {
  const locations = guard.location ?? [];
  const each = (path: string) => (isListPath(field, path) ? 'each location' : 'the location');
  const optional = [...locations, ...(guard.team ? [guard.team] : [])].some((p) => isOptionalPath(field, p));
  const none = optional ? ' (none given: at the organization)' : '';
  if (guard.team && locations.length) {
    const [first, ...rest] = locations as [string, ...string[]];
    const team = isListPath(field, guard.team) ? 'each team' : 'the team';
    const also = rest.map((p) => ` and at ${each(p)} given by ${code(p)}, or above it`).join('');
    return `in ${team} given by ${code(guard.team)} (or at the organization) where one is given, else at ${each(first)} given by ${code(first)}, or above it${also}${none}`;
  }
  if (guard.team) {
    const team = isListPath(field, guard.team) ? 'each team' : 'the team';
    return `in ${team} given by ${code(guard.team)}, or at the organization${none}`;
  }
  const named = locations.map((p) =>
    p.startsWith('parent.')
      ? `at the location given by its ${code(p.slice('parent.'.length))}`
      : `at ${each(p)} given by ${code(p)}`,
  );
  return `${named.join(' and ')}, or above ${named.length > 1 ? 'them' : 'it'}${none}`;
}

function whom(target: string): string {
  return target.startsWith('parent.') ? 'this user' : `the user given by ${code(target)}`;
}

function selfNote(guard: Guard): string {
  if (guard.type === 'Mutation') return 'You may always do it for yourself.';
  if (guard.type === 'Query' || guard.type === 'Subscription') return 'You may always ask about yourself.';
  return 'You may always see your own.';
}

/** The approval transitions: who the viewer must be to the request, and the kinds the catalog declares. */
function approvalRequirement(guard: Guard, catalog: CatalogDocument | null): string {
  const request = `the request given by ${code(guard.approval!)}`;
  const kinds = Object.entries(catalog?.approvals ?? {});
  if (guard.approvalRole === 'party') return `**Requires** being the subject or the requester of ${request}.`;
  if (guard.approvalRole === 'approver') {
    const list = catalog
      ? kinds.length
        ? ` In this catalog: ${kinds.map(([, k]) => `${holder(k.approvedBy, catalog)} for ${k.name}`).join('; ')}.`
        : ' This catalog declares no kind of approval request.'
      : '';
    return `**Requires** what approves the kind of ${request} (the catalog's \`approvedBy\`), at the request's location or above it, and being neither its subject nor its requester.${list}`;
  }
  const managed = kinds.filter(([, k]) => k.managedBy);
  const list = catalog
    ? managed.length
      ? ` In this catalog: ${managed.map(([, k]) => `${named(k.managedBy!, catalog)} for ${k.name}`).join('; ')}.`
      : ' In this catalog no kind has one.'
    : '';
  return `**Requires** being the subject or the requester of ${request}, or holding its kind's \`managedBy\` permission at the request's location or above it.${list}`;
}

/** An approver: a permission, or the holders of a flag (`flag:<key>`). */
function holder(ref: string, catalog: CatalogDocument): string {
  if (!ref.startsWith('flag:')) return named(ref, catalog);
  const key = ref.slice('flag:'.length);
  const flag = catalog.flags?.[key];
  return `the flag ${code(key)}${flag ? ` (*${sentence(flag.name)}*)` : ''}`;
}

/** The input type at an argument path (`input.assignments.locationId`), with whether a list was crossed. */
function typeAt(
  field: { args: readonly GraphQLArgument[] },
  path: string,
): { type: GraphQLInputType; list: boolean } | null {
  const [name, ...rest] = path.split('.');
  let type: GraphQLInputType | undefined = field.args.find((a) => a.name === name)?.type;
  let list = false;
  for (const part of rest) {
    if (!type) return null;
    let inner = getNullableType(type);
    if (isListType(inner)) {
      list = true;
      inner = getNullableType(inner.ofType);
    }
    type = isInputObjectType(inner) ? inner.getFields()[part]?.type : undefined;
  }
  if (!type) return null;
  if (isListType(getNullableType(type))) list = true;
  return { type, list };
}

function isListPath(field: { args: readonly GraphQLArgument[] }, path: string): boolean {
  return !path.startsWith('parent.') && (typeAt(field, path)?.list ?? false);
}

/** A path whose value may be left out (each segment nullable from the leaf): the organization then. */
function isOptionalPath(field: { args: readonly GraphQLArgument[] }, path: string): boolean {
  if (path.startsWith('parent.')) return false;
  const at = typeAt(field, path);
  return !at || !isNonNullType(at.type) || at.list;
}

const code = (text: string) => `\`${text}\``;

/** A catalog's sentence inside a parenthesis: no final full stop. */
const sentence = (text: string) => text.trim().replace(/\.$/, '');
