import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PARQUET_MEDIA_TYPE } from '../../notebook-server/src/artifacts/index.ts';
import { Catalog, type CatalogChange } from '../../notebook-server/src/catalog/catalog.ts';
import { type CatalogError, ChecksumMismatchError } from '../../notebook-server/src/catalog/errors.ts';
import { sirSelect, tempDir, writeParquet, writeText } from './helpers.ts';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

describe('registerResult', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let cat: Catalog;
  beforeEach(async () => {
    ({ dir: home, cleanup } = await tempDir());
    cat = await Catalog.open({ home: join(home, 'peragus') });
  });
  afterEach(async () => {
    cat.close();
    await cleanup();
  });

  async function rowCounts(id: string) {
    const r = await cat.query(`SELECT
      (SELECT count(*) FROM experiments WHERE experiment_id = '${id}') AS experiments,
      (SELECT count(*) FROM artifacts WHERE experiment_id = '${id}') AS artifacts,
      (SELECT count(*) FROM metrics WHERE experiment_id = '${id}') AS metrics`);
    return r.rows[0];
  }

  it('copies artifacts into the store and writes experiment, artifact, metric and lineage rows', async () => {
    const pq = await writeParquet(join(home, 'results.parquet'), sirSelect(300));
    const csv = await writeText(join(home, 'out.csv'), 'a,b\n1,2\n');
    const changes: CatalogChange[] = [];
    cat.onChange((_id, c) => changes.push(c));
    const out = await cat.registerResult({
      experiment_id: 'sir-001',
      plan_id: 'plan-a',
      container_id: 'c-1',
      session_id: 's-1',
      config: { contact_rate: 5 },
      artifacts: [
        { path: pq, sha256: sha(await readFile(pq)) },
        { path: csv, name: 'tables/out.csv' },
      ],
      metrics: { peak_infected: 300, peak_time: 50 },
    });
    expect(out.outcome).toBe('registered');
    expect(out.status).toBe('finished');
    expect(out.metrics).toEqual({ peak_infected: 300, peak_time: 50 });
    expect(out.artifacts.map((a) => [a.path, a.media_type])).toEqual([
      ['results.parquet', PARQUET_MEDIA_TYPE],
      ['tables/out.csv', 'text/csv'],
    ]);
    for (const a of out.artifacts) {
      expect(a.store_path.startsWith(join(cat.home, 'store', 'sha256'))).toBe(true);
      expect(sha(await readFile(a.store_path))).toBe(a.sha256);
    }
    expect(changes).toEqual([{ experiment_id: 'sir-001', kind: 'result' }]);

    const summary = await cat.getSummary('sir-001');
    expect(summary).toMatchObject({
      experiment_id: 'sir-001',
      plan_id: 'plan-a',
      status: 'finished',
      config: { contact_rate: 5 },
      container_id: 'c-1',
      session_id: 's-1',
      artifact_count: 2,
      metrics: { peak_infected: 300, peak_time: 50 },
    });
    expect(summary?.finished_at).toBeTruthy();
    const lineage = await cat.getLineage('sir-001');
    expect(lineage.map((e) => `${e.parent_kind}:${e.parent_id}->${e.child_kind}`)).toEqual(
      expect.arrayContaining([
        'experiment:sir-001->container',
        'container:c-1->session',
        'session:s-1->artifact',
      ]),
    );
    expect(await cat.getArtifacts('nope')).toBeNull();
    expect(await cat.getMetrics('nope')).toBeNull();
    expect(await cat.getSummary('nope')).toBeNull();
  });

  it('is idempotent: registering the same result twice leaves one row set', async () => {
    const pq = await writeParquet(join(home, 'r.parquet'), sirSelect(120));
    const input = {
      experiment_id: 'e-1',
      session_id: 's-1',
      artifacts: [{ path: pq }],
      metrics: [
        { name: 'peak', value: 120 },
        { name: 'final', value: 3 },
      ],
    };
    const first = await cat.registerResult(input);
    const changes: string[] = [];
    cat.onChange((id) => changes.push(id));
    const second = await cat.registerResult({ ...input, metrics: { final: 3, peak: 120 } });
    expect(first.outcome).toBe('registered');
    expect(second.outcome).toBe('unchanged');
    expect(second.result_digest).toBe(first.result_digest);
    expect(await rowCounts('e-1')).toEqual({ experiments: 1, artifacts: 1, metrics: 2 });
    expect(changes).toEqual([]);
    // Concurrent duplicates (a retry racing the original) also end as one row set.
    const many = await Promise.all(
      [1, 2, 3].map(() => cat.registerResult({ ...input, experiment_id: 'e-2' })),
    );
    expect(many.map((m) => m.outcome).sort()).toEqual(['registered', 'unchanged', 'unchanged']);
    expect(await rowCounts('e-2')).toEqual({ experiments: 1, artifacts: 1, metrics: 2 });
  });

  it('refuses a different result for a finished experiment unless replace is set', async () => {
    const a = await writeParquet(join(home, 'a.parquet'), sirSelect(100));
    const b = await writeParquet(join(home, 'b.parquet'), sirSelect(200));
    await cat.registerResult({
      experiment_id: 'e',
      session_id: 's',
      artifacts: [{ path: a, name: 'r.parquet' }],
    });
    const err = await cat
      .registerResult({ experiment_id: 'e', session_id: 's', artifacts: [{ path: b, name: 'r.parquet' }] })
      .catch((e: unknown) => e);
    expect((err as CatalogError).code).toBe('result_conflict');
    expect((err as Error).message).toMatch(/replace: true/);
    const q1 = await cat.query(`SELECT max("Infected") AS peak FROM results WHERE experiment_id = 'e'`);
    expect(q1.rows[0]?.peak).toBeCloseTo(100);

    const replaced = await cat.registerResult({
      experiment_id: 'e',
      session_id: 's2',
      artifacts: [{ path: b, name: 'r.parquet' }],
      metrics: { peak: 200 },
      replace: true,
    });
    expect(replaced.outcome).toBe('replaced');
    expect(await rowCounts('e')).toEqual({ experiments: 1, artifacts: 1, metrics: 1 });
    const q2 = await cat.query(
      `SELECT max("Infected") AS peak, count(*) AS n FROM results WHERE experiment_id = 'e'`,
    );
    expect(q2.rows[0]?.peak).toBeCloseTo(200);
    expect(q2.rows[0]?.n).toBe(101);
    // A failed result is not final: the retry's result replaces it.
    await cat.registerResult({
      experiment_id: 'f',
      session_id: 's',
      status: 'failed',
      error: 'diverged',
      metrics: { t: 1 },
    });
    await cat.upsertExperiment({ experiment_id: 'f', status: 'running' });
    const retry = await cat.registerResult({
      experiment_id: 'f',
      session_id: 's2',
      artifacts: [{ path: a }],
    });
    expect(retry.outcome).toBe('replaced');
    expect(await cat.getSummary('f')).toMatchObject({ status: 'finished', error: null, metrics: {} });
    // A registered finished result is final for status transitions too.
    await expect(cat.upsertExperiment({ experiment_id: 'e', status: 'running' })).rejects.toThrow(
      /already has a registered result/,
    );
  });

  it('keeps one lineage edge each, whichever writes repeat them (plain inserts only where none can exist)', async () => {
    const edges = async (id: string) =>
      (await cat.getLineage(id))
        .map((e) => `${e.parent_kind}:${e.parent_id}->${e.child_kind}:${e.child_id}`)
        .sort();
    const a = await writeParquet(join(home, 'a.parquet'), sirSelect(100));
    const b = await writeParquet(join(home, 'b.parquet'), sirSelect(200));
    const [sa, sb] = [sha(await readFile(a)), sha(await readFile(b))];
    // A plan's path: running without a container, then the result with both ids.
    expect(await cat.getExperimentState('p')).toBeNull();
    await cat.upsertExperiment({ experiment_id: 'p', status: 'running' });
    expect(await edges('p')).toEqual([]);
    expect(await cat.getExperimentState('p')).toEqual({ status: 'running', result_digest: null });
    const done = await cat.registerResult({
      experiment_id: 'p',
      container_id: 'c',
      session_id: 's',
      artifacts: [{ path: a }],
    });
    expect(await cat.getExperimentState('p')).toEqual({
      status: 'finished',
      result_digest: done.result_digest,
    });
    expect(await edges('p')).toEqual([
      'container:c->session:s',
      'experiment:p->container:c',
      `session:s->artifact:${sa}`,
    ]);
    // An agent's path: the ids named by upserts first, repeated, then the result, then a replacement.
    await cat.upsertExperiment({ experiment_id: 'q', status: 'running', container_id: 'c' });
    await cat.upsertExperiment({ experiment_id: 'q', status: 'running', container_id: 'c', session_id: 's' });
    await cat.upsertExperiment({ experiment_id: 'q', status: 'running', session_id: 's' });
    expect(await edges('q')).toEqual(['container:c->session:s', 'experiment:q->container:c']);
    await cat.registerResult({
      experiment_id: 'q',
      session_id: 's',
      artifacts: [{ path: a }, { path: a, name: 'copy.parquet' }],
    });
    await cat.registerResult({
      experiment_id: 'q',
      session_id: 's',
      artifacts: [{ path: b }],
      replace: true,
    });
    expect(await edges('q')).toEqual([
      'container:c->session:s',
      'experiment:q->container:c',
      `session:s->artifact:${sb}`,
    ]);
    // A failed result (no artifacts), then the retry's from another session.
    await cat.registerResult({ experiment_id: 'r', session_id: 's8', status: 'failed', error: 'diverged' });
    await cat.registerResult({ experiment_id: 'r', session_id: 's9', artifacts: [{ path: a }] });
    await cat.registerResult({ experiment_id: 'r', session_id: 's9', artifacts: [{ path: a }] });
    expect(await edges('r')).toEqual([
      'experiment:r->session:s8',
      'experiment:r->session:s9',
      `session:s9->artifact:${sa}`,
    ]);
  });

  it('rejects a checksum mismatch with nothing written (no rows, no blobs)', async () => {
    const good = await writeParquet(join(home, 'good.parquet'), sirSelect(50));
    const other = await writeText(join(home, 'other.csv'), 'x\n1\n');
    const err = await cat
      .registerResult({
        experiment_id: 'bad',
        session_id: 's',
        artifacts: [{ path: good }, { path: other, sha256: sha('something else') }],
        metrics: { m: 1 },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as Error).message).toContain(other);
    expect(await cat.getSummary('bad')).toBeNull();
    expect(await rowCounts('bad')).toEqual({ experiments: 0, artifacts: 0, metrics: 0 });
    expect(await readdir(join(cat.home, 'store', 'sha256')).catch(() => [])).toEqual([]);
    expect(await readdir(join(cat.home, 'results'))).toEqual([]);
  });

  it('refuses bad input with clear messages', async () => {
    const f = await writeText(join(home, 'x.parquet'), 'not parquet at all');
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: CatalogError) => `${e.code}: ${e.message}`,
      );
    expect(await codeOf(cat.registerResult({ experiment_id: '../etc', session_id: 's' }))).toMatch(
      /invalid_input: .*experiment_id/,
    );
    expect(
      await codeOf(cat.registerResult({ experiment_id: 'e', session_id: 's', artifacts: [{ path: f }] })),
    ).toMatch(/invalid_artifact: .*not a Parquet file/);
    expect(
      await codeOf(
        cat.registerResult({
          experiment_id: 'e',
          session_id: 's',
          artifacts: [{ path: join(home, 'missing') }],
        }),
      ),
    ).toMatch(/invalid_artifact: cannot read artifact/);
    expect(
      await codeOf(
        cat.registerResult({
          experiment_id: 'e',
          session_id: 's',
          artifacts: [{ path: f, name: '../x', media_type: 'text/plain' }],
        }),
      ),
    ).toMatch(/invalid_input: .*relative path/);
    expect(await cat.getSummary('e')).toBeNull();
  });

  it('rebuilds the results index on open when it drifted from the catalog (e.g. a crash after commit)', async () => {
    const pq = await writeParquet(join(home, 'r.parquet'), sirSelect(64));
    const out = await cat.registerResult({ experiment_id: 'k', session_id: 's', artifacts: [{ path: pq }] });
    cat.close();
    await rm(join(home, 'peragus', 'results', 'experiment_id=k'), { recursive: true });
    const ghost = join(home, 'peragus', 'results', 'experiment_id=ghost', `sha256=${'0'.repeat(64)}`);
    await mkdir(ghost, { recursive: true });
    await writeParquet(join(ghost, 'data.parquet'), 'SELECT 1 AS x');
    cat = await Catalog.open({ home: join(home, 'peragus') });
    expect(await readdir(join(cat.home, 'results'))).toEqual(['experiment_id=k']);
    const r = await cat.query(
      'SELECT experiment_id, artifact_sha256, max("Infected") AS p FROM results GROUP BY ALL',
    );
    expect(r.rows).toEqual([{ experiment_id: 'k', artifact_sha256: out.artifacts[0]?.sha256, p: 64 }]);
  });

  it('results spans experiments whose Parquet files have different columns', async () => {
    const a = await writeParquet(join(home, 'a.parquet'), sirSelect(10));
    const b = await writeParquet(
      join(home, 'b.parquet'),
      'SELECT range::DOUBLE AS time, 7.5 AS "Infected", 1 AS run FROM range(3)',
    );
    const c = await writeParquet(join(home, 'c.parquet'), 'SELECT 2 AS run, 99 AS other');
    await cat.registerResult({ experiment_id: 'a', session_id: 's', artifacts: [{ path: a }] });
    const same = await cat.query('SELECT count(*) AS n, max("Infected") AS p FROM results');
    expect(same.rows).toEqual([{ n: 101, p: 10 }]);
    await cat.registerResult({ experiment_id: 'b', session_id: 's', artifacts: [{ path: b }, { path: c }] });
    const r = await cat.query(
      `SELECT experiment_id, artifact, count(*) AS n, max("Infected") AS p, max(run) AS run, max(other) AS other
       FROM results GROUP BY ALL ORDER BY ALL`,
    );
    expect(r.rows).toEqual([
      { experiment_id: 'a', artifact: 'a.parquet', n: 101, p: 10, run: null, other: null },
      { experiment_id: 'b', artifact: 'b.parquet', n: 3, p: 7.5, run: 1, other: null },
      { experiment_id: 'b', artifact: 'c.parquet', n: 1, p: null, run: 2, other: 99 },
    ]);
  });

  it('handles concurrent registrations, reads and queries', async () => {
    const files = await Promise.all(
      Array.from({ length: 12 }, (_, i) => writeParquet(join(home, `p${i}.parquet`), sirSelect(i + 1))),
    );
    const work: Promise<unknown>[] = files.map((path, i) =>
      cat.registerResult({
        experiment_id: `c${i}`,
        session_id: `s${i}`,
        artifacts: [{ path }],
        metrics: { i },
      }),
    );
    for (let i = 0; i < 12; i++) {
      work.push(
        cat.listExperiments(),
        cat.query('SELECT count(*) AS n FROM results'),
        cat.getSummary(`c${i}`),
      );
    }
    await Promise.all(work);
    const r = await cat.query('SELECT count(DISTINCT experiment_id) AS e, count(*) AS n FROM results');
    expect(r.rows).toEqual([{ e: 12, n: 12 * 101 }]);
    expect((await cat.listExperiments({ status: 'finished' })).total).toBe(12);
  });

  it('upsertExperiment tracks status transitions with timestamps and errors', async () => {
    const seen: string[] = [];
    cat.onChange((id, c) => seen.push(`${id}:${c.kind}`));
    const q = await cat.upsertExperiment({
      experiment_id: 'x',
      plan_id: 'p',
      config: { k: 1 },
      seeds: [1, 2],
    });
    expect(q).toMatchObject({ status: 'queued', started_at: null, seeds: [1, 2] });
    const r = await cat.upsertExperiment({
      experiment_id: 'x',
      status: 'running',
      container_id: 'c',
      session_id: 's',
    });
    expect(r.started_at).not.toBeNull();
    expect(r.config).toEqual({ k: 1 });
    const f = await cat.upsertExperiment({ experiment_id: 'x', status: 'failed', error: 'kernel died' });
    expect(f).toMatchObject({ status: 'failed', error: 'kernel died' });
    expect(f.finished_at).not.toBeNull();
    // A retry: back to running clears the error and the end time.
    const again = await cat.upsertExperiment({ experiment_id: 'x', status: 'running', container_id: 'c2' });
    expect(again).toMatchObject({ status: 'running', error: null, finished_at: null, container_id: 'c2' });
    const containers = (await cat.getLineage('x'))
      .filter((e) => e.child_kind === 'container')
      .map((e) => e.child_id);
    expect(containers.sort()).toEqual(['c', 'c2']);
    const list = await cat.listExperiments({ status: ['running'], plan_id: 'p' });
    expect(list.total).toBe(1);
    expect(list.experiments[0]?.experiment_id).toBe('x');
    expect((await cat.listExperiments({ status: 'finished' })).total).toBe(0);
    expect(seen).toEqual(['x:experiment', 'x:experiment', 'x:experiment', 'x:experiment']);
  });

  it('a second process cannot open the catalog while this one holds it (CatalogLockedError)', async () => {
    const script = `import { Catalog } from ${JSON.stringify(join(process.cwd(), 'notebook-server/src/catalog/catalog.ts'))};
      try { await Catalog.open({ home: process.argv[1], readOnly: true }); console.log('opened'); }
      catch (e) { console.log(e.code + ' ' + e.pid + ' ' + e.message); }`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, cat.home],
      { cwd: process.cwd() },
    );
    expect(stdout).toContain(`catalog_locked ${process.pid}`);
    expect(stdout).toMatch(/catalog_query/);
  });
});
