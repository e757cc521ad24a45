import { gql, newTenant, type TestGateway } from './gateway';

/**
 * The three frontend personas of issue 13, each in its own organization, made through the API as an
 * owner would (the example app's Chromium test and bench/frontend/run.ts share them):
 *   - JRNI: a User at London (Parent company > London) limited to one staff member, staff-7;
 *   - Junto: a Technician;
 *   - Juno: a member (org role) of two teams, Web (Project manager + Triager) and Mobile (Triager +
 *     Developer): priorities can be created in Web only, where Edit project comes from the same team.
 */
export interface Persona {
  name: 'jrni-user' | 'junto-technician' | 'juno-member';
  preset: 'jrni' | 'junto' | 'juno';
  orgId: string;
  userId: string;
  token: string;
  ownerToken: string;
  /** Where the app asks for capabilities (the JRNI User's location); undefined: the organization. */
  locationId?: string;
  /** Named places the persona setup created (London, Web, Mobile…), by name. */
  places: Record<string, string>;
}

export interface Personas {
  jrni: Persona;
  junto: Persona;
  juno: Persona;
}

/** Sends a GraphQL request and throws on any error: setting up must not half-succeed silently. */
export async function must(
  t: TestGateway,
  token: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<Record<string, any>> {
  const r = await gql(t.url, token, query, variables);
  if (r.errors || !r.data) throw new Error(`${query}\n${r.status} ${r.raw.slice(0, 500)}`);
  return r.data;
}

export async function createUser(
  t: TestGateway,
  token: string,
  email: string,
  name: string,
  assignments: object[],
) {
  const d = await must(t, token, `mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }`, {
    i: { email, name, assignments },
  });
  return d.createUser.user.id as string;
}

export async function createLocation(t: TestGateway, token: string, name: string, parentId?: string) {
  const d = await must(
    t,
    token,
    `mutation($i: CreateLocationInput!) { createLocation(input: $i) { location { id } } }`,
    { i: { name, parentId } },
  );
  return d.createLocation.location.id as string;
}

export async function createTeam(t: TestGateway, token: string, name: string) {
  const d = await must(
    t,
    token,
    `mutation($n: String!) { createTeam(input: { name: $n }) { team { id } } }`,
    {
      n: name,
    },
  );
  return d.createTeam.team.id as string;
}

export async function createPersonas(t: TestGateway): Promise<Personas> {
  const jrniOrg = await newTenant(t, 'jrni', 'JRNI demo');
  const parent = await createLocation(t, jrniOrg.ownerToken, 'Parent company');
  const london = await createLocation(t, jrniOrg.ownerToken, 'London', parent);
  const jrniUser = await createUser(t, jrniOrg.ownerToken, 'sam@jrni.example', 'Sam (staff-7)', [
    { role: 'user', locationId: london, personId: 'staff-7' },
  ]);

  const juntoOrg = await newTenant(t, 'junto', 'Junto demo');
  const tech = await createUser(t, juntoOrg.ownerToken, 'tess@junto.example', 'Tess', [
    { role: 'technician' },
  ]);

  const junoOrg = await newTenant(t, 'juno', 'Juno demo');
  const web = await createTeam(t, junoOrg.ownerToken, 'Web');
  const mobile = await createTeam(t, junoOrg.ownerToken, 'Mobile');
  const member = await createUser(t, junoOrg.ownerToken, 'mo@juno.example', 'Mo', [
    { role: 'member' },
    { role: 'project_manager', teamId: web },
    { role: 'triager', teamId: web },
    { role: 'triager', teamId: mobile },
    { role: 'developer', teamId: mobile },
  ]);

  return {
    jrni: {
      name: 'jrni-user',
      preset: 'jrni',
      orgId: jrniOrg.orgId,
      userId: jrniUser,
      token: await t.token(jrniOrg.orgId, jrniUser),
      ownerToken: jrniOrg.ownerToken,
      locationId: london,
      places: { 'Parent company': parent, London: london },
    },
    junto: {
      name: 'junto-technician',
      preset: 'junto',
      orgId: juntoOrg.orgId,
      userId: tech,
      token: await t.token(juntoOrg.orgId, tech),
      ownerToken: juntoOrg.ownerToken,
      places: {},
    },
    juno: {
      name: 'juno-member',
      preset: 'juno',
      orgId: junoOrg.orgId,
      userId: member,
      token: await t.token(junoOrg.orgId, member),
      ownerToken: junoOrg.ownerToken,
      places: { Web: web, Mobile: mobile },
    },
  };
}
