// The browser UI (notebook-server/ui) builds to notebook-server/ui/dist, which
// the host serves. `npx vite` runs a dev server that proxies the APIs to a host
// on PERAGUS_DEV_TARGET (default http://127.0.0.1:4300).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('./notebook-server/ui', import.meta.url));
const target = process.env.PERAGUS_DEV_TARGET ?? 'http://127.0.0.1:4300';

export default defineConfig({
  root,
  base: '/',
  clearScreen: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      '/api': { target, ws: true },
      '/ui-api': target,
      '/events': { target, ws: true },
    },
  },
});
