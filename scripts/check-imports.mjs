#!/usr/bin/env node
// Import boundary check (run by `npm run lint`) over notebook-server/src and
// srcmd/src. Three rules, each reported with the file and the rule's name:
//   layer   every relative import goes to the importer's own folder or to a
//           folder of a LOWER layer (LAYERS): never up, never sideways (two faces
//           do not import each other; shared code moves down or is passed in);
//   cycle   no import cycle between files, not even inside one folder;
//   barrel  a folder with an index.ts is imported through it, never past it;
//           a folder without one is imported file by file (docs/DECISIONS.md,
//           "Issue 15: layers and boundaries").
// The layers are the design's (docs/ARCHITECTURE.md): faces → orchestrator/notebook
// → kernel/runtime/catalog.
//   node scripts/check-imports.mjs [--root DIR]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Lower number = lower layer. A folder may import its own files and lower layers
 * only; folders of one layer are siblings and do not import each other.
 */
export const LAYERS = {
  // the base: imported by everything, imports nothing of ours above it
  errors: 0,
  version: 0,
  log: 1,
  config: 2,
  artifacts: 3,
  auth: 3,
  confine: 3,
  ids: 3,
  jsonrpc: 3,
  proc: 3,
  'srcmd/src': 4,
  // below the sessions: sandboxing, the catalog, the kernel bridge, runtimes, tool schemas
  sandbox: 5,
  catalog: 5,
  kernel: 6,
  runtime: 7,
  schemas: 8,
  // sessions and what runs on them
  notebook: 9,
  pysd: 10,
  orchestrator: 11,
  workbench: 12,
  // faces (siblings), then the composition roots that wire them together
  mcp: 13,
  http: 13,
  app: 14,
  hostlink: 15,
  cli: 16,
};

function parseArgs(argv) {
  const i = argv.indexOf('--root');
  if (i >= 0 && !argv[i + 1]) {
    process.stderr.write('usage: node scripts/check-imports.mjs [--root DIR]\n');
    process.exit(2);
  }
  return resolve(i >= 0 ? argv[i + 1] : join(dirname(fileURLToPath(import.meta.url)), '..'));
}

function* tsFiles(dir) {
  let names;
  try {
    names = readdirSync(dir).sort();
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

/** Problems of the tree at `root`, one line each: "<file>: [rule] message". */
export function checkImports(root) {
  const src = join(root, 'notebook-server', 'src');
  const srcmd = join(root, 'srcmd', 'src');
  /** The layer folder a file belongs to ('cli' for cli.ts), or null when outside the checked trees. */
  const folderOf = (file) => {
    if (file === srcmd || file.startsWith(srcmd + sep)) return 'srcmd/src';
    if (!file.startsWith(src + sep)) return null;
    return relative(src, file).split(sep)[0].replace(/\.ts$/, '');
  };
  const show = (file) => relative(root, file).split(sep).join('/');
  /** The folder's index.ts when it has one (then other folders import through it), else null. */
  const barrels = new Map();
  const barrelOf = (folder) => {
    if (!barrels.has(folder)) {
      const index = folder === 'srcmd/src' ? join(srcmd, 'index.ts') : join(src, folder, 'index.ts');
      barrels.set(folder, existsSync(index) ? index : null);
    }
    return barrels.get(folder);
  };

  const problems = [];
  /** file → the files of ours it imports (resolved), for the cycle rule. */
  const graph = new Map();
  for (const tree of [src, srcmd]) {
    for (const file of tsFiles(tree)) {
      const from = folderOf(file);
      if (from === null) continue;
      const where = show(file);
      const edges = [];
      graph.set(file, edges);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT)) {
        const spec = m[1] ?? m[2];
        const target = resolve(dirname(file), spec);
        edges.push(target);
        const to = folderOf(target);
        if (to === null || to === from) continue;
        const barrel = barrelOf(to);
        if (barrel !== null && target !== barrel) {
          problems.push(
            `${where}: [barrel] imports "${spec}" past ${show(barrel)}: folder ${to} has an index.ts, its public surface; import from it`,
          );
        }
        const a = LAYERS[from];
        const b = LAYERS[to];
        if (a === undefined || b === undefined) {
          problems.push(
            `${where}: [layer] "${spec}" — folder ${a === undefined ? from : to} has no layer: add it to LAYERS in scripts/check-imports.mjs`,
          );
        } else if (b > a) {
          problems.push(
            `${where}: [layer] imports "${spec}" (${to}, layer ${b}) from ${from} (layer ${a}): imports go down only; move the shared code to a lower layer or pass it in`,
          );
        } else if (b === a) {
          problems.push(
            `${where}: [layer] imports "${spec}" (${to}) from its sibling ${from} (both layer ${a}): siblings do not import each other; move the shared code to a lower layer or pass it in`,
          );
        }
      }
    }
  }
  for (const cycle of cyclesOf(graph)) {
    const names = cycle.map(show);
    problems.push(
      `${names[0]}: [cycle] import cycle ${[...names, names[0]].join(' → ')}: one of them must own the shared part (move it to one file, or pass it in)`,
    );
  }
  return problems;
}

/** Strongly connected components with more than one file (or a file importing itself), each sorted. */
function cyclesOf(graph) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  let next = 0;
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), index.get(w)));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = checkImports(parseArgs(process.argv.slice(2)));
  if (problems.length > 0) {
    process.stderr.write(
      `import boundaries: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join('\n')}\n`,
    );
    process.exit(1);
  }
  process.stdout.write('import boundaries: ok\n');
}
