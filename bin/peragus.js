#!/usr/bin/env node
// The `peragus` command. Runs the esbuild bundle that set-up builds
// (scripts/build-bundle.mjs → dist/bundle/cli/peragus.mjs) while it is newer
// than every TypeScript source; otherwise (a source was edited since, or no
// bundle yet) through tsx's loader, so a checkout always runs what it holds.
// PERAGUS_NO_BUNDLE=1 forces tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'bundle', 'cli', 'peragus.mjs');

function newestSource(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function bundleIsFresh() {
  if (process.env.PERAGUS_NO_BUNDLE === '1' || !existsSync(bundle)) return false;
  const built = statSync(bundle).mtimeMs;
  return ['notebook-server/src', 'srcmd/src'].every((d) => newestSource(join(root, d)) <= built);
}

if (bundleIsFresh()) {
  await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../notebook-server/src/cli.ts');
}
