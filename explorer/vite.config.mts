import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The development landing page: GraphiQL and everything it loads (React, Monaco and its workers, the
// styles), bundled into dist/explorer by `npm run build` (`npm run build:explorer` alone), and served by
// the gateway under /explorer/ in development (src/api/explorer/). No CDN: it works offline.
const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/explorer/',
  build: {
    outDir: path.resolve(here, '..', 'dist', 'explorer'),
    emptyOutDir: true,
    // Monaco alone is several MB: the limit would only warn about what a local page loads once.
    chunkSizeWarningLimit: 8000,
    rolldownOptions: {
      // React's and framer-motion's "use client" mean nothing in a page that is all client.
      onLog(level, log, handler) {
        if (log.code === 'MODULE_LEVEL_DIRECTIVE') return;
        handler(level, log);
      },
    },
  },
});
