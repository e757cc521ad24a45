import { valueFromASTUntyped, type GraphQLField, type GraphQLSchema } from 'graphql';
import { OPERATIONS, type Operation } from '../../catalog';
import type { Operation as OperationEnum } from '../generated/graphql';

/** What one field of the SDL needs, as its directive says. */
export interface Guard {
  type: string;
  field: string;
  kind: 'requires' | 'authenticated';
  operation?: Operation;
  permission?: string;
  /** Argument path naming a user: asking about oneself needs nothing more. */
  self?: string;
  /** Argument paths naming the locations the permission is needed at (default: the root). */
  location?: string[];
  /** Argument path naming the team the permission is needed at, item by item with the first `location`. */
  team?: string;
  /** Argument path (or `parent.<field>`) naming a user acted on: covered, or for viewUsers, visible. */
  target?: string;
  /** Argument path naming an assignment: needed at its scope, its user covered. */
  assignment?: string;
  /** Argument path (or `parent.id`) naming a team: its members pass without the permission. */
  member?: string;
  serviceScope?: string;
  /** Argument path naming an approval request the viewer must hold `approvalRole` on. */
  approval?: string;
  approvalRole?: 'approver' | 'party' | 'canceller';
  /** The permission held somewhere passes; the operation checks each item's scopes (importUsers). */
  somewhere?: boolean;
}

/** `CREATE_USER` → `createUser`: the SDL's enum values are the catalog's operation names. */
export function operationOf(enumValue: string): Operation | undefined {
  const name = enumValue.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return (OPERATIONS as readonly string[]).includes(name) ? (name as Operation) : undefined;
}

/** `createUser` → `CREATE_USER`: the inverse of `operationOf`, for fields that list operations. */
export function operationEnum(operation: Operation): OperationEnum {
  return operation.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase() as OperationEnum;
}

/** Every `@requires` / `@authenticated` of the schema's object fields. */
export function readGuards(schema: GraphQLSchema): Guard[] {
  const guards: Guard[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || !('getFields' in type) || !('isTypeOf' in type)) continue;
    for (const field of Object.values(type.getFields()) as GraphQLField<unknown, unknown>[]) {
      for (const directive of field.astNode?.directives ?? []) {
        const name = directive.name.value;
        if (name !== 'requires' && name !== 'authenticated') continue;
        const args = Object.fromEntries(
          (directive.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]),
        ) as Record<string, string | string[] | undefined>;
        const guard: Guard = { type: type.name, field: field.name, kind: name };
        if (args.operation !== undefined) {
          const op = operationOf(String(args.operation));
          if (!op)
            throw new Error(
              `${type.name}.${field.name}: @requires names an unknown operation ${args.operation}`,
            );
          guard.operation = op;
        }
        for (const key of [
          'permission',
          'self',
          'team',
          'target',
          'assignment',
          'member',
          'serviceScope',
          'approval',
        ] as const)
          if (args[key] !== undefined) guard[key] = String(args[key]);
        if (args.somewhere !== undefined) guard.somewhere = (args.somewhere as unknown) === true;
        if (args.approvalRole !== undefined)
          guard.approvalRole = String(args.approvalRole).toLowerCase() as Guard['approvalRole'];
        // A list argument written as one string in the SDL is a list of one.
        if (args.location !== undefined) guard.location = [args.location].flat();
        guards.push(guard);
      }
    }
  }
  return guards;
}

/**
 * Values at an argument path: `input.userId` → [args.input.userId]; through a list
 * (`inputs.userId`) → one value per item. Missing values come back as undefined.
 */
export function valuesAt(args: unknown, path: string): unknown[] {
  let values: unknown[] = [args];
  for (const part of path.split('.')) {
    values = values.flatMap((v) => {
      const next = v == null ? undefined : (v as Record<string, unknown>)[part];
      return Array.isArray(next) ? next : [next];
    });
  }
  return values;
}
