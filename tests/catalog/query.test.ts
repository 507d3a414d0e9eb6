import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../notebook-server/src/catalog/catalog.ts';
import type { CatalogError } from '../../notebook-server/src/catalog/errors.ts';
import { catalogQuery, experimentList } from '../../notebook-server/src/catalog/tools.ts';
import { sirSelect, tempDir, writeParquet } from './helpers.ts';

describe('catalog_query', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let cat: Catalog;
  const peaks: Record<string, number> = { 'sir-a': 120.5, 'sir-b': 333, 'sir-c': 42.25 };

  beforeAll(async () => {
    ({ dir: home, cleanup } = await tempDir());
    cat = await Catalog.open({ home: join(home, 'peragus') });
    // Before anything is registered, `results` exists and is empty.
    expect((await cat.query('SELECT count(*) AS n FROM results')).rows).toEqual([{ n: 0 }]);
    for (const [id, peak] of Object.entries(peaks)) {
      const pq = await writeParquet(join(home, `${id}.parquet`), sirSelect(peak));
      await cat.registerResult({
        experiment_id: id,
        plan_id: 'grid',
        session_id: `s-${id}`,
        artifacts: [{ path: pq, name: 'results.parquet' }],
        metrics: { peak_infected: peak, contact_rate: peak / 10, final_recovered: 500 },
      });
    }
    await writeFile(join(home, 'secret.csv'), 'a,b\n1,2\n');
  });
  afterAll(async () => {
    cat.close();
    await cleanup();
  });

  const refusal = (sql: string) =>
    cat.query(sql).then(
      () => 'accepted',
      (e: CatalogError) => `${e.code}: ${e.message}`,
    );

  it('peak infected per experiment from the registered Parquet files matches each file', async () => {
    const r = await cat.query(
      `SELECT experiment_id, artifact, max("Infected") AS peak_infected, count(*) AS n
       FROM results GROUP BY ALL ORDER BY experiment_id`,
    );
    expect(r.columns.map((c) => c.name)).toEqual(['experiment_id', 'artifact', 'peak_infected', 'n']);
    expect(r.columns.find((c) => c.name === 'peak_infected')?.type).toBe('DOUBLE');
    expect(r.row_count).toBe(3);
    expect(r.truncated).toBe(false);
    for (const row of r.rows) {
      const id = row.experiment_id as string;
      // Each file checked on its own, independently of the view.
      const own = await cat.query(
        `SELECT max("Infected") AS peak FROM read_parquet('${(await cat.getArtifacts(id))?.[0]?.store_path}')`,
      );
      expect(row.peak_infected).toBeCloseTo(own.rows[0]?.peak as number, 9);
      expect(row.peak_infected).toBeCloseTo(peaks[id] as number, 9);
      expect(row).toMatchObject({ artifact: 'results.parquet', n: 101 });
    }
  });

  it('joins results with metrics and experiments, and filters one experiment', async () => {
    const r = await cat.query(
      `SELECT e.experiment_id, m.value AS contact_rate, max(r."Infected") AS peak
       FROM experiments e JOIN metrics m ON m.experiment_id = e.experiment_id AND m.name = 'contact_rate'
       JOIN results r ON r.experiment_id = e.experiment_id
       WHERE e.status = 'finished' GROUP BY ALL ORDER BY peak DESC`,
    );
    expect(r.rows.map((x) => x.experiment_id)).toEqual(['sir-b', 'sir-a', 'sir-c']);
    const one = await cat.query(`SELECT max("Infected") AS p FROM results WHERE experiment_id = 'sir-c'`);
    expect(one.rows[0]?.p).toBeCloseTo(42.25);
    const agg = await cat.query(
      `SELECT name, avg(value) AS mean, count(*) AS n FROM metrics GROUP BY name ORDER BY name`,
    );
    expect(agg.rows).toContainEqual({ name: 'final_recovered', mean: 500, n: 3 });
  });

  it('returns JSON-safe values', async () => {
    const r = await cat.query(
      `SELECT 9007199254740993::BIGINT AS big, 42::HUGEINT AS small, TIMESTAMPTZ '2024-01-02 03:04:05+00' AS ts,
        'nan'::DOUBLE AS nan, [1, 2] AS list, {'a': 1::BIGINT} AS s, 1.5::DECIMAL(10, 2) AS d, NULL AS z`,
    );
    expect(r.rows[0]).toEqual({
      big: '9007199254740993',
      small: 42,
      ts: '2024-01-02T03:04:05.000Z',
      nan: 'NaN',
      list: [1, 2],
      s: { a: 1 },
      d: 1.5,
      z: null,
    });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it.each([
    ["INSERT INTO metrics VALUES ('sir-a', 'x', 1)", /only SELECT .* INSERT/],
    ['UPDATE metrics SET value = 0', /only SELECT .* UPDATE/],
    ['DELETE FROM metrics', /only SELECT .* DELETE/],
    ['DROP TABLE metrics', /only SELECT .* DROP/],
    ['CREATE TABLE t AS SELECT 1', /only SELECT .* CREATE/],
    ["ATTACH '/tmp/x.duckdb' AS x", /only SELECT .* ATTACH/],
    ["COPY metrics TO '/tmp/out.csv'", /outside the results store/],
    ['INSTALL httpfs', /only SELECT .* (EXTENSION|INSTALL|LOAD)/],
    ['LOAD httpfs', /only SELECT .* LOAD/],
    ['SET enable_external_access = true', /only SELECT .* SET/],
    ['PRAGMA enable_profiling', /only SELECT/],
    ['CHECKPOINT', /only SELECT/],
    ['EXPLAIN ANALYZE DELETE FROM metrics', /only SELECT .* EXPLAIN/],
    ['SELECT 1; DELETE FROM metrics', /one statement per query/],
    ["SELECT * FROM read_csv('/etc/passwd')", /outside the results store/],
    ["SELECT * FROM read_text('/etc/hostname')", /outside the results store/],
    ["SELECT * FROM glob('/etc/*')", /outside the results store/],
    ["SELECT * FROM read_parquet('https://example.com/x.parquet')", /outside the results store/],
  ])('refuses %s', async (sql, message) => {
    const msg = await refusal(sql);
    expect(msg).toMatch(/^query_refused: /);
    expect(msg).toMatch(message);
  });

  it('refuses reading files outside the store, even via .. or a sibling of the store', async () => {
    expect(await refusal(`SELECT * FROM read_csv('${join(home, 'secret.csv')}')`)).toMatch(
      /outside the results store/,
    );
    expect(await refusal(`SELECT * FROM read_csv('${cat.home}/store/../../secret.csv')`)).toMatch(
      /outside the results store/,
    );
    expect(await refusal(`SELECT * FROM read_parquet('${join(home, 'sir-a.parquet')}')`)).toMatch(
      /outside the results store/,
    );
    expect(await refusal(`SELECT * FROM read_blob('${cat.home}/*')`)).toMatch(/outside the results store/);
    // Writing into the store is a COPY statement: refused by type before it runs.
    expect(await refusal(`COPY (SELECT 1) TO '${cat.home}/store/out.parquet'`)).toMatch(
      /only SELECT .* COPY/,
    );
    // Nothing was changed by any refused query.
    expect((await cat.query('SELECT count(*) AS n FROM metrics')).rows).toEqual([{ n: 9 }]);
  });

  it('applies the row limit and says when it truncated', async () => {
    const r = await cat.query('SELECT * FROM range(5000)', { rowLimit: 10 });
    expect(r.row_count).toBe(10);
    expect(r.truncated).toBe(true);
    expect(r.rows[9]).toEqual({ range: 9 });
    const all = await cat.query('SELECT * FROM results');
    expect(all.row_count).toBe(303);
    expect(all.truncated).toBe(false);
    const def = await cat.query('SELECT * FROM range(2500)');
    expect([def.row_count, def.truncated]).toEqual([1000, true]);
  });

  it('interrupts a query that runs past the time limit, and stays usable', async () => {
    const started = performance.now();
    const msg = await cat
      .query('SELECT count(*) FROM range(100000000) a, range(100000000) b', { timeoutMs: 300 })
      .then(
        () => 'finished',
        (e: CatalogError) => `${e.code}: ${e.message}`,
      );
    expect(msg).toMatch(/^query_timeout: .*300 ms/);
    expect(performance.now() - started).toBeLessThan(5000);
    expect((await cat.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    // Parallel queries share the pool and all complete.
    const many = await Promise.all(Array.from({ length: 6 }, (_, i) => cat.query(`SELECT ${i} AS i`)));
    expect(many.map((m) => m.rows[0]?.i)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('tool adapters take the snake_case MCP inputs', async () => {
    const r = await catalogQuery(cat, { sql: 'SELECT * FROM range(10)', row_limit: 3 });
    expect([r.row_count, r.truncated]).toEqual([3, true]);
    await expect(catalogQuery(cat, { sql: 'SELECT 1', row_limit: 0 })).rejects.toThrow(/invalid input/);
    const list = await experimentList(cat, { plan_id: 'grid', limit: 2 });
    expect(list.total).toBe(3);
    expect(list.experiments.map((e) => e.experiment_id)).toEqual(['sir-a', 'sir-b']);
    expect(list.experiments[0]?.metrics).toEqual({
      contact_rate: 12.05,
      final_recovered: 500,
      peak_infected: 120.5,
    });
  });

  it('reports SQL errors without refusing', async () => {
    expect(await refusal('SELEC 1')).toMatch(/^query_failed: .*syntax error/i);
    expect(await refusal('SELECT * FROM no_such_table')).toMatch(/^query_failed: .*no_such_table/);
    expect(await refusal('   ')).toMatch(/^invalid_input/);
  });
});
