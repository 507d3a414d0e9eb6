// A hive-partitioned view of the registered Parquet artifacts:
//   <home>/results/experiment_id=<id>/sha256=<sha>/data.parquet   (hard links into the store)
// so `results` reads every experiment's files with their experiment_id and
// sha256 as columns for free, and `WHERE experiment_id = …` skips the other
// files. The store stays the source of truth: this tree is derived from the
// catalog and rebuilt by reconcile() when it drifts (e.g. a crash between
// commit and link).
import { copyFile, link, mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

const EXP_PREFIX = 'experiment_id=';
const SHA_PREFIX = 'sha256=';
const FILE = 'data.parquet';

export class ResultsIndex {
  constructor(readonly dir: string) {}

  fileFor(experimentId: string, sha256: string): string {
    return join(this.dir, `${EXP_PREFIX}${experimentId}`, `${SHA_PREFIX}${sha256}`, FILE);
  }

  /** Makes the experiment's directory hold exactly these blobs (sha256 → store path). */
  async sync(experimentId: string, blobs: ReadonlyMap<string, string>): Promise<void> {
    const dir = join(this.dir, `${EXP_PREFIX}${experimentId}`);
    const present = new Set<string>();
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const sha = name.startsWith(SHA_PREFIX) ? name.slice(SHA_PREFIX.length) : undefined;
      if (sha !== undefined && blobs.has(sha)) present.add(sha);
      else await rm(join(dir, name), { recursive: true, force: true });
    }
    if (blobs.size === 0) {
      await rmdir(dir).catch(() => undefined);
      return;
    }
    for (const [sha, storePath] of blobs) {
      const file = this.fileFor(experimentId, sha);
      if (present.has(sha) && (await readdir(join(file, '..')).catch(() => [] as string[])).includes(FILE))
        continue;
      await mkdir(join(file, '..'), { recursive: true });
      await linkOrCopy(storePath, file);
    }
  }

  /** Brings the whole tree in line with the catalog: experiment_id → (sha256 → store path). */
  async reconcile(expected: ReadonlyMap<string, ReadonlyMap<string, string>>): Promise<void> {
    const dirs = await readdir(this.dir).catch(() => [] as string[]);
    for (const d of dirs) {
      const id = d.startsWith(EXP_PREFIX) ? d.slice(EXP_PREFIX.length) : undefined;
      if (id === undefined || !expected.has(id))
        await rm(join(this.dir, d), { recursive: true, force: true });
    }
    for (const [id, blobs] of expected) await this.sync(id, blobs);
  }
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
