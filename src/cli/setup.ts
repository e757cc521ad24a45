import { loadPreset, type Catalog } from '../catalog';
import type { Store } from '../store';

/**
 * A new organization with its owner: the organization (from a preset or a catalog file), the owner's
 * user with the catalog's owner flags, and the owner role organization-wide. Run by the CLI, before
 * any owner exists, so without the API's invariants (the result satisfies them).
 */
export async function createOrganization(
  store: Store,
  input: { preset: string; name: string; ownerEmail: string; ownerName?: string },
): Promise<{ orgId: string; ownerId: string; catalog: Catalog }> {
  const catalog = loadPreset(input.preset);
  const doc = catalog.document;
  const { result: org } = await store.organizations.create(
    { name: input.name, catalogName: doc.catalog, catalogSource: catalog.text },
    'cli',
  );
  const ctx = { orgId: org.id, actor: 'cli' };
  const { result: owner } = await store.users.create(ctx, {
    email: input.ownerEmail,
    name: input.ownerName ?? null,
    flags: doc.owner.flags ?? [],
    roles: [doc.owner.role],
  });
  return { orgId: org.id, ownerId: owner.id, catalog };
}

/** One demo user as the first-start banner lists them: their email and what they hold, in words. */
export interface DemoUser {
  email: string;
  /** e.g. "administrator at Parent company", "technician; flag billing_admin", "developer in Web". */
  role: string;
}

/** A demo organization for a preset: its owner, a few locations or teams, and users in each role. */
export async function seedDemo(
  store: Store,
  preset: 'junto' | 'juno' | 'jrni',
  ownerEmail = `owner@${preset}.example`,
) {
  const { orgId, ownerId, catalog } = await createOrganization(store, {
    preset,
    name: `${preset} demo`,
    ownerEmail,
    ownerName: 'Demo Owner',
  });
  const ctx = { orgId, actor: 'cli' };
  const people: Record<string, string> = {};
  const emailById = new Map([[ownerId, ownerEmail]]);
  // What each user holds, in words, in the order they were made.
  const holds = new Map<string, string[]>([
    [ownerEmail, [`${catalog.document.owner.role} (organization-wide)`]],
  ]);
  const note = (email: string, what: string) => holds.set(email, [...(holds.get(email) ?? []), what]);
  const user = async (email: string, name: string, roles: string[] = [], flags: string[] = []) => {
    people[email] = (await store.users.create(ctx, { email, name, roles, flags })).result.id;
    emailById.set(people[email]!, email);
    holds.set(email, []);
    for (const role of roles) note(email, role);
    for (const flag of flags) note(email, `flag ${flag}`);
    return people[email]!;
  };
  const emailOf = (userId: string) => emailById.get(userId)!;
  const locations: Record<string, string> = {};
  const teams: Record<string, string> = {};

  if (preset === 'jrni') {
    const parent = (await store.locations.create(ctx, { name: 'Parent company' })).result.id;
    locations.parent = parent;
    for (const city of ['London', 'Leeds', 'Bristol'])
      locations[city.toLowerCase()] = (
        await store.locations.create(ctx, { name: city, parentId: parent })
      ).result.id;
    const placeName = (id: string) =>
      id === parent ? 'Parent company' : Object.keys(locations).find((k) => locations[k] === id)!;
    const give = async (
      userId: string,
      role: string,
      locationId: string,
      extra: { personId?: string } = {},
    ) => {
      const place = placeName(locationId);
      const where = place === 'Parent company' ? place : place[0]!.toUpperCase() + place.slice(1);
      note(emailOf(userId), `${role} at ${where}${extra.personId ? ` (limited to ${extra.personId})` : ''}`);
      return store.assignments.assign(ctx, { userId, roleKey: role, locationId, ...extra });
    };
    await give(await user('admin@jrni.example', 'Ada Admin'), 'administrator', parent);
    await give(await user('manager@jrni.example', 'Max Manager'), 'manager', locations.london!);
    await give(await user('userplus@jrni.example', 'Uma Plus'), 'user_plus', locations.leeds!, {
      personId: 'staff-uma',
    });
    await give(await user('user@jrni.example', 'Ursula User'), 'user', locations.bristol!);
    await give(await user('callcenter@jrni.example', 'Cal Center'), 'call_center', parent);
  } else if (preset === 'junto') {
    await user('admin@junto.example', 'Ada Admin', ['admin']);
    await user('manager@junto.example', 'Max Manager', ['manager']);
    await user('operator@junto.example', 'Otto Operator', ['operator'], ['escalation_approver']);
    await user('tech@junto.example', 'Tess Technician', ['technician'], ['billing_admin']);
  } else {
    for (const name of ['Web', 'Mobile'])
      teams[name.toLowerCase()] = (await store.teams.create(ctx, { name })).result.id;
    const dev = await user('dev@juno.example', 'Dana Developer', ['member']);
    const qa = await user('qa@juno.example', 'Quinn Tester', ['member']);
    await user('billing@juno.example', 'Bill Manager', ['billing_manager']);
    for (const [userId, role, team] of [
      [dev, 'developer', 'web'],
      [dev, 'triager', 'web'],
      [qa, 'tester', 'web'],
      [qa, 'tester', 'mobile'],
      [ownerId, 'project_manager', 'web'],
    ] as const) {
      // A team role makes its holder a member of the team.
      await store.assignments.assign(ctx, { userId, roleKey: role, teamId: teams[team]! });
      note(emailOf(userId), `${role} in ${team[0]!.toUpperCase()}${team.slice(1)}`);
    }
  }
  const users: DemoUser[] = [...holds].map(([email, what]) => ({ email, role: what.join('; ') }));
  return { orgId, ownerId, people, locations, teams, users };
}
