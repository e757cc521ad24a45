import { isObjectType, Kind, parse, print, type DirectiveNode } from 'graphql';
import { buildSchema } from '../../src/api/schema';
import { rolegate } from '../support/cli';

/** `rolegate schema print`: the SDL with every @requires (and @authenticated), in a catalog's words. */

/** `Type.field` → its guard directives as printed, from the SDL's object types and their extensions. */
function guardDirectives(sdl: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const d of parse(sdl).definitions) {
    if (d.kind !== Kind.OBJECT_TYPE_DEFINITION && d.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    for (const f of d.fields ?? []) {
      const guards = (f.directives ?? []).filter((x: DirectiveNode) =>
        ['requires', 'authenticated'].includes(x.name.value),
      );
      if (guards.length)
        found.set(
          `${d.name.value}.${f.name.value}`,
          guards.map((g) => print(g)),
        );
    }
  }
  return found;
}

const { schema } = buildSchema();

/** The served schema's guard directives, from its fields' own SDL nodes. */
const written = new Map<string, string[]>();
for (const type of Object.values(schema.getTypeMap())) {
  if (!isObjectType(type) || type.name.startsWith('__')) continue;
  for (const field of Object.values(type.getFields())) {
    const guards = (field.astNode?.directives ?? []).filter((x) =>
      ['requires', 'authenticated'].includes(x.name.value),
    );
    if (guards.length)
      written.set(
        `${type.name}.${field.name}`,
        guards.map((g) => print(g)),
      );
  }
}

test.each([
  [[], "the catalog's permission for CREATE_USER"],
  [['--preset', 'juno'], '**Requires** `settings_user:create` (*Create a new user*)'],
])('schema print %j parses, and carries every @requires of the served schema', async (args, createUser) => {
  const r = await rolegate(['schema', 'print', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  // Every @requires and @authenticated the served schema's SDL writes, printed where it was written.
  expect(guardDirectives(r.stdout)).toEqual(written);
  expect(written.size).toBeGreaterThan(60);
  expect(r.stdout).toContain('directive @requires(');
  expect(r.stdout).toContain(createUser);
});

test('schema print --preset names a bad catalog file and fails', async () => {
  const r = await rolegate(['schema', 'print', '--preset', 'no-such-catalog.yaml']);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('no-such-catalog.yaml');
  expect(r.stdout).toBe('');
});
