import { useEffect, useMemo } from 'react';
import { CombinedGraphQLErrors, gql, type TypedDocumentNode } from '@apollo/client';
import { useQuery, useSubscription } from '@apollo/client/react';
import { subject } from '@casl/ability';
import { AbilityProvider, Can } from '@casl/react';
import { abilityFrom } from './ability';
import { BOOTSTRAP, CAPABILITIES_CHANGED } from './queries';
import { RECORDS, type DemoRecord } from './records';

interface UiEntry {
  key: string;
  name: string;
  order: number;
  module?: string | null;
  pages?: UiEntry[];
}

interface Scope {
  id: string;
  type: 'ORG' | 'LOCATION' | 'TEAM';
  name: string;
  roles: string[];
  location: { id: string; path: { id: string }[] } | null;
  team: { id: string } | null;
}

/** The bootstrap's answer. Every root field may be null: refused, or failed, alone. */
interface Bootstrap {
  viewer: { id: string; name: string | null; scopes: Scope[] | null } | null;
  capabilities: {
    id: string;
    grantsVersion: string;
    pages: UiEntry[];
    modules: UiEntry[];
    operations: { operation: string; allowed: boolean }[];
    tools: { tool: string; mode: string }[];
  } | null;
  viewerRules: { rules: unknown; expiresAt: string | null } | null;
}

const BOOTSTRAP_QUERY: TypedDocumentNode<Bootstrap, { locationId?: string }> = gql(BOOTSTRAP);
const CHANGED: TypedDocumentNode<
  { capabilitiesChanged: { id: string; grantsVersion: string } },
  { locationId?: string }
> = gql(CAPABILITIES_CHANGED);

export function App({ locationId, live }: { locationId?: string; live: string }) {
  const variables = useMemo(() => (locationId ? { locationId } : {}), [locationId]);
  // errorPolicy 'all': a refused field is null with its error, and the rest of the page still draws.
  const { data, error, loading, refetch } = useQuery(BOOTSTRAP_QUERY, { variables, errorPolicy: 'all' });
  // A new grantsVersion: draw again from a fresh bootstrap (menu, buttons and rules together).
  useSubscription(CHANGED, { variables, onData: () => void refetch() });
  // An assignment stops counting at `expiresAt` without any write: ask again then (a little after).
  const expiresAt = data?.viewerRules?.expiresAt;
  useEffect(() => {
    if (!expiresAt) return;
    const wait = Math.min(Math.max(Date.parse(expiresAt) - Date.now() + 1_000, 0), 2 ** 31 - 1);
    const timer = setTimeout(() => void refetch(), wait);
    return () => clearTimeout(timer);
  }, [expiresAt, refetch]);

  const ability = useMemo(() => abilityFrom(data?.viewerRules?.rules), [data?.viewerRules?.rules]);
  if (loading && !data) return <p data-testid="loading">Loading…</p>;
  const caps = data?.capabilities;
  const canCreateUser = caps?.operations.some((o) => o.operation === 'CREATE_USER' && o.allowed) ?? false;

  return (
    <AbilityProvider value={ability}>
      <header>
        <h1 data-testid="viewer-name">{data?.viewer?.name ?? 'Unknown viewer'}</h1>
        <p>
          grantsVersion <code data-testid="grants-version">{caps?.grantsVersion ?? '–'}</code> · updates{' '}
          <span data-testid="live-status">{live}</span>
        </p>
      </header>
      {error && (
        <ul data-testid="errors">
          {/* Partial data: each refused or failed field is null and says why; the rest is drawn. */}
          {CombinedGraphQLErrors.is(error) ? (
            error.errors.map((e, i) => (
              <li key={i}>
                {e.path?.join('.')}: {String(e.extensions?.code ?? e.message)}
              </li>
            ))
          ) : (
            <li>{error.message}</li>
          )}
        </ul>
      )}
      <Places scopes={data?.viewer?.scopes ?? []} current={locationId} />
      {caps && <Menu pages={caps.pages} modules={caps.modules} />}
      {canCreateUser && (
        <button type="button" data-testid="create-user">
          Create user
        </button>
      )}
      <Records scopes={data?.viewer?.scopes ?? []} />
    </AbilityProvider>
  );
}

/**
 * The navigation: modules in the catalog's order, each with its pages; then the pages of no module (a
 * catalog with pages and no modules, like Junto's, is a flat list).
 */
function Menu({ pages, modules }: { pages: UiEntry[]; modules: UiEntry[] }) {
  const byOrder = (a: UiEntry, b: UiEntry) => a.order - b.order;
  const shown = new Set(modules.map((m) => m.key));
  const loose = pages.filter((p) => !p.module || !shown.has(p.module)).sort(byOrder);
  return (
    <nav data-testid="menu">
      <ul>
        {[...modules].sort(byOrder).map((m) => (
          <li key={m.key} data-testid="menu-module" data-key={m.key}>
            <strong data-testid="module-name">{m.name}</strong>
            <ul>
              {[...(m.pages ?? [])].sort(byOrder).map((p) => (
                <li key={p.key} data-testid="menu-page" data-key={p.key}>
                  {p.name}
                </li>
              ))}
            </ul>
          </li>
        ))}
        {loose.map((p) => (
          <li key={p.key} data-testid="menu-page" data-key={p.key}>
            {p.name}
          </li>
        ))}
      </ul>
    </nav>
  );
}

/**
 * Where the viewer holds anything (`viewer.scopes`): the organization and each location, as links that
 * draw the menu there (`?location=`). Teams are not places of the menu: team grants are per resource.
 */
function Places({ scopes, current }: { scopes: Scope[]; current?: string }) {
  const link = (locationId?: string) => {
    const params = new URLSearchParams(window.location.search);
    if (locationId) params.set('location', locationId);
    else params.delete('location');
    return `?${params}`;
  };
  const places = scopes.filter((s) => s.type !== 'TEAM');
  return (
    <p data-testid="places">
      Places:{' '}
      {places.map((s) => {
        const id = s.location?.id;
        return id === current ? (
          <strong key={s.id}>{s.name} </strong>
        ) : (
          <a key={s.id} href={link(id)}>
            {s.name}{' '}
          </a>
        );
      })}
    </p>
  );
}

/** The resource CASL decides on: where the record lives (its location's whole path, or its team). */
function resourceOf(record: DemoRecord, scopes: Scope[]) {
  if (!record.place) return subject('Resource', { personId: record.personId });
  const scope = scopes.find((s) => s.name === record.place && s.type !== 'ORG');
  if (!scope) return null;
  return subject('Resource', {
    locationPath: scope.location?.path.map((l) => l.id),
    teamIds: scope.team ? [scope.team.id] : undefined,
    personId: record.personId,
  });
}

/** Records the viewer may act on, each shown only when the ability allows it, decided in the browser. */
function Records({ scopes }: { scopes: Scope[] }) {
  return (
    <section>
      <h2>Decided in the browser with CASL</h2>
      <ul data-testid="records">
        {RECORDS.map((record) => {
          const resource = resourceOf(record, scopes);
          if (!resource) return null;
          return (
            <Can key={record.id} I={record.action} this={resource}>
              <li data-testid={`record-${record.id}`}>
                {record.label} <small>({record.action})</small>
              </li>
            </Can>
          );
        })}
      </ul>
    </section>
  );
}
