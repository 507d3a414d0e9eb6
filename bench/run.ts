// `npm run bench`: runs every suite, prints a table, writes bench/results/latest.json.
// Every bench/<area>.bench.ts exports `suite`; `npm run bench -- kernel` runs one.
// A suite that exports `optIn = true` (minutes per round) runs only when named.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchFigure, BenchSuite } from './lib.ts';

const here = dirname(fileURLToPath(import.meta.url));
const suiteFiles = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();
const only = process.argv.slice(2);

const figures: BenchFigure[] = [];
for (const file of suiteFiles) {
  const name = file.replace(/\.bench\.ts$/, '');
  if (only.length > 0 && !only.includes(name)) continue;
  const mod = (await import(join(here, file))) as { suite: BenchSuite; optIn?: boolean };
  if (mod.optIn && !only.includes(name)) {
    process.stderr.write(`[bench] ${name}: opt-in, not run (npm run bench -- ${name})\n`);
    continue;
  }
  process.stderr.write(`[bench] ${name}…\n`);
  try {
    figures.push(...(await mod.suite()));
  } catch (err) {
    process.stderr.write(`[bench] ${name} failed: ${(err as Error).stack}\n`);
    process.exitCode = 1;
  }
}

const fmt = (v: number | undefined) =>
  v === undefined ? '' : Number.isInteger(v) ? String(v) : v.toFixed(3);
const rows = figures.map((f) => [
  f.name,
  fmt(f.value),
  f.unit,
  f.peer ?? '',
  fmt(f.peer_value),
  fmt(f.ratio),
  f.goal ?? '',
]);
const header = ['name', 'value', 'unit', 'peer', 'peer_value', 'ratio', 'goal'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
console.log(line(header));
for (const r of rows) console.log(line(r));

const out = join(here, 'results', 'latest.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(figures, null, 2)}\n`);
console.log(`\nwrote ${out}`);
