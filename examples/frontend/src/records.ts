/**
 * Records a real app would load from its own backend, each with where it lives: here a fixed list, one
 * or two per preset, to show `<Can>` deciding on them with the viewer's rules. `place` names a location
 * or team among the viewer's scopes (none: the organization); a record in a place the viewer does not
 * hold anything is left out of the list.
 */
export interface DemoRecord {
  /** The element's data-testid is `record-<id>`. */
  id: string;
  label: string;
  /** The CASL action: `module:action`, `tool:<name>`, `page:<key>`… */
  action: string;
  place?: string;
  personId?: string;
}

export const RECORDS: DemoRecord[] = [
  // JRNI: a User limited to staff-7 sees their own staff member's calendar, not a colleague's.
  {
    id: 'staff-7-calendar',
    label: "staff-7's calendar",
    action: 'calendar:view',
    place: 'London',
    personId: 'staff-7',
  },
  {
    id: 'staff-8-calendar',
    label: "staff-8's calendar",
    action: 'calendar:view',
    place: 'London',
    personId: 'staff-8',
  },
  // Junto: agent tools, as the organization's policy makes of them.
  { id: 'tool-update-ticket', label: 'Agent: update a ticket', action: 'tool:update_ticket' },
  {
    id: 'tool-execute-runbook',
    label: 'Agent: run a runbook (asks for approval)',
    action: 'request_approval:tool:execute_runbook',
  },
  { id: 'tool-invoices', label: 'Agent: send invoices', action: 'tool:invoices' },
  // Juno: team roles are summed within one team: a Triager creates priorities only where the same team
  // also gives Edit project.
  { id: 'web-priority', label: 'Web: create a priority', action: 'project_priority:create', place: 'Web' },
  {
    id: 'mobile-priority',
    label: 'Mobile: create a priority',
    action: 'project_priority:create',
    place: 'Mobile',
  },
  { id: 'mobile-issue', label: 'Mobile: edit an issue', action: 'project_issues:edit', place: 'Mobile' },
];
