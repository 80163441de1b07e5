import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

/** `npx vite` only: answers ./config.json the way core does in production
 * (GAJI_CORE_URL / GAJI_AI_URL, else the default local ports). Nothing of
 * this reaches `vite build`: the built app ships no config.json. */
function devConfigJson(): Plugin {
  return {
    name: 'gaji-dev-config-json',
    apply: 'serve',
    configureServer(server) {
      server.middlewares.use('/config.json', (_req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('Cache-Control', 'no-store');
        res.end(
          JSON.stringify({
            core_url: env.GAJI_CORE_URL ?? 'http://127.0.0.1:8080',
            ai_url: env.GAJI_AI_URL ?? 'http://127.0.0.1:8000',
          }),
        );
      });
    },
  };
}

// `base: './'`: the built dist/ uses relative asset URLs, so it works from
// any path core serves it at. Every in-app route lives after `#` (HashRouter).
export default defineConfig({
  base: './',
  plugins: [react(), devConfigJson()],
  build: {
    outDir: 'dist',
    sourcemap: false,
    target: 'es2022',
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    // Two cores shared with benchmarks: keep the test run light.
    pool: 'threads',
    maxWorkers: 2,
    restoreMocks: true,
  },
});
