import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isLoopback, isLoopbackHost } from '../dev-token';

/**
 * Where `npm run build` (`npm run build:explorer`) writes the explorer: GraphiQL bundled by Vite from
 * explorer/ with React, Monaco and its workers. The same path from src/ (tsx) and from dist/.
 */
export const EXPLORER_DIR = path.resolve(__dirname, '..', '..', '..', 'dist', 'explorer');

/** Where the explorer's files are served; its index.html names them under this path (explorer/vite.config.mts). */
const ASSETS_PATH = '/explorer/';

/** What the explorer opens with: its editors' first content; and where its files are. */
export interface ExplorerSettings {
  /** The built explorer (default EXPLORER_DIR, dist/explorer). */
  dir?: string;
  /** Request headers, e.g. `{ Authorization: 'Bearer …' }` (the demo owner's on a first start). */
  headers?: Record<string, string>;
  query?: string;
  variables?: Record<string, unknown>;
}

/** Without settings: what to send, and a query that needs only a token. */
const DEFAULT_QUERY = `# Send your token as a header (Headers, below): {"Authorization": "Bearer <token>"}.
# A development token: rolegate token --org <id> --user <email>. The Docs pane shows, on every
# field, what it requires in your organization's catalog.
query Viewer {
  viewer { id email }
  organization { name catalog version }
}
`;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.ttf': 'font/ttf',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.png': 'image/png',
  '.json': 'application/json',
};

/**
 * Only this origin's files, and what the page needs (Monaco sets styles inline, and loads its workers
 * and fonts from here). Whatever else a page of it might try to load is refused by the browser.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * The development landing page: GraphiQL at `/` (and at `/graphql` for a browser, see
 * `wantsLandingPage`), its files under /explorer/, all from this package (dist/explorer): it works
 * with no internet access. The page is given the endpoint and `settings`; a token in them is written
 * only into pages a browser navigates to on a loopback connection naming a loopback host (a DNS-rebound
 * name, or another origin's fetch, gets the page without it).
 */
export function registerLandingPage(
  app: FastifyInstance,
  options: { settings?: ExplorerSettings; endpoint?: string } = {},
): { send(req: FastifyRequest, reply: FastifyReply): FastifyReply } {
  const dir = options.settings?.dir ?? EXPLORER_DIR;
  const files = listFiles(dir);
  const index = files.get('index.html');
  const template = index ? readFileSync(index, 'utf8') : null;
  const endpoint = options.endpoint ?? '/graphql';
  const settings = options.settings ?? {};

  const send = (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    void reply
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .type('text/html; charset=utf-8');
    if (!template)
      return reply
        .status(503)
        .send(
          '<!doctype html><title>rolegate</title><p>The explorer is not built: run <code>npm run build:explorer</code> (or <code>npm run build</code>) and reload.</p>',
        );
    const trusted =
      isLoopback(req.socket.remoteAddress) && isLoopbackHost(req.headers.host) && isNavigation(req);
    const page = {
      endpoint,
      headers: JSON.stringify(trusted && settings.headers ? settings.headers : {}, null, 2),
      query: settings.query ?? DEFAULT_QUERY,
      ...(settings.variables ? { variables: JSON.stringify(settings.variables, null, 2) } : {}),
    };
    return reply.send(
      template.replace(
        /(<script id="rolegate-explorer" type="application\/json">)[^<]*/,
        (_, open: string) => open + scriptJson(page),
      ),
    );
  };

  app.get('/', (req, reply) => send(req, reply));
  app.get(`${ASSETS_PATH}*`, (req, reply) => {
    const wanted = (req.params as { '*': string })['*'];
    const file = files.get(wanted);
    if (!file || wanted === 'index.html')
      return reply
        .status(404)
        .send({ errors: [{ message: 'not found', extensions: { code: 'NOT_FOUND' } }] });
    // Vite names each file by its content hash: a file's bytes never change under its name.
    return reply
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .type(TYPES[path.extname(file)] ?? 'application/octet-stream')
      .send(readFileSync(file));
  });
  return { send };
}

/** A browser opening the endpoint itself (GET, HTML wanted, no query): shown the landing page. */
export function wantsLandingPage(req: FastifyRequest): boolean {
  if (req.method !== 'GET') return false;
  const query = req.query as Record<string, unknown> | undefined;
  if (query && (query.query !== undefined || query.extensions !== undefined)) return false;
  return /\btext\/html\b/.test(req.headers.accept ?? '');
}

/**
 * A browser opening the page itself (typed, a bookmark, a link of this origin), not another origin's
 * script reading it (a listed CORS origin could): only then is a token written into it.
 */
function isNavigation(req: FastifyRequest): boolean {
  const mode = req.headers['sec-fetch-mode'];
  const site = req.headers['sec-fetch-site'];
  return (
    (mode === undefined || mode === 'navigate') &&
    (site === undefined || site === 'none' || site === 'same-origin')
  );
}

/** The files of the built explorer, by path relative to `dir` (no other file can be named). */
function listFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  if (!existsSync(dir)) return files;
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const full = path.join(folder, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(path.relative(dir, full).split(path.sep).join('/'), full);
    }
  };
  walk(dir);
  return files;
}

/** JSON inside a `<script>` element: no `<` can close it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}
