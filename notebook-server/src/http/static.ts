// The browser UI: built by Vite into notebook-server/ui/dist, served as static
// files. The host (re)builds it when dist is missing or older than its sources,
// so `npm start` from a fresh clone shows the current UI without a build step.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const UI_ROOT = join(repoRoot, 'notebook-server/ui');
export const UI_DIST = join(UI_ROOT, 'dist');
const VITE_CONFIG = join(repoRoot, 'vite.config.ts');

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  // Files only: a directory's mtime changes when dist is swapped in.
  let newest = 0;
  for (const entry of readdirSync(path)) {
    if (entry === 'dist' || entry.startsWith('dist.') || entry === 'node_modules') continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

/** True when dist/index.html is missing or older than any UI source or the Vite config. */
export function uiIsStale(): boolean {
  const index = join(UI_DIST, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  return Math.max(newestMtime(UI_ROOT), newestMtime(VITE_CONFIG)) > built;
}

let building: Promise<void> | undefined;

/** Builds the UI with Vite if stale (one build at a time per process). */
export function ensureUiBuilt(log: (m: string) => void = () => {}): Promise<void> {
  if (!existsSync(join(UI_ROOT, 'index.html'))) return Promise.resolve();
  if (!uiIsStale()) return Promise.resolve();
  building ??= (async () => {
    const t0 = Date.now();
    log('building the browser UI (vite)…');
    const vite = await import('vite');
    // Build beside dist, then swap: another process (a parallel test file, a second
    // server) may be serving or building the same dist right now.
    const tag = `${process.pid}-${Date.now()}`;
    const fresh = join(UI_ROOT, `dist.new-${tag}`);
    const old = join(UI_ROOT, `dist.old-${tag}`);
    try {
      await vite.build({
        configFile: VITE_CONFIG,
        logLevel: 'warn',
        build: { outDir: fresh, emptyOutDir: true },
      });
      await rename(UI_DIST, old).catch(() => {});
      await rename(fresh, UI_DIST);
    } finally {
      await rm(fresh, { recursive: true, force: true });
      await rm(old, { recursive: true, force: true });
    }
    log(`browser UI built in ${Date.now() - t0} ms`);
  })().finally(() => {
    building = undefined;
  });
  return building;
}

export function uiRouter(): Router {
  const r = express.Router();
  r.use(express.static(UI_DIST, { index: false, maxAge: '1h', immutable: false }));
  // Client-side routes (#/…) all load the one page.
  r.get(['/', '/index.html'], (_req, res) => {
    const index = join(UI_DIST, 'index.html');
    if (!existsSync(index)) {
      res
        .status(503)
        .type('text/plain')
        .send('the browser UI is not built yet (it builds when the server starts)');
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
  return r;
}
