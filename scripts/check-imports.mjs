#!/usr/bin/env node
// Import direction check (run by `npm run lint`): every relative import in
// notebook-server/src and srcmd/src goes to the importer's own folder or to a
// folder of a LOWER layer, never up or sideways. The layers are the design's
// (docs/ARCHITECTURE.md): faces → orchestrator/notebook → kernel/runtime/catalog.
//   node scripts/check-imports.mjs [--root DIR]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Lower number = lower layer. A folder may import its own files and lower layers only. */
export const LAYERS = {
  confine: 0,
  'srcmd/src': 1, // above confine: its atomic file writes are confine/atomic.ts
  jsonrpc: 0,
  version: 0,
  ids: 0,
  artifacts: 0,
  proc: 0,
  sandbox: 1,
  catalog: 1,
  kernel: 2,
  runtime: 3,
  schemas: 4,
  pysd: 5,
  notebook: 6,
  orchestrator: 7,
  workbench: 8,
  mcp: 9,
  http: 10,
  app: 11,
  hostlink: 12,
  cli: 13,
};

const args = process.argv.slice(2);
const root = resolve(
  args[0] === '--root' && args[1] ? args[1] : join(dirname(fileURLToPath(import.meta.url)), '..'),
);
const SRC = join(root, 'notebook-server', 'src');

/** The layer folder a file belongs to ('cli' for cli.ts), or null when outside the checked trees. */
function folderOf(file) {
  const srcmd = join(root, 'srcmd', 'src');
  if (file === srcmd || file.startsWith(srcmd + sep)) return 'srcmd/src';
  if (!file.startsWith(SRC + sep)) return null;
  const first = relative(SRC, file).split(sep)[0];
  return first.replace(/\.ts$/, '');
}

function* tsFiles(dir) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* tsFiles(p);
    else if (name.endsWith('.ts')) yield p;
  }
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

const problems = [];
for (const tree of [SRC, join(root, 'srcmd', 'src')]) {
  for (const file of tsFiles(tree)) {
    const from = folderOf(file);
    if (from === null) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      const target = resolve(dirname(file), spec);
      const to = folderOf(target);
      if (to === null || to === from) continue;
      const a = LAYERS[from];
      const b = LAYERS[to];
      const where = relative(root, file);
      if (a === undefined || b === undefined) {
        problems.push(
          `${where}: "${spec}" — folder ${a === undefined ? from : to} has no layer: add it to LAYERS in scripts/check-imports.mjs`,
        );
      } else if (b >= a) {
        problems.push(
          `${where}: imports "${spec}" (${to}, layer ${b}) from ${from} (layer ${a}): imports go down only; move the shared code to a lower layer or pass it in`,
        );
      }
    }
  }
}
if (problems.length > 0) {
  process.stderr.write(
    `import direction: ${problems.length} backwards import(s)\n${problems.map((p) => `  ${p}`).join('\n')}\n`,
  );
  process.exit(1);
}
process.stdout.write('import direction: ok\n');
