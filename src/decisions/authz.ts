import { createHash } from 'node:crypto';
import { OPERATIONS } from '../catalog';
import {
  decide,
  explain,
  exportRules,
  grantLocations,
  grantsDigest,
  hasBit,
  UnknownPermissionError,
  type CheckRequest,
  type Explanation,
  type Names,
  type Subject,
  type Outcome,
  type RulesExport,
  type UserGrants,
} from '../engine';
import { isVersion } from '../consistency/versions';
import { StoreError } from '../store';
import type { Viewer } from '../identity/tokens';
import type { Metrics } from '../metrics/metrics';
import type { Loaders } from './loaders';
import type { OrgState } from './org-state';
import { uiEntries, type OperationHeld } from './manifest';

/** A check as the API receives it. */
export interface CheckInput {
  userId: string;
  permission: string;
  locationId?: string | null;
  teamIds?: readonly string[] | null;
  personId?: string | null;
  groupIds?: readonly string[] | null;
  atLeastVersion?: string | null;
}

/** A decision, or why the input could not be decided (then DENY: deny when unsure). */
export interface DecisionResult {
  /** The input decided: its id (`decisionId`) is computed only when a client asks for it. */
  input: CheckInput;
  allowed: boolean;
  outcome: Outcome;
  version: string;
  error: { code: 'BAD_USER_INPUT' | 'NOT_FOUND' | 'VERSION_NOT_REACHED'; message: string } | null;
  /** The request the engine decided, to explain on demand (`Decision.reason`). */
  request?: CheckRequest & { userId: string };
  /** The decision service that decided it (a later version's, for `atLeastVersion`). */
  decidedBy?: Authz;
}

/** What `capabilities` answers (`Capabilities`' fields, the permissions' details resolved on request). */
export type CapabilitiesResult = Awaited<ReturnType<Authz['capabilities']>>;

/**
 * An id for a question (its kind and arguments, in order; lists as sets), stable whatever the version,
 * so that a client cache keeps one entry per question and a refetch updates it.
 */
export function questionId(parts: readonly (string | null | undefined | readonly string[])[]): string {
  const canonical = parts.map((p) => (Array.isArray(p) ? [...new Set(p)].sort() : (p ?? null)));
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url').slice(0, 22);
}

/** The id of a check's question. */
export function decisionId(input: CheckInput): string {
  return questionId([
    'check',
    input.userId,
    input.permission,
    input.locationId,
    input.teamIds ?? [],
    input.personId,
    input.groupIds ?? [],
  ]);
}

/**
 * Grants versions computed, by the compiled grants they digest: those are cached per organization
 * version and user (src/decisions/caches.ts), so this is computed at most once per (version, user) for
 * as long as the grants stay cached.
 */
const grantsVersions = new WeakMap<UserGrants, string>();

/**
 * The viewer's organization, ready to decide: the engine fed by the request's loaders. One per request.
 * What the viewer themself may do (guards, administration) is `Access`'s.
 */
export class Authz {
  constructor(
    readonly state: OrgState,
    readonly viewer: Viewer,
    private readonly loaders: Loaders,
    readonly now: number,
    private readonly metrics?: Metrics,
  ) {}

  get version(): string {
    return this.state.org.version;
  }

  get catalog() {
    return this.state.catalog;
  }

  /** Decides one input; never throws for bad input (the result carries the error). */
  async decide(input: CheckInput): Promise<DecisionResult> {
    const prepared = await this.prepare(input);
    if ('error' in prepared) {
      this.metrics?.decisions.inc({ outcome: 'DENY' });
      return {
        input,
        allowed: false,
        outcome: 'DENY',
        version: this.version,
        error: prepared.error,
      };
    }
    const outcome = decide(this.catalog, prepared.grants, prepared.request, this.state.policies);
    this.metrics?.decisions.inc({ outcome });
    return {
      input,
      allowed: outcome === 'ALLOW',
      outcome,
      version: this.version,
      error: null,
      request: prepared.request,
      decidedBy: this,
    };
  }

  /** Explains one input; bad input throws (the API reports it). */
  async explain(input: CheckInput): Promise<Explanation & { version: string }> {
    const prepared = await this.prepare(input);
    if ('error' in prepared) {
      throw prepared.error.code === 'NOT_FOUND'
        ? new StoreError('NOT_FOUND', prepared.error.message)
        : new UnknownPermissionError(input.permission);
    }
    return this.explainRequest(prepared.request);
  }

  /** The explanation of a request already decided (for a decision's `reason`). */
  async explainRequest(
    request: CheckRequest & { userId: string },
  ): Promise<Explanation & { version: string }> {
    const subject = await this.loaders.subjects.load(request.userId);
    if (!subject) throw new StoreError('NOT_FOUND', `user ${request.userId} does not exist`);
    return {
      ...explain(this.catalog, subject, request, {
        now: this.now,
        policies: this.state.policies,
        names: await this.namesFor(subject, request),
      }),
      version: this.version,
    };
  }

  /**
   * The names of the locations and teams an explanation of `request` for `subject` may mention.
   * Locations are readable by every member (`location(id)`); teams only by their members and by those
   * who may view teams, so a reason names a team only for its subject asking about themself.
   */
  private async namesFor(subject: Subject, request: CheckRequest): Promise<Names> {
    const self = this.viewer.kind === 'user' && this.viewer.userId === subject.userId;
    const locationIds = new Set(request.locationPath);
    const teamIds = new Set(self ? (request.teamIds ?? []) : []);
    for (const a of subject.assignments) {
      if (a.locationId) locationIds.add(a.locationId);
      if (a.teamId && self) teamIds.add(a.teamId);
    }
    const named = <T extends { id: string; name: string }>(rows: (T | Error | null)[]) =>
      new Map(rows.flatMap((r) => (r && !(r instanceof Error) ? [[r.id, r.name] as const] : [])));
    const [locations, teams] = await Promise.all([
      this.loaders.locations.loadMany([...locationIds]).then(named),
      this.loaders.teams.loadMany([...teamIds]).then(named),
    ]);
    return { location: (id) => locations.get(id), team: (id) => teams.get(id) };
  }

  /**
   * Everything a frontend needs to draw itself for a user, at a location or in a team, for a resource
   * of a staff person and groups: the permissions held there; the pages and navigation modules, which
   * are not resources (restricted assignments grant them whatever the resource: rule 5).
   */
  async capabilities(
    userId: string,
    where: {
      locationId?: string | null;
      teamId?: string | null;
      personId?: string | null;
      groupIds?: readonly string[] | null;
    } = {},
  ) {
    const { locationId, teamId, personId, groupIds } = where;
    const [grants, locationPath, grantsVersion] = await Promise.all([
      this.loaders.grants.load(userId),
      this.pathOf(locationId),
      this.grantsVersion(userId).catch(() => null),
    ]);
    if (!grants || grantsVersion === null) throw new StoreError('NOT_FOUND', `user ${userId} does not exist`);
    if (!locationPath) throw new StoreError('NOT_FOUND', `location ${locationId} does not exist`);
    const scope = {
      locationPath,
      teamIds: teamId ? [teamId] : [],
      personId: personId ?? null,
      groupIds: groupIds ?? [],
    };
    const set = grants.effective(scope);
    const shown = grants.effective(scope, true);
    const catalog = this.catalog;
    const doc = catalog.catalog.document;
    const { pages, modules } = uiEntries(doc, (prefix, key) =>
      hasBit(shown, catalog.resolve(`${prefix}:${key}`).bit),
    );
    const operations = OPERATIONS.map((operation): OperationHeld => {
      const permission = doc.operations?.[operation] ?? null;
      return {
        operation,
        permission,
        allowed: permission !== null && hasBit(set, catalog.resolve(permission).bit),
      };
    });
    const tools = [...catalog.tools.values()]
      .filter((t) => hasBit(set, t.bit))
      .map((t) => ({
        tool: t.name,
        name: doc.tools?.[t.name]?.name ?? null,
        mode: catalog.toolMode(t, this.state.policies).mode,
        outcome: decide(catalog, grants, { permission: `tool:${t.name}`, ...scope }, this.state.policies),
      }));
    return {
      id: questionId(['capabilities', userId, locationId, teamId, personId, groupIds]),
      userId,
      locationId: locationId ?? null,
      teamId: teamId ?? null,
      personId: personId ?? null,
      groupIds: [...(groupIds ?? [])],
      permissions: catalog.permissionsIn(set).filter((k) => !k.startsWith('page:') && !k.startsWith('nav:')),
      pages,
      modules,
      operations,
      tools,
      flags: [...grants.flags],
      version: this.version,
      grantsVersion,
    };
  }

  /**
   * Every rule a user holds, for a client-side library (CASL): decided there exactly as here, for any
   * location (the cascade as conditions on the resource's `locationPath`), team, person and groups.
   * The paths of the locations the user's assignments name come from the request's loaders.
   */
  async rules(userId: string): Promise<RulesExport & { userId: string; version: string }> {
    const grants = await this.loaders.grants.load(userId);
    if (!grants) throw new StoreError('NOT_FOUND', `user ${userId} does not exist`);
    const named = new Set(grants.byLocation.keys());
    for (const r of grants.restricted) if (r.locationId) named.add(r.locationId);
    const paths = new Map<string, string[]>();
    await Promise.all(
      [...named].map(async (id) => {
        const path = await this.loaders.paths.load(id);
        if (path) paths.set(id, path);
      }),
    );
    const out = exportRules(this.catalog, grants, { paths, policies: this.state.policies });
    return { ...out, userId, version: this.version };
  }

  /**
   * The user's grants version at this state: changes exactly when one of their answers could (see
   * src/engine/digest.ts for what it covers). Throws NOT_FOUND for a user that does not exist.
   */
  async grantsVersion(userId: string): Promise<string> {
    const grants = await this.loaders.grants.load(userId);
    if (!grants) throw new StoreError('NOT_FOUND', `user ${userId} does not exist`);
    const known = grantsVersions.get(grants);
    if (known !== undefined) return known;
    const locations = grantLocations(grants);
    const extents = await Promise.all(locations.map((id) => this.loaders.extents.load(id)));
    const digest = grantsDigest(
      grants,
      this.state.policies,
      new Map(locations.map((id, i) => [id, extents[i]?.digest ?? ''])),
    );
    grantsVersions.set(grants, digest);
    return digest;
  }

  /** The location's path for the engine; [] for the root; null when it does not exist here. */
  async pathOf(locationId?: string | null): Promise<string[] | null> {
    return locationId == null ? [] : this.loaders.paths.load(locationId);
  }

  private async prepare(input: CheckInput): Promise<
    | {
        grants: NonNullable<Awaited<ReturnType<Loaders['grants']['load']>>>;
        request: CheckRequest & { userId: string };
      }
    | { error: NonNullable<DecisionResult['error']> }
  > {
    try {
      this.catalog.resolve(input.permission);
    } catch (err) {
      if (err instanceof UnknownPermissionError)
        return { error: { code: 'BAD_USER_INPUT', message: err.message } };
      throw err;
    }
    if (input.atLeastVersion != null && !isVersion(input.atLeastVersion)) {
      return {
        error: {
          code: 'BAD_USER_INPUT',
          message: 'atLeastVersion must be a version returned by a mutation (digits)',
        },
      };
    }
    if (input.atLeastVersion != null && BigInt(input.atLeastVersion) > BigInt(this.version)) {
      return {
        error: {
          code: 'VERSION_NOT_REACHED',
          message: `version ${input.atLeastVersion} is not reached (current: ${this.version})`,
        },
      };
    }
    const [grants, locationPath] = await Promise.all([
      this.loaders.grants.load(input.userId),
      this.pathOf(input.locationId),
    ]);
    if (!grants) return { error: { code: 'NOT_FOUND', message: `user ${input.userId} does not exist` } };
    if (!locationPath)
      return { error: { code: 'NOT_FOUND', message: `location ${input.locationId} does not exist` } };
    return {
      grants,
      request: {
        userId: input.userId,
        permission: input.permission,
        locationPath,
        teamIds: input.teamIds ?? [],
        personId: input.personId ?? null,
        groupIds: input.groupIds ?? [],
      },
    };
  }
}
