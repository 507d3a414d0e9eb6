import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../notebook-server/src/catalog/catalog.ts';
import { CatalogError } from '../../notebook-server/src/catalog/errors.ts';
import {
  LATEST_SCHEMA_VERSION,
  migrate,
  schemaVersion,
} from '../../notebook-server/src/catalog/migrations.ts';
import { sirSelect, tempDir, writeParquet } from './helpers.ts';

describe('catalog migrations', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir: home, cleanup } = await tempDir());
  });
  afterEach(() => cleanup());

  it('migrates an empty database to the latest version, and re-opening keeps version and data', async () => {
    const cat = await Catalog.open({ home });
    await cat.upsertExperiment({
      experiment_id: 'e1',
      status: 'running',
      plan_id: 'p1',
      config: { beta: 0.3 },
    });
    const before = await cat.query('SELECT max(version) AS v, count(*) AS n FROM schema_version');
    expect(before.rows).toEqual([{ v: LATEST_SCHEMA_VERSION, n: LATEST_SCHEMA_VERSION }]);
    cat.close();

    const again = await Catalog.open({ home });
    const after = await again.query('SELECT max(version) AS v, count(*) AS n FROM schema_version');
    expect(after.rows).toEqual(before.rows);
    const e = await again.getExperiment('e1');
    expect(e).toMatchObject({ experiment_id: 'e1', status: 'running', plan_id: 'p1', config: { beta: 0.3 } });
    expect(e?.started_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The public query surface has at least the columns of ARCHITECTURE.md.
    const cols = await again.query(
      `SELECT table_name, list(column_name ORDER BY column_name) AS cols FROM information_schema.columns
       WHERE table_name IN ('experiments', 'artifacts', 'metrics') GROUP BY ALL ORDER BY table_name`,
    );
    const byTable = Object.fromEntries(cols.rows.map((r) => [r.table_name, r.cols as string[]]));
    expect(byTable.experiments).toEqual(
      expect.arrayContaining([
        'experiment_id',
        'plan_id',
        'status',
        'config',
        'started_at',
        'finished_at',
        'error',
      ]),
    );
    expect(byTable.artifacts).toEqual(
      expect.arrayContaining(['experiment_id', 'path', 'sha256', 'bytes', 'media_type']),
    );
    expect(byTable.metrics).toEqual(expect.arrayContaining(['experiment_id', 'name', 'value']));
    again.close();
  });

  it('applies only the missing migrations, in order, each with its version row', async () => {
    const inst = await DuckDBInstance.create(join(home, 'm.duckdb'));
    const conn = await inst.connect();
    const steps = [
      { version: 1, name: 'a', statements: ['CREATE TABLE a (x INTEGER)'] },
      { version: 2, name: 'b', statements: ['ALTER TABLE a ADD COLUMN y INTEGER'] },
    ];
    expect(await migrate(conn, steps.slice(0, 1))).toEqual({ from: 0, to: 1 });
    expect(await migrate(conn, steps)).toEqual({ from: 1, to: 2 });
    expect(await migrate(conn, steps)).toEqual({ from: 2, to: 2 });
    expect(await schemaVersion(conn)).toBe(2);
    // A failing migration leaves the previous version intact.
    const bad = [
      ...steps,
      { version: 3, name: 'c', statements: ['CREATE TABLE c (x INTEGER)', 'SELEC nonsense'] },
    ];
    await expect(migrate(conn, bad)).rejects.toThrow(/migration 3/);
    expect(await schemaVersion(conn)).toBe(2);
    const c = await conn.runAndReadAll(
      "SELECT count(*) FROM information_schema.tables WHERE table_name = 'c'",
    );
    expect(Number(c.getRows()[0]?.[0])).toBe(0);
    // A database from a newer Peragus is refused.
    await expect(migrate(conn, steps.slice(0, 1))).rejects.toThrow(/newer than this Peragus/);
    conn.closeSync();
    inst.closeSync();
  });

  it('opens read-only when nobody holds the file, and refuses writes then', async () => {
    const cat = await Catalog.open({ home });
    await cat.upsertExperiment({ experiment_id: 'e1' });
    const pq = await writeParquet(join(home, 'r.parquet'), sirSelect(77));
    await cat.registerResult({ experiment_id: 'e2', session_id: 's', artifacts: [{ path: pq }] });
    cat.close();
    // What `peragus catalog query` does when no server holds the catalog.
    const ro = await Catalog.open({ home, readOnly: true });
    expect((await ro.listExperiments()).total).toBe(2);
    const peak = await ro.query('SELECT experiment_id, max("Infected") AS p FROM results GROUP BY ALL');
    expect(peak.rows).toEqual([{ experiment_id: 'e2', p: 77 }]);
    expect(
      await ro.query("INSERT INTO metrics VALUES ('e1', 'x', 1)").catch((e: CatalogError) => e.code),
    ).toBe('query_refused');
    const err = await ro.upsertExperiment({ experiment_id: 'e3' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CatalogError);
    expect((err as CatalogError).code).toBe('read_only');
    ro.close();
  });

  it('refuses a second open of the same file in one process', async () => {
    const cat = await Catalog.open({ home });
    await expect(Catalog.open({ home })).rejects.toThrow(/already open in this process/);
    cat.close();
  });

  it('read-only open of a home without a catalog says so', async () => {
    await expect(Catalog.open({ home, readOnly: true })).rejects.toThrow(/no catalog/);
  });
});
