import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';

/**
 * Chromium for browser tests: Debian's `chromium` package (CI installs it, see .ci/run), driven by
 * playwright-core, which downloads no browser of its own. CHROMIUM_BIN names another binary.
 */
export function findChromium(): string {
  const candidates = [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  for (const c of candidates) if (c && existsSync(c)) return c;
  const found = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], {
    encoding: 'utf8',
  }).stdout.trim();
  if (!found)
    throw new Error(
      'no Chromium: install Debian\'s "chromium" package (apt-get install chromium), or set CHROMIUM_BIN',
    );
  return found;
}

/**
 * A headless Chromium. As root (CI, containers) it runs without its sandbox, which needs an
 * unprivileged user; `timeoutMs` bounds the launch (default 30 s).
 */
export async function launchChromium(options: { timeoutMs?: number } = {}): Promise<Browser> {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return chromium.launch({
    executablePath: findChromium(),
    headless: true,
    timeout: options.timeoutMs ?? 30_000,
    args: [...(root ? ['--no-sandbox'] : []), '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** A page served on its own origin: `http://localhost:<port>` (another origin than 127.0.0.1's). */
export interface ServedPage {
  origin: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `html` at every path of a new loopback HTTP server, as the origin http://localhost:<port>. */
export async function servePage(html: string): Promise<ServedPage> {
  return serve(
    createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    }),
  );
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

/**
 * Serves a built app (e.g. Vite's `dist`) as the origin http://localhost:<port>: a file of `dir` when
 * the path names one, else `index.html` (the app reads its query string).
 */
export async function serveDir(dir: string): Promise<ServedPage> {
  const root = path.resolve(dir);
  return serve(
    createServer((req, res) => {
      const wanted = path.join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      const file =
        wanted.startsWith(root + path.sep) && existsSync(wanted) && statSync(wanted).isFile()
          ? wanted
          : path.join(root, 'index.html');
      res
        .writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' })
        .end(readFileSync(file));
    }),
  );
}

async function serve(server: Server): Promise<ServedPage> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://localhost:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A production build by Vite of a browser project of the repository (`examples/frontend`, `explorer`)
 * into `outDir`, in a child process: Vite is ES modules only, which jest's module system does not
 * load. Production whatever jest's NODE_ENV (test): React's development build runs StrictMode's double
 * effects, and Apollo Client then aborts its first request and sends it again.
 */
export async function viteBuild(project: string, outDir: string, timeoutMs: number): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  await promisify(execFile)(
    process.execPath,
    [
      path.join(root, 'node_modules/vite/bin/vite.js'),
      'build',
      path.join(root, project),
      '--outDir',
      outDir,
      '--emptyOutDir',
      '--logLevel',
      'warn',
    ],
    { cwd: root, timeout: timeoutMs, env: { ...process.env, NODE_ENV: 'production' } },
  );
}
