import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { ApolloProvider } from '@apollo/client/react';
import { App } from './app';
import { createApolloClient } from './client';

/**
 * `?gateway=http://127.0.0.1:4000/graphql&token=…[&location=<id>]`: the gateway to call, the viewer's
 * token (POST /dev/token in development), and the location whose menu to draw (default: the
 * organization). A real app would have its token from its sign-in and the location from its route.
 */
const params = new URLSearchParams(window.location.search);
const gateway = params.get('gateway');
const token = params.get('token');
const locationId = params.get('location') ?? undefined;
const root = createRoot(document.getElementById('root')!);

function Live({ gateway, token }: { gateway: string; token: string }) {
  const [live, setLive] = useState('connecting');
  const [client] = useState(() => createApolloClient(gateway, token, setLive));
  useEffect(() => () => void client.stop(), [client]);
  return (
    <ApolloProvider client={client}>
      <App locationId={locationId} live={live} />
    </ApolloProvider>
  );
}

root.render(
  <StrictMode>
    {gateway && token ? (
      <Live gateway={gateway} token={token} />
    ) : (
      <p data-testid="usage">
        Open this page with <code>?gateway=http://127.0.0.1:4000/graphql&amp;token=…</code> (see
        examples/frontend/README.md).
      </p>
    )}
  </StrictMode>,
);
