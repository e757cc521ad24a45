import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createRoot } from 'react-dom/client';
// Monaco's workers, bundled by Vite beside the page: nothing is loaded from a CDN.
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';

/** What the gateway writes into the page (src/api/explorer/landing-page.ts: ExplorerSettings). */
interface Settings {
  /** The GraphQL endpoint, as a path of this origin (default /graphql). */
  endpoint?: string;
  /** The headers editor's first content (JSON), e.g. the demo owner's token on a first start. */
  headers?: string;
  /** The query editor's first content, and its variables (JSON). */
  query?: string;
  variables?: string;
}

const settings = JSON.parse(document.getElementById('rolegate-explorer')?.textContent || '{}') as Settings;
const endpoint = new URL(settings.endpoint ?? '/graphql', window.location.href);
const subscriptions = new URL(endpoint);
subscriptions.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

const base = createGraphiQLFetcher({ url: endpoint.href, subscriptionUrl: subscriptions.href });
const initialHeaders = JSON.parse(settings.headers || '{}') as Record<string, string>;
// GraphiQL introspects as it mounts, before its headers editor exists, and then sends no headers: the
// schema would be the generic one. Until the editor is there, send the headers the page opened with.
const fetcher: Fetcher = (params, options) =>
  base(params, options?.headers ? options : { ...options, headers: initialHeaders });

createRoot(document.getElementById('graphiql')!).render(
  <GraphiQL
    fetcher={fetcher}
    initialHeaders={settings.headers}
    initialQuery={settings.query}
    initialVariables={settings.variables}
    defaultEditorToolsVisibility={settings.variables || settings.headers ? 'variables' : false}
    // A token is a secret: it stays in the page, not in the browser's storage.
    shouldPersistHeaders={false}
  />,
);
