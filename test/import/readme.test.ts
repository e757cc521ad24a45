import { readFileSync } from 'node:fs';
import { parse, validate } from 'graphql';
import { buildUnguardedSchema } from '../../src/api/schema';
import { readImportFile, readTable } from '../../src/import';

/** The README's "Importing users" examples: a valid operation, and a file the reader reads as shown. */
const readme = readFileSync('README.md', 'utf8');
const section = readme.slice(readme.indexOf('### Importing users'), readme.indexOf('### Approvals'));
const block = (lang: string) => new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section)?.[1];

test('the GraphQL example is valid against the served schema', () => {
  const errors = validate(buildUnguardedSchema(), parse(block('graphql')!));
  expect(errors.map((e) => e.message)).toEqual([]);
});

test('the CSV example reads as three users, with ; separators and a quoted list of roles', async () => {
  const { rows, problems } = readTable((await readImportFile('csv', block('csv')!)).rows);
  expect(problems).toEqual([]);
  expect(rows.map((r) => [r.cells.email, r.cells.roles])).toEqual([
    ['ann@acme.example', 'user@Parent company/London'],
    ['bob@acme.example', 'manager@Leeds; user@6f1c…'],
    ['cat@acme.example', 'administrator'],
  ]);
});
