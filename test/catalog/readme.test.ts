import { readFileSync } from 'node:fs';
import { compileCatalog, decide, parseCatalog, UserGrants } from '../../src';

/** The catalog example in the README must stay a valid catalog that means what the README says. */
it('the README catalog example is valid and behaves as described', () => {
  const readme = readFileSync('README.md', 'utf8');
  const yaml = /```yaml\n(catalog:[\s\S]*?)```/.exec(readme)?.[1];
  expect(yaml).toBeDefined();
  const catalog = compileCatalog(parseCatalog(yaml!, 'README.md'));
  const now = Date.now();
  const ask = (
    assignments: { role: string; teamId?: string }[],
    permission: string,
    flags: string[] = [],
    teamIds?: string[],
  ) =>
    decide(
      catalog,
      new UserGrants(
        catalog,
        {
          userId: 'u',
          flags,
          memberOf: assignments.flatMap((a) => (a.teamId ? [a.teamId] : [])),
          assignments: assignments.map((a, i) => ({ id: `a${i}`, ...a })),
        },
        now,
      ),
      { permission, teamIds },
    );
  expect(ask([{ role: 'technician' }], 'page:tickets')).toBe('ALLOW');
  expect(ask([{ role: 'owner' }], 'page:exports')).toBe('DENY'); // requiresFlag
  expect(ask([{ role: 'owner' }], 'page:exports', ['billing_admin'])).toBe('ALLOW');
  expect(ask([], 'tool:invoices', ['billing_admin'])).toBe('REQUIRES_APPROVAL');
  expect(ask([{ role: 'lead', teamId: 't' }], 'project_priority:create', [], ['t'])).toBe('ALLOW');
  expect(ask([{ role: 'lead', teamId: 't' }], 'project_priority:create', [], ['u'])).toBe('DENY');
  expect(catalog.toolApproval).toMatchObject({ kind: 'tool_use', approvedBy: 'project:edit' });
});
