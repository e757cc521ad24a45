import { compileCatalog, decide, loadPreset, parseCatalog, UserGrants } from '../../src';
import { listMigrations, StoreError, type Store, type Team } from '../../src/store';
import { writer } from '../../src/store/write';
import { BACKENDS, newOrg, openTestStore } from '../support/stores';

/**
 * One contract, two backends: every test below runs against PGlite (in a temp folder) and a real
 * PostgreSQL. Each test works in an organization of its own.
 */
describe.each(BACKENDS)('store contract on %s', (backend) => {
  let store: Store;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ store, close } = await openTestStore(backend));
  });
  afterAll(() => close());

  const version = async (orgId: string) => (await store.organizations.versions([orgId]))[0];
  const auditCount = async (orgId: string) => (await store.auditLog(orgId, { first: 100_000 })).length;
  const rejects = async (p: Promise<unknown>, code: string) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe(code);
    expect((err as StoreError).message).not.toMatch(
      /\b(SELECT|INSERT|UPDATE|DELETE FROM)\b|violates|constraint "|\$\d/,
    );
  };

  describe('organizations', () => {
    it('start at version 1 with their creation in the audit log', async () => {
      const { orgId } = await newOrg(store, 'Acme');
      const org = await store.organizations.get(orgId);
      expect(org).toMatchObject({ name: 'Acme', catalogName: 'jrni', version: '1' });
      expect(parseCatalog(org!.catalogSource).document.catalog).toBe('jrni');
      expect(await store.auditLog(orgId, { first: 10 })).toEqual([
        expect.objectContaining({ seq: 1, action: 'createOrganization', actor: 'test' }),
      ]);
    });

    it('versions are loaded in key order, null for unknown and malformed ids', async () => {
      const a = await newOrg(store);
      const b = await newOrg(store);
      await store.users.create(b.ctx, { email: 'x@example.com' });
      expect(
        await store.organizations.versions([
          b.orgId,
          'not-a-uuid',
          a.orgId,
          '00000000-0000-4000-8000-000000000000',
        ]),
      ).toEqual(['2', null, '1', null]);
    });
  });

  describe('every write', () => {
    it('bumps the version by one and appends one audit entry with who, what, before and after', async () => {
      const { orgId, ctx } = await newOrg(store);
      const created = await store.users.create(ctx, { email: 'ann@example.com', name: 'Ann' });
      const locked = await store.users.lock(ctx, created.result.id);
      expect([created.version, locked.version]).toEqual(['2', '3']);
      const log = await store.auditLog(orgId, { first: 10 });
      expect(log.map((e) => [e.seq, e.action, e.target, e.actor, e.requestId])).toEqual([
        [1, 'createOrganization', `organization:${orgId}`, 'test', null],
        [2, 'createUser', `user:${created.result.id}`, 'test', 'req-test'],
        [3, 'lockUser', `user:${created.result.id}`, 'test', 'req-test'],
      ]);
      expect(log[2]!.before).toMatchObject({ locked: false, email: 'ann@example.com' });
      expect(log[2]!.after).toMatchObject({ locked: true });
      expect(log[2]!.prevHash).toBe(log[1]!.hash);
      expect(await store.verifyAudit(orgId)).toEqual({ ok: true, checked: 3, version: 3 });
    });
  });

  describe('locations', () => {
    it('form a tree whose paths load in one batch, nearest first, in key order', async () => {
      const { orgId, ctx } = await newOrg(store);
      const parent = (await store.locations.create(ctx, { name: 'Parent' })).result;
      const child = (await store.locations.create(ctx, { name: 'Child', parentId: parent.id })).result;
      const grand = (await store.locations.create(ctx, { name: 'Grand', parentId: child.id })).result;
      expect(await store.locations.paths(orgId, [grand.id, 'nope', parent.id, child.id])).toEqual([
        [grand.id, child.id, parent.id],
        null,
        [parent.id],
        [child.id, parent.id],
      ]);
      expect((await store.locations.children(orgId, parent.id)).map((l) => l.name)).toEqual(['Child']);
    });

    it('move with their whole subtree', async () => {
      const { orgId, ctx } = await newOrg(store);
      const a = (await store.locations.create(ctx, { name: 'A' })).result;
      const b = (await store.locations.create(ctx, { name: 'B' })).result;
      const a1 = (await store.locations.create(ctx, { name: 'A1', parentId: a.id })).result;
      const a11 = (await store.locations.create(ctx, { name: 'A11', parentId: a1.id })).result;
      const moved = await store.locations.move(ctx, { id: a1.id, parentId: b.id });
      expect(moved.result).toMatchObject({ parentId: b.id, path: [b.id, a1.id] });
      expect(await store.locations.paths(orgId, [a11.id, a1.id, a.id])).toEqual([
        [a11.id, a1.id, b.id],
        [a1.id, b.id],
        [a.id],
      ]);
      await store.locations.move(ctx, { id: a1.id, parentId: null });
      expect(await store.locations.paths(orgId, [a11.id])).toEqual([[a11.id, a1.id]]);
    });

    it('cannot move under themselves, and the refused move leaves nothing', async () => {
      const { orgId, ctx } = await newOrg(store);
      const a = (await store.locations.create(ctx, { name: 'A' })).result;
      const a1 = (await store.locations.create(ctx, { name: 'A1', parentId: a.id })).result;
      const before = await version(orgId);
      await rejects(store.locations.move(ctx, { id: a.id, parentId: a1.id }), 'INVALID');
      await rejects(store.locations.move(ctx, { id: a.id, parentId: a.id }), 'INVALID');
      expect(await version(orgId)).toBe(before);
      expect(await store.locations.paths(orgId, [a1.id])).toEqual([[a1.id, a.id]]);
    });

    it('are deleted only when nothing hangs on them', async () => {
      const { orgId, ctx } = await newOrg(store);
      const a = (await store.locations.create(ctx, { name: 'A' })).result;
      const a1 = (await store.locations.create(ctx, { name: 'A1', parentId: a.id })).result;
      const user = (await store.users.create(ctx, { email: 'u@example.com' })).result;
      const given = (
        await store.assignments.assign(ctx, { userId: user.id, roleKey: 'user', locationId: a1.id })
      ).result;
      await rejects(store.locations.delete(ctx, a.id), 'CONFLICT');
      await rejects(store.locations.delete(ctx, a1.id), 'CONFLICT');
      await store.assignments.revoke(ctx, given.id);
      await store.locations.delete(ctx, a1.id);
      await store.locations.delete(ctx, a.id);
      expect(await store.locations.getMany(orgId, [a.id, a1.id])).toEqual([null, null]);
      await rejects(store.locations.create(ctx, { name: 'X', parentId: a.id }), 'NOT_FOUND');
    });
  });

  describe('users', () => {
    it('have unique addresses (case-insensitive), flags, lock and soft delete', async () => {
      const { orgId, ctx } = await newOrg(store);
      const ann = (await store.users.create(ctx, { email: 'Ann@Example.com', flags: ['b', 'a', 'b'] }))
        .result;
      expect(ann.flags).toEqual(['a', 'b']);
      await rejects(store.users.create(ctx, { email: 'ann@example.COM' }), 'CONFLICT');
      await rejects(store.users.create(ctx, { email: 'not an address' }), 'INVALID');
      await store.users.setFlags(ctx, ann.id, ['billing_admin']);
      await store.users.update(ctx, { id: ann.id, name: 'Ann B.' });
      await store.users.lock(ctx, ann.id);
      await store.users.delete(ctx, ann.id);
      expect((await store.users.getMany(orgId, [ann.id]))[0]).toMatchObject({
        name: 'Ann B.',
        flags: ['billing_admin'],
        locked: true,
        deletedAt: expect.any(Date),
      });
      await store.users.undelete(ctx, ann.id);
      await store.users.unlock(ctx, ann.id);
      expect((await store.users.getMany(orgId, [ann.id]))[0]).toMatchObject({
        locked: false,
        deletedAt: null,
      });
      expect(await store.users.byEmail(orgId, 'ANN@example.com')).toMatchObject({ id: ann.id });
      await rejects(store.users.lock(ctx, '00000000-0000-4000-8000-000000000000'), 'NOT_FOUND');
      await rejects(store.users.lock(ctx, 'garbage'), 'NOT_FOUND');
    });

    it('load in key order, and page by cursor without gaps', async () => {
      const { orgId, ctx } = await newOrg(store);
      const ids: string[] = [];
      for (let i = 0; i < 7; i++)
        ids.push((await store.users.create(ctx, { email: `u${i}@example.com` })).result.id);
      const loaded = await store.users.getMany(orgId, [ids[3]!, 'x', ids[0]!]);
      expect(loaded.map((u) => u?.id ?? null)).toEqual([ids[3], null, ids[0]]);
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.users.list(orgId, { first: 3, after });
        seen.push(...page.map((u) => u.id));
        if (page.length < 3) break;
        after = page[page.length - 1]!.id;
      }
      expect(seen.sort()).toEqual([...ids].sort());
    });
  });

  describe('teams, roles, assignments and tool policies', () => {
    it('give the engine what it needs, in two queries per batch', async () => {
      const { orgId, ctx } = await newOrg(store);
      const parent = (await store.locations.create(ctx, { name: 'Parent' })).result;
      const child = (await store.locations.create(ctx, { name: 'Child', parentId: parent.id })).result;
      const team = (await store.teams.create(ctx, { name: 'Web' })).result;
      const ann = (await store.users.create(ctx, { email: 'ann@example.com' })).result;
      const bob = (await store.users.create(ctx, { email: 'bob@example.com', flags: ['f'] })).result;
      const expires = new Date(Date.now() + 3_600_000);
      await store.assignments.assign(ctx, { userId: ann.id, roleKey: 'owner', locationId: parent.id });
      await store.assignments.assign(ctx, {
        userId: bob.id,
        roleKey: 'user',
        teamId: team.id,
        personId: 'p1',
        groupIds: ['g1', 'g1'],
        expiresAt: expires,
      });
      await store.teams.addMember(ctx, team.id, bob.id);

      const [a, missing, b] = await store.subjects(orgId, [ann.id, 'nope', bob.id]);
      expect(missing).toBeNull();
      expect(a).toEqual({
        userId: ann.id,
        locked: false,
        deleted: false,
        flags: [],
        memberOf: [],
        assignments: [expect.objectContaining({ role: 'owner', locationId: parent.id, teamId: null })],
      });
      expect(b!.memberOf).toEqual([team.id]);
      expect(b!.assignments).toEqual([
        expect.objectContaining({
          role: 'user',
          teamId: team.id,
          personId: 'p1',
          groupIds: ['g1'],
          expiresAt: expires.getTime(),
        }),
      ]);
      expect(await store.teams.membershipsOf(orgId, [bob.id, ann.id])).toEqual([[team.id], []]);

      // End to end through the engine: an Owner at the parent is Owner at the child.
      const catalog = compileCatalog(loadPreset('jrni'));
      const [path] = await store.locations.paths(orgId, [child.id]);
      expect(
        decide(catalog, new UserGrants(catalog, a!, Date.now()), {
          permission: 'user:create',
          locationPath: path!,
        }),
      ).toBe('ALLOW');
    });

    it('a deleted team takes its team assignments and memberships out until restored', async () => {
      const { orgId, ctx } = await newOrg(store);
      const team = (await store.teams.create(ctx, { name: 'Web' })).result;
      const u = (await store.users.create(ctx, { email: 'u@example.com' })).result;
      await store.assignments.assign(ctx, { userId: u.id, roleKey: 'developer', teamId: team.id });
      await store.teams.addMember(ctx, team.id, u.id);
      await store.teams.delete(ctx, team.id);
      expect((await store.subjects(orgId, [u.id]))[0]!.assignments).toEqual([]);
      expect(await store.teams.membershipsOf(orgId, [u.id])).toEqual([[]]);
      await store.teams.undelete(ctx, team.id);
      expect((await store.subjects(orgId, [u.id]))[0]!.assignments).toHaveLength(1);
      await store.teams.update(ctx, { id: team.id, name: 'Web 2' });
      expect((await store.teams.getMany(orgId, [team.id]))[0]!.name).toBe('Web 2');
      await store.teams.removeMember(ctx, team.id, u.id);
      await rejects(store.teams.removeMember(ctx, team.id, u.id), 'NOT_FOUND');
    });

    it('a team role makes its holder a member in the same write; leaving a team takes its roles, audited', async () => {
      const { orgId, ctx } = await newOrg(store);
      const [web, ops] = [
        (await store.teams.create(ctx, { name: 'Web' })).result,
        (await store.teams.create(ctx, { name: 'Ops' })).result,
      ];
      const u = (await store.users.create(ctx, { email: 'u@example.com' })).result;
      const v0 = Number(await version(orgId));
      const dev = (
        await store.assignments.assign(ctx, { userId: u.id, roleKey: 'developer', teamId: web.id })
      ).result;
      expect(Number(await version(orgId))).toBe(v0 + 1); // one write
      expect((await store.subjects(orgId, [u.id]))[0]!.memberOf).toEqual([web.id]);
      const [joined] = (await store.auditLog(orgId, { first: 100 })).slice(-1);
      expect(joined).toMatchObject({ action: 'assignRole', after: { id: dev.id, joinedTeam: web.id } });
      // A second role in the same team: already a member, nothing more to say.
      await store.assignments.assign(ctx, { userId: u.id, roleKey: 'tester', teamId: web.id });
      const [again] = (await store.auditLog(orgId, { first: 100 })).slice(-1);
      expect(again!.after).not.toHaveProperty('joinedTeam');
      await store.assignments.assign(ctx, { userId: u.id, roleKey: 'viewer', teamId: ops.id });
      expect((await store.subjects(orgId, [u.id]))[0]!.memberOf).toEqual([web.id, ops.id].sort());

      // A user created with team roles is a member of those teams.
      const w = (
        await store.users.create(ctx, {
          email: 'w@example.com',
          roles: ['member'],
          assignments: [{ roleKey: 'viewer', teamId: ops.id }],
        })
      ).result;
      expect((await store.subjects(orgId, [w.id]))[0]!.memberOf).toEqual([ops.id]);
      expect((await store.auditLog(orgId, { first: 100 })).slice(-1)[0]!.after).toMatchObject({
        joinedTeams: [ops.id],
      });

      // Leaving Web takes both Web roles, and only those, in one audited write.
      const v1 = Number(await version(orgId));
      const { result } = await store.teams.removeMember(ctx, web.id, u.id);
      expect(Number(await version(orgId))).toBe(v1 + 1);
      expect(result.revoked.map((a) => a.roleKey).sort()).toEqual(['developer', 'tester']);
      const [subject] = await store.subjects(orgId, [u.id]);
      expect(subject!.memberOf).toEqual([ops.id]);
      expect(subject!.assignments.map((a) => `${a.role}@${a.teamId}`)).toEqual([`viewer@${ops.id}`]);
      const [left] = (await store.auditLog(orgId, { first: 100 })).slice(-1);
      expect(left).toMatchObject({
        action: 'removeTeamMember',
        target: `team:${web.id}`,
        before: {
          teamId: web.id,
          userId: u.id,
          assignments: expect.arrayContaining([expect.objectContaining({ roleKey: 'developer' })]),
        },
        after: { teamId: web.id, userId: u.id, member: false },
      });
      expect((left!.before as { assignments: unknown[] }).assignments).toHaveLength(2);
      expect(await store.verifyAudit(orgId)).toMatchObject({ ok: true });
    });

    it('teams and their members are listed page by page in id order', async () => {
      const { orgId, ctx } = await newOrg(store);
      const teams: Team[] = [];
      for (const name of ['A', 'B', 'C']) teams.push((await store.teams.create(ctx, { name })).result);
      await store.teams.delete(ctx, teams[1]!.id);
      const ids = teams.map((t) => t.id).sort();
      const live = teams
        .filter((t) => t !== teams[1])
        .map((t) => t.id)
        .sort();
      expect((await store.teams.list(orgId, { first: 10 })).map((t) => t.id)).toEqual(live);
      expect((await store.teams.list(orgId, { first: 10, includeDeleted: true })).map((t) => t.id)).toEqual(
        ids,
      );
      const [first] = await store.teams.list(orgId, { first: 1, includeDeleted: true });
      expect(
        (await store.teams.list(orgId, { first: 10, after: first!.id, includeDeleted: true })).map(
          (t) => t.id,
        ),
      ).toEqual(ids.slice(1));
      // Another organization's teams are not listed.
      expect(
        await store.teams.list((await newOrg(store)).orgId, { first: 10, includeDeleted: true }),
      ).toEqual([]);

      const users = [];
      for (const e of ['a', 'b', 'c'])
        users.push((await store.users.create(ctx, { email: `${e}@x.test` })).result);
      for (const u of users.slice(0, 2)) await store.teams.addMember(ctx, teams[0]!.id, u.id);
      await store.teams.addMember(ctx, teams[2]!.id, users[2]!.id);
      const members = users
        .slice(0, 2)
        .map((u) => u.id)
        .sort();
      const memberIds = (lists: { id: string }[][]) => lists.map((l) => l.map((u) => u.id));
      // Several teams, pages and cursors in one call, one list per page in key order.
      expect(
        memberIds(
          await store.users.membersOfTeams(orgId, [
            { teamId: teams[0]!.id, first: 10 },
            { teamId: teams[0]!.id, first: 1 },
            { teamId: teams[0]!.id, after: members[0], first: 10 },
            { teamId: 'not-a-uuid', first: 10 },
            { teamId: teams[2]!.id, first: 10 },
            { teamId: teams[1]!.id, first: 10 },
            { teamId: teams[0]!.id, after: 'not-a-uuid', first: 10 },
          ]),
        ),
      ).toEqual([members, members.slice(0, 1), members.slice(1), [], [users[2]!.id], [], []]);
      // Another organization sees no members of these teams.
      const other = await newOrg(store);
      expect(await store.users.membersOfTeams(other.orgId, [{ teamId: teams[0]!.id, first: 10 }])).toEqual([
        [],
      ]);
    });

    it('migration 005 makes the holders of team roles members of their teams', async () => {
      const { orgId, ctx } = await newOrg(store);
      const team = (await store.teams.create(ctx, { name: 'Web' })).result;
      const u = (await store.users.create(ctx, { email: 'u@example.com' })).result;
      await store.assignments.assign(ctx, { userId: u.id, roleKey: 'developer', teamId: team.id });
      // As a team role given before memberships counted: no membership row.
      await store.db.query('DELETE FROM team_members WHERE org_id = $1', [orgId]);
      expect((await store.subjects(orgId, [u.id]))[0]!.memberOf).toEqual([]);
      await store.db.exec(listMigrations().find((m) => m.version === 5)!.sql);
      expect((await store.subjects(orgId, [u.id]))[0]!.memberOf).toEqual([team.id]);
    });

    it('custom roles are created, updated, deleted and restored', async () => {
      const { orgId, ctx } = await newOrg(store);
      await store.roles.create(ctx, {
        key: 'front_desk',
        name: 'Front desk',
        kind: 'location',
        grants: ['customer:manage'],
      });
      await rejects(
        store.roles.create(ctx, { key: 'front_desk', name: 'Again', kind: 'location', grants: [] }),
        'CONFLICT',
      );
      await rejects(
        store.roles.create(ctx, { key: 'Bad Key', name: 'X', kind: 'location', grants: [] }),
        'INVALID',
      );
      await rejects(
        store.roles.create(ctx, { key: 'x', name: 'X', kind: 'galaxy' as never, grants: [] }),
        'INVALID',
      );
      await store.roles.update(ctx, 'front_desk', {
        name: 'Front desk',
        inherits: ['user'],
        grants: ['checkin:manage'],
      });
      await store.roles.create(
        ctx,
        { key: 'front_desk_2', name: 'Copy', kind: 'location', grants: ['checkin:manage'] },
        'cloneRole',
      );
      await store.roles.delete(ctx, 'front_desk');
      expect((await store.roles.list(orgId)).map((r) => r.key)).toEqual(['front_desk_2']);
      expect((await store.roles.list(orgId, { includeDeleted: true })).map((r) => r.key)).toEqual([
        'front_desk',
        'front_desk_2',
      ]);
      const restored = await store.roles.undelete(ctx, 'front_desk');
      expect(restored.result).toMatchObject({
        inherits: ['user'],
        grants: ['checkin:manage'],
        deletedAt: null,
      });
      await rejects(store.roles.delete(ctx, 'nope'), 'NOT_FOUND');
      expect((await store.auditLog(orgId, { first: 100 })).map((e) => e.action)).toContain('cloneRole');
    });

    it('tool policies override per organization', async () => {
      const { orgId, ctx } = await newOrg(store);
      await store.toolPolicies.set(ctx, 'invoices', 'deny');
      await store.toolPolicies.set(ctx, 'invoices', 'auto');
      await store.toolPolicies.set(ctx, 'agreements', 'require_approval');
      expect(await store.toolPolicies.get(orgId)).toEqual({
        invoices: 'auto',
        agreements: 'require_approval',
      });
      await rejects(store.toolPolicies.set(ctx, 'x', 'sometimes' as never), 'INVALID');
    });

    it('an assignment names a location or a team, not both', async () => {
      const { ctx } = await newOrg(store);
      const l = (await store.locations.create(ctx, { name: 'L' })).result;
      const t = (await store.teams.create(ctx, { name: 'T' })).result;
      const u = (await store.users.create(ctx, { email: 'u@example.com' })).result;
      await rejects(
        store.assignments.assign(ctx, { userId: u.id, roleKey: 'user', locationId: l.id, teamId: t.id }),
        'INVALID',
      );
    });
  });

  describe('a failed write leaves nothing behind', () => {
    it('on a constraint violation: no row, no version, no audit entry', async () => {
      const { orgId, ctx } = await newOrg(store);
      const v = await version(orgId);
      const n = await auditCount(orgId);
      await rejects(
        store.assignments.assign(ctx, { userId: '00000000-0000-4000-8000-000000000000', roleKey: 'owner' }),
        'NOT_FOUND',
      );
      await rejects(store.users.create(ctx, { email: 'x'.repeat(400) + '@example.com' }), 'INVALID');
      expect(await version(orgId)).toBe(v);
      expect(await auditCount(orgId)).toBe(n);
    });

    it('on an error thrown midway: the rows written before it are gone too', async () => {
      const { orgId, ctx } = await newOrg(store);
      const write = writer((fn) => store.db.transaction(fn));
      const v = await version(orgId);
      await expect(
        write(ctx, 'createUser', async (tx) => {
          await tx.query(
            `INSERT INTO users (org_id, id, email) VALUES ($1, gen_random_uuid(), 'ghost@example.com')`,
            [orgId],
          );
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.users.byEmail(orgId, 'ghost@example.com')).toBeNull();
      expect(await version(orgId)).toBe(v);
      expect(await store.verifyAudit(orgId)).toMatchObject({ ok: true });
    });

    it('a write to an organization that does not exist is NOT_FOUND', async () => {
      await rejects(
        store.users.create(
          { orgId: '00000000-0000-4000-8000-000000000000', actor: 't' },
          { email: 'a@example.com' },
        ),
        'NOT_FOUND',
      );
      await rejects(
        store.users.create({ orgId: 'garbage', actor: 't' }, { email: 'a@example.com' }),
        'NOT_FOUND',
      );
    });
  });

  it('50 parallel assign/revoke calls on one user end consistent, with gapless versions and an entry each', async () => {
    const { orgId, ctx } = await newOrg(store);
    const u = (await store.users.create(ctx, { email: 'busy@example.com' })).result;
    const existing = [];
    for (let i = 0; i < 25; i++)
      existing.push((await store.assignments.assign(ctx, { userId: u.id, roleKey: 'user' })).result.id);
    const start = Number(await version(orgId));
    const calls = [
      ...existing.map((id) => store.assignments.revoke(ctx, id)),
      ...Array.from({ length: 25 }, (_, i) =>
        store.assignments.assign(ctx, { userId: u.id, roleKey: i % 2 ? 'manager' : 'user_plus' }),
      ),
    ];
    const results = await Promise.all(calls);
    const versions = results.map((r) => Number(r.version)).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 50 }, (_, i) => start + 1 + i));
    const left = (await store.subjects(orgId, [u.id]))[0]!.assignments;
    expect(left.map((a) => a.id).sort()).toEqual(
      results
        .slice(25)
        .map((r) => (r.result as { id: string }).id)
        .sort(),
    );
    expect(left.map((a) => a.role).sort()).toEqual(
      [...Array(13).fill('user_plus'), ...Array(12).fill('manager')].sort(),
    );
    const log = await store.auditLog(orgId, { afterSeq: start, first: 100 });
    expect(log.map((e) => e.seq)).toEqual(versions);
    expect(log.filter((e) => e.action === 'revokeAssignment')).toHaveLength(25);
    expect(await store.verifyAudit(orgId)).toEqual({ ok: true, checked: start + 50, version: start + 50 });
  });

  describe('tampering with the audit log is detected', () => {
    const withHistory = async () => {
      const o = await newOrg(store);
      for (let i = 0; i < 6; i++) await store.users.create(o.ctx, { email: `t${i}@example.com` });
      expect(await store.verifyAudit(o.orgId)).toMatchObject({ ok: true, version: 7 });
      return o;
    };
    const sql = (text: string, params: unknown[]) => store.db.query(text, params);

    it('an edited entry', async () => {
      const { orgId } = await withHistory();
      await sql(`UPDATE audit_log SET actor = 'mallory' WHERE org_id = $1 AND seq = 3`, [orgId]);
      expect(await store.verifyAudit(orgId)).toMatchObject({
        ok: false,
        firstBad: { seq: 3, problem: 'its content was edited' },
      });
    });

    it('an edited entry whose hash was recomputed breaks the next link', async () => {
      const { orgId } = await withHistory();
      await sql(
        `UPDATE audit_log SET actor = 'mallory', hash = repeat('a', 64) WHERE org_id = $1 AND seq = 3`,
        [orgId],
      );
      expect((await store.verifyAudit(orgId)).firstBad?.seq).toBe(3);
    });

    it('a deleted entry', async () => {
      const { orgId } = await withHistory();
      await sql(`DELETE FROM audit_log WHERE org_id = $1 AND seq = 4`, [orgId]);
      expect(await store.verifyAudit(orgId)).toMatchObject({
        ok: false,
        firstBad: { seq: 4, problem: 'entry 4 is missing (the next is 5)' },
      });
    });

    it('a deleted last entry', async () => {
      const { orgId } = await withHistory();
      await sql(`DELETE FROM audit_log WHERE org_id = $1 AND seq = 7`, [orgId]);
      expect(await store.verifyAudit(orgId)).toMatchObject({
        ok: false,
        firstBad: { seq: 7, problem: 'entries 7 to 7 are missing' },
      });
    });

    it('two entries swapped', async () => {
      const { orgId } = await withHistory();
      await sql(`UPDATE audit_log SET seq = 1000 WHERE org_id = $1 AND seq = 5`, [orgId]);
      await sql(`UPDATE audit_log SET seq = 5 WHERE org_id = $1 AND seq = 6`, [orgId]);
      await sql(`UPDATE audit_log SET seq = 6 WHERE org_id = $1 AND seq = 1000`, [orgId]);
      expect(await store.verifyAudit(orgId)).toMatchObject({ ok: false, firstBad: { seq: 5 } });
    });
  });

  it('no call with organization A’s id reads or changes organization B’s rows', async () => {
    const a = await newOrg(store, 'A');
    const b = await newOrg(store, 'B');
    const bLoc = (await store.locations.create(b.ctx, { name: 'B loc' })).result;
    const bTeam = (await store.teams.create(b.ctx, { name: 'B team' })).result;
    const bUser = (await store.users.create(b.ctx, { email: 'b@example.com' })).result;
    const bGiven = (
      await store.assignments.assign(b.ctx, { userId: bUser.id, roleKey: 'owner', locationId: bLoc.id })
    ).result;
    await store.roles.create(b.ctx, { key: 'b_role', name: 'B role', kind: 'location', grants: [] });
    await store.toolPolicies.set(b.ctx, 'invoices', 'auto');
    const aUser = (await store.users.create(a.ctx, { email: 'a@example.com' })).result;
    const bVersion = await version(b.orgId);

    // Reads.
    expect(await store.users.getMany(a.orgId, [bUser.id])).toEqual([null]);
    expect(await store.users.byEmail(a.orgId, 'b@example.com')).toBeNull();
    expect(await store.locations.paths(a.orgId, [bLoc.id])).toEqual([null]);
    expect(await store.locations.children(a.orgId, null)).toEqual([]);
    expect(await store.teams.getMany(a.orgId, [bTeam.id])).toEqual([null]);
    expect(await store.assignments.forUsers(a.orgId, [bUser.id])).toEqual([[]]);
    expect(await store.assignments.get(a.orgId, bGiven.id)).toBeNull();
    expect(await store.subjects(a.orgId, [bUser.id])).toEqual([null]);
    expect(await store.roles.list(a.orgId)).toEqual([]);
    expect(await store.toolPolicies.get(a.orgId)).toEqual({});
    expect((await store.users.list(a.orgId, { first: 100 })).map((u) => u.id)).toEqual([aUser.id]);

    // Writes with A's id against B's rows behave as if they did not exist.
    await rejects(store.users.lock(a.ctx, bUser.id), 'NOT_FOUND');
    await rejects(store.assignments.revoke(a.ctx, bGiven.id), 'NOT_FOUND');
    await rejects(store.locations.move(a.ctx, { id: bLoc.id, parentId: null }), 'NOT_FOUND');
    await rejects(store.locations.create(a.ctx, { name: 'x', parentId: bLoc.id }), 'NOT_FOUND');
    await rejects(store.locations.delete(a.ctx, bLoc.id), 'NOT_FOUND');
    await rejects(store.teams.delete(a.ctx, bTeam.id), 'NOT_FOUND');
    await rejects(store.teams.addMember(a.ctx, bTeam.id, aUser.id), 'NOT_FOUND');
    await rejects(store.roles.delete(a.ctx, 'b_role'), 'NOT_FOUND');
    await rejects(
      store.assignments.assign(a.ctx, { userId: aUser.id, roleKey: 'owner', locationId: bLoc.id }),
      'NOT_FOUND',
    );
    await rejects(store.assignments.assign(a.ctx, { userId: bUser.id, roleKey: 'owner' }), 'NOT_FOUND');
    await rejects(
      store.assignments.assign(a.ctx, { userId: aUser.id, roleKey: 'developer', teamId: bTeam.id }),
      'NOT_FOUND',
    );

    expect(await version(b.orgId)).toBe(bVersion);
    expect((await store.subjects(b.orgId, [bUser.id]))[0]).toMatchObject({
      locked: false,
      assignments: [expect.objectContaining({ id: bGiven.id })],
    });
    expect(await store.verifyAudit(a.orgId)).toMatchObject({ ok: true });
    expect(await store.verifyAudit(b.orgId)).toMatchObject({ ok: true });
  });
});
