// A hive-partitioned view of the registered Parquet artifacts:
//   <home>/results/experiment_id=<id>/<sha256>.parquet   (hard links into the store)
// so one glob reads every experiment's results, and `WHERE experiment_id = …`
// prunes files by directory instead of opening all of them. The store stays the
// source of truth: this tree is derived from the catalog and rebuilt by
// reconcile() when it drifts (e.g. a crash between commit and link).
import { copyFile, link, mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

export const PARQUET_MEDIA_TYPE = 'application/vnd.apache.parquet';

export class ResultsIndex {
  constructor(readonly dir: string) {}

  /** The glob the `results` view reads. */
  get glob(): string {
    return join(this.dir, '*', '*.parquet');
  }

  experimentDir(experimentId: string): string {
    return join(this.dir, `experiment_id=${experimentId}`);
  }

  /** Makes the experiment's directory hold exactly these blobs (sha256 → store path). */
  async sync(experimentId: string, blobs: ReadonlyMap<string, string>): Promise<void> {
    const dir = this.experimentDir(experimentId);
    const present = new Set(await listParquet(dir));
    for (const name of present) {
      if (!blobs.has(name.slice(0, -'.parquet'.length))) await rm(join(dir, name), { force: true });
    }
    if (blobs.size === 0) {
      await rmdir(dir).catch(() => undefined);
      return;
    }
    await mkdir(dir, { recursive: true });
    for (const [sha, storePath] of blobs) {
      if (present.has(`${sha}.parquet`)) continue;
      await linkOrCopy(storePath, join(dir, `${sha}.parquet`));
    }
  }

  /** Brings the whole tree in line with the catalog: experiment_id → (sha256 → store path). */
  async reconcile(expected: ReadonlyMap<string, ReadonlyMap<string, string>>): Promise<void> {
    const dirs = await readdir(this.dir).catch(() => [] as string[]);
    for (const d of dirs) {
      const id = d.startsWith('experiment_id=') ? d.slice('experiment_id='.length) : undefined;
      if (id === undefined || !expected.has(id))
        await rm(join(this.dir, d), { recursive: true, force: true });
    }
    for (const [id, blobs] of expected) await this.sync(id, blobs);
  }

  /** Whether any Parquet file is indexed (a glob over none is an error in DuckDB). */
  async hasAny(): Promise<boolean> {
    const dirs = await readdir(this.dir).catch(() => [] as string[]);
    for (const d of dirs) if ((await listParquet(join(this.dir, d))).length > 0) return true;
    return false;
  }
}

async function listParquet(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.parquet'));
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    // Hard links fail across file systems or where they are not supported.
    if (code === 'EXDEV' || code === 'EPERM' || code === 'ENOTSUP') await copyFile(from, to);
    else throw err;
  }
}
