import { preset, user } from '../support/engine';

/** Junto (shared/seeds/000): the ladder, page access by role, flags and agent tool policies. */
const { check, catalog } = preset('junto');

// Highest first, as in the seed's "Role Overview".
const LADDER = ['owner', 'admin', 'manager', 'operator', 'technician'] as const;
type Role = (typeof LADDER)[number];
const atOrAbove = (min: Role) => LADDER.slice(0, LADDER.indexOf(min) + 1) as readonly Role[];

// "Page Access by Role", as in the seed.
const PAGES = `
Dashboard    | Technician
AI Assistant | Technician
Companies    | Technician
Tickets      | Technician
Runbooks     | Technician
Advisor      | Technician
Timeline     | Manager
Efficiency   | Manager
Settings     | Admin
Billing      | Owner
`;

const pageCells = PAGES.trim()
  .split('\n')
  .flatMap((line) => {
    const [page, min] = line.split('|').map((s) => s.trim()) as [string, string];
    const permission = `page:${page.toLowerCase().replace(/ /g, '_')}`;
    const minRole = min.toLowerCase() as Role;
    return LADDER.map((role) => ({
      permission,
      role,
      expected: atOrAbove(minRole).includes(role) ? 'ALLOW' : 'DENY',
    }));
  });

describe('page access by role', () => {
  it('covers the whole table', () => expect(pageCells).toHaveLength(10 * 5));
  test.each(pageCells)('$role sees $permission: $expected', ({ role, permission, expected }) => {
    expect(check(user([{ role }]), { permission })).toBe(expected);
  });
});

// "What Each Role Can Do": each role's own list. Every role above it inherits the list; none below has it.
const ABILITIES: Record<Role, string[]> = {
  owner: ['billing:manage', 'organization:transfer_ownership'],
  admin: [
    'integration:manage',
    'user:invite',
    'user:update_role',
    'user:remove',
    'settings:manage',
    'ai_configuration:manage',
    'signal_processor:configure',
    'tool_policy:manage',
    'notification_channel:manage',
    'knowledge_base:manage',
    'service_catalog:configure',
    'intelligence_alert:configure',
    'weekly_summary:configure',
    'runbook_template:manage',
  ],
  manager: [
    'efficiency_dashboard:view',
    'technician_metrics:view',
    'timeline:view',
    'signal_analytics:view',
    'operational_report:view',
    'advisor_summary:view',
    'revenue_opportunity:view',
    'escalation:manage',
  ],
  operator: ['advisor_recommendation:approve', 'action_request:approve', 'tool_approval:handle'],
  technician: [
    'ticket:view',
    'ticket:interact',
    'runbook:view',
    'runbook:execute',
    'workflow:execute',
    'ai_assistant:use',
    'company:view',
    'dashboard:view',
  ],
};

const abilityCells = (Object.entries(ABILITIES) as [Role, string[]][]).flatMap(([listedFor, permissions]) =>
  permissions.flatMap((permission) =>
    LADDER.map((role) => ({
      listedFor,
      permission,
      role,
      expected: atOrAbove(listedFor).includes(role) ? 'ALLOW' : 'DENY',
    })),
  ),
);

test.each(abilityCells)(
  '$role / $permission (listed for $listedFor) → $expected',
  ({ role, permission, expected }) => {
    expect(check(user([{ role }]), { permission })).toBe(expected);
  },
);

describe('Advisor: visible to a Technician, approve/reject requires Operator', () => {
  test.each(
    LADDER.map((role) => ({ role, approve: atOrAbove('operator').includes(role) ? 'ALLOW' : 'DENY' })),
  )('$role: page ALLOW, approve $approve', ({ role, approve }) => {
    expect(check(user([{ role }]), { permission: 'page:advisor' })).toBe('ALLOW');
    expect(check(user([{ role }]), { permission: 'advisor_recommendation:approve' })).toBe(approve);
  });
});

describe('Billing Admin', () => {
  const FINANCIAL = ['tool:agreements', 'tool:invoices', 'tool:financial_reports'];

  it('a Technician with Billing Admin may use financial tools through the agent', () => {
    const tech = user([{ role: 'technician' }], { flags: ['billing_admin'] });
    expect(check(tech, { permission: 'finance:agent_tools' })).toBe('ALLOW');
    expect(FINANCIAL.map((permission) => check(tech, { permission }))).toEqual([
      'REQUIRES_APPROVAL',
      'REQUIRES_APPROVAL',
      'ALLOW',
    ]);
  });

  test.each(LADDER)('%s without Billing Admin may not', (role) => {
    const u = user([{ role }]);
    expect(check(u, { permission: 'finance:agent_tools' })).toBe('DENY');
    for (const permission of FINANCIAL) expect(check(u, { permission })).toBe('DENY');
  });

  it('works regardless of role, even with none, but not for a locked user', () => {
    expect(check(user([], { flags: ['billing_admin'] }), { permission: 'tool:financial_reports' })).toBe(
      'ALLOW',
    );
    expect(
      check(user([{ role: 'owner' }], { flags: ['billing_admin'], locked: true }), {
        permission: 'tool:financial_reports',
      }),
    ).toBe('DENY');
  });

  it('does not open billing pages or billing management', () => {
    const tech = user([{ role: 'technician' }], { flags: ['billing_admin'] });
    expect(check(tech, { permission: 'page:billing' })).toBe('DENY');
    expect(check(tech, { permission: 'billing:manage' })).toBe('DENY');
  });
});

describe('Escalation Approver', () => {
  test.each(LADDER)('%s approves escalations only with the flag', (role) => {
    expect(check(user([{ role }]), { permission: 'escalation:approve' })).toBe('DENY');
    expect(
      check(user([{ role }], { flags: ['escalation_approver'] }), { permission: 'escalation:approve' }),
    ).toBe('ALLOW');
    expect(
      check(user([{ role }], { flags: ['escalation_approver'] }), {
        permission: 'escalation:receive_notifications',
      }),
    ).toBe('ALLOW');
  });

  it('is on by default for the organization owner', () => {
    expect(catalog.catalog.document.owner).toEqual({
      role: 'owner',
      flags: ['escalation_approver'],
      formerRole: 'admin',
    });
  });
});

describe('agent tool policies', () => {
  const tech = user([{ role: 'technician' }]);

  test.each([
    [undefined, 'ALLOW'],
    ['auto', 'ALLOW'],
    ['require_approval', 'REQUIRES_APPROVAL'],
    ['deny', 'DENY'],
  ] as const)('update_ticket with the organization policy %s → %s', (policy, expected) => {
    expect(check(tech, { permission: 'tool:update_ticket' }, policy ? { update_ticket: policy } : {})).toBe(
      expected,
    );
  });

  it('a policy never grants a tool to someone without its permission', () => {
    expect(check(user([]), { permission: 'tool:update_ticket' }, { update_ticket: 'auto' })).toBe('DENY');
    expect(check(user([{ role: 'owner' }]), { permission: 'tool:invoices' }, { invoices: 'auto' })).toBe(
      'DENY',
    );
  });

  it('uses the catalog default when the organization set none', () => {
    expect(check(tech, { permission: 'tool:execute_runbook' })).toBe('REQUIRES_APPROVAL');
  });
});
