import { defineConfig } from 'vite';

// Vite 8 compiles TypeScript and JSX itself (Oxc; the automatic runtime, from tsconfig.json's "jsx").
// `npx vite examples/frontend` serves it on http://localhost:5173; `npx vite build examples/frontend`
// writes examples/frontend/dist.
export default defineConfig({
  server: { port: 5173, strictPort: true },
  build: { sourcemap: true },
});
