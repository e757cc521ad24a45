import { Kind, parse, print, type DirectiveNode } from 'graphql';
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

const { schema, guards } = buildSchema();

test.each([
  [[], "the catalog's permission for CREATE_USER"],
  [['--preset', 'juno'], '**Requires** `settings_user:create` (*Create a new user*)'],
])('schema print %j parses, and carries every @requires of the served schema', async (args, createUser) => {
  const r = await rolegate(['schema', 'print', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const printed = guardDirectives(r.stdout);
  // The served schema's own directives, as its SDL files write them.
  for (const g of guards) {
    const type = schema.getType(g.type) as {
      getFields(): Record<string, { astNode?: { directives?: readonly DirectiveNode[] } }>;
    };
    const own = (type.getFields()[g.field]!.astNode!.directives ?? [])
      .filter((x) => x.name.value === g.kind)
      .map((x) => print(x));
    expect([`${g.type}.${g.field}`, printed.get(`${g.type}.${g.field}`)]).toEqual([
      `${g.type}.${g.field}`,
      own,
    ]);
  }
  expect(printed.size).toBe(new Set(guards.map((g) => `${g.type}.${g.field}`)).size);
  expect(r.stdout).toContain('directive @requires(');
  expect(r.stdout).toContain(createUser);
});

test('schema print --preset names a bad catalog file and fails', async () => {
  const r = await rolegate(['schema', 'print', '--preset', 'no-such-catalog.yaml']);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('no-such-catalog.yaml');
  expect(r.stdout).toBe('');
});
