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

/** A demo organization for a preset: its owner, a few locations or teams, and users in each role. */
export async function seedDemo(
  store: Store,
  preset: 'junto' | 'juno' | 'jrni',
  ownerEmail = `owner@${preset}.example`,
) {
  const { orgId, ownerId } = await createOrganization(store, {
    preset,
    name: `${preset} demo`,
    ownerEmail,
    ownerName: 'Demo Owner',
  });
  const ctx = { orgId, actor: 'cli' };
  const people: Record<string, string> = {};
  const user = async (email: string, name: string, roles: string[] = [], flags: string[] = []) => {
    people[email] = (await store.users.create(ctx, { email, name, roles, flags })).result.id;
    return people[email]!;
  };
  const locations: Record<string, string> = {};
  const teams: Record<string, string> = {};

  if (preset === 'jrni') {
    const parent = (await store.locations.create(ctx, { name: 'Parent company' })).result.id;
    locations.parent = parent;
    for (const city of ['London', 'Leeds', 'Bristol'])
      locations[city.toLowerCase()] = (
        await store.locations.create(ctx, { name: city, parentId: parent })
      ).result.id;
    const give = async (
      userId: string,
      role: string,
      locationId: string,
      extra: { personId?: string } = {},
    ) => store.assignments.assign(ctx, { userId, roleKey: role, locationId, ...extra });
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
    }
  }
  return { orgId, ownerId, people, locations, teams };
}
