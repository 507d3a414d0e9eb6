// experiment_plan_run through the SDK client: 24 SIR experiments (a grid over
// contact rate × infectivity) with K = 4 in local-runtime containers, all
// registered; catalog_query's peak infected per experiment matches each
// experiment's own Parquet file.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';

let t: TestHost;

async function call(
  name: string,
  args: Json,
  onprogress?: (p: { progress: number; total?: number }) => void,
) {
  const r = await t.client.callTool({ name, arguments: args }, undefined, {
    timeout: 1_200_000,
    resetTimeoutOnProgress: true,
    ...(onprogress ? { onprogress } : {}),
  });
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Json;
}

const SIR_PLAN = {
  model: { source: 'sir.mdl', content: readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8') },
  experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
  grid: { 'Contact Rate': [4, 6, 8, 10, 12, 14], Infectivity: [0.05, 0.1, 0.15, 0.2] },
  parallel_limit: 4,
};

beforeAll(async () => {
  t = await startTestHost({ runtime: 'local' });
});

afterAll(async () => {
  await t?.close();
});

describe('experiment_plan_run', () => {
  it('runs 24 experiments with K=4 and the catalog answers across them', async () => {
    const progress: number[] = [];
    const plan = await call('experiment_plan_run', SIR_PLAN, (p) => progress.push(p.progress));
    expect(plan.total).toBe(24);
    expect(plan.finished).toBe(24);
    expect(plan.failed).toBe(0);
    expect(progress.at(-1)).toBe(24);

    const listed = await call('experiment_list', { plan_id: plan.plan_id, limit: 100 });
    expect((listed.experiments as Json[]).filter((e) => e.status === 'finished')).toHaveLength(24);
    expect(await t.host.containers.list()).toHaveLength(0);

    const peaks = await call('catalog_query', {
      sql: `SELECT experiment_id, max("Infected") AS peak FROM results GROUP BY experiment_id ORDER BY experiment_id`,
    });
    const rows = peaks.rows as { experiment_id: string; peak: number }[];
    expect(rows).toHaveLength(24);

    // Each experiment's own Parquet file, read independently of the catalog.
    const files = await call('catalog_query', {
      sql: `SELECT experiment_id, path, sha256 FROM artifacts WHERE path LIKE '%runs.parquet' ORDER BY experiment_id`,
    });
    const db = await (await DuckDBInstance.create(':memory:')).connect();
    for (const f of files.rows as { experiment_id: string; sha256: string }[]) {
      const blob = join(t.home, 'store', 'sha256', f.sha256.slice(0, 2), f.sha256.slice(2));
      const reader = await db.runAndReadAll(`SELECT max("Infected") AS peak FROM read_parquet('${blob}')`);
      const own = Number(reader.getRowObjects()[0]?.peak);
      const fromCatalog = rows.find((r) => r.experiment_id === f.experiment_id)?.peak;
      expect(fromCatalog).toBeCloseTo(own, 9);
      // Copied once: the store's blob is the host's copy out of the experiment (a link, one inode
      // with the results index's entry), and no staged copy is left behind.
      expect(statSync(blob).nlink).toBe(2);
    }
    expect(readdirSync(join(t.home, 'store', 'tmp'))).toEqual([]);
    // Higher contact rate × infectivity → higher peak (the parameters really reached each run).
    const metrics = await call('catalog_query', {
      sql: `SELECT e.config->>'$.fixed' AS fixed, m.value FROM metrics m JOIN experiments e USING (experiment_id) WHERE m.name LIKE '%Infected%' ORDER BY m.value`,
    });
    expect((metrics.rows as unknown[]).length).toBeGreaterThanOrEqual(24);
  }, 1_200_000);

  it('refuses bad plans with a message', async () => {
    const bad = async (args: Json, pattern: RegExp) => {
      const r = await t.client.callTool({ name: 'experiment_plan_run', arguments: args });
      expect(r.isError).toBe(true);
      expect(JSON.stringify(r.content)).toMatch(pattern);
    };
    await bad({ ...SIR_PLAN, parallel_limit: -1 }, /parallel_limit/);
    const huge = Object.fromEntries(
      Array.from({ length: 7 }, (_, i) => [`p${i}`, Array.from({ length: 10 }, (_, j) => j)]),
    );
    await bad({ ...SIR_PLAN, grid: huge }, /1\.00e\+7 experiments/);
    await bad(
      { ...SIR_PLAN, model: { source: 'no-such-model.mdl' } },
      /no-such-model\.mdl.* in .*inbox \(it does not exist yet\)/,
    );
    // Over MCP a plan never reads a host path (the CLI reads paths relative to its plan file).
    await bad({ ...SIR_PLAN, model: { source: join(REPO, 'notebooks/models/sir.mdl') } }, /is absolute/);
  });

  it('checks the plan against the model once, before any container starts', async () => {
    const started: string[] = [];
    const create = t.host.containers.create.bind(t.host.containers);
    t.host.containers.create = async (...args) => {
      started.push(String(args[0]?.experiment_id));
      return create(...args);
    };
    try {
      const misspelled = await t.client.callTool({
        name: 'experiment_plan_run',
        arguments: { ...SIR_PLAN, grid: { 'Contact Rte': [4, 6], Infectivity: [0.05, 0.1] } },
      });
      expect(misspelled.isError).toBe(true);
      expect(JSON.stringify(misspelled.content)).toMatch(
        /plan was not started.*unknown parameter 'Contact Rte'.*did you mean 'Contact Rate'/,
      );
      const broken = await t.client.callTool({
        name: 'experiment_plan_run',
        arguments: { ...SIR_PLAN, model: { source: 'broken.mdl', content: 'x = {{ not vensim' } },
      });
      expect(broken.isError).toBe(true);
      expect(JSON.stringify(broken.content)).toMatch(
        /plan was not started.*PySD cannot translate broken\.mdl/,
      );
      expect(started).toEqual([]);
      const listed = await call('experiment_list', { limit: 500 });
      expect((listed.experiments as Json[]).filter((e) => String(e.experiment_id).includes('Rte'))).toEqual(
        [],
      );
    } finally {
      t.host.containers.create = create;
    }
  });

  it('translates the model once per content: the cache entry is verified and a corrupt one rebuilt', async () => {
    const cache = join(t.home, 'pysd-cache');
    const entries = readdirSync(cache).filter((n) => !n.startsWith('.'));
    const sirEntry = entries.find((n) => {
      const e = JSON.parse(readFileSync(join(cache, n, 'entry.json'), 'utf8')) as { source_sha256: string };
      return e.source_sha256 === createHash('sha256').update(SIR_PLAN.model.content).digest('hex');
    });
    expect(sirEntry).toBeDefined();
    // Every experiment of the 24-experiment plan loaded that translation (a read-only copy of the
    // verified entry beside its model), none translated the model again.
    const experiments = readdirSync(join(t.home, 'experiments')).filter((n) => /^plan-.*-\d+$/.test(n));
    expect(experiments.length).toBeGreaterThanOrEqual(24);
    for (const id of experiments) {
      const models = join(t.home, 'experiments', id, 'work', '.peragus', 'models');
      const copies = readdirSync(models).flatMap((d) =>
        readdirSync(join(models, d))
          .filter((f) => f.endsWith('.py'))
          .map((f) => join(models, d, f)),
      );
      expect(copies.length, id).toBe(1);
      expect(statSync(copies[0] as string).mode & 0o777, `${id}: a copy of the shared translation`).toBe(
        0o444,
      );
    }
    const dir = join(cache, sirEntry as string);
    const entry = JSON.parse(readFileSync(join(dir, 'entry.json'), 'utf8')) as {
      py_file: string;
      py_sha256: string;
    };
    // Corrupt the cached translation: the next plan must detect it and translate again.
    writeFileSync(join(dir, entry.py_file), 'raise SystemExit("corrupt cache entry was loaded")\n');
    const plan = await call('experiment_plan_run', {
      ...SIR_PLAN,
      grid: { 'Contact Rate': [5], Infectivity: [0.1] },
    });
    expect(plan.finished).toBe(1);
    const rebuilt = readFileSync(join(dir, entry.py_file));
    expect(createHash('sha256').update(rebuilt).digest('hex')).toBe(entry.py_sha256);
  }, 600_000);
});
