// Persistence of one session in its work dir:
//   <work_dir>/<base>.src.md               the notebook (srcmd), the record of the experiment
//   <work_dir>/<base>.outputs.json         its outputs and execution counts (srcmd bundle)
//   <work_dir>/.peragus/sessions/<id>.json session metadata and cell run status
//   <work_dir>/.peragus/sessions/<id>.seq  event seq reservation
// Every write goes to a temp file in the same directory and is renamed over
// the target, so a crash leaves either the old or the new file, never half of one.
// No link in the work dir is followed, reading or writing: the kernel can plant
// them there, and a host that serves the session itself runs as root
// (confine/: directories are pinned by no-follow descriptors first).
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import {
  notebookPaths,
  readNotebookFiles,
  writeFileAtomic,
  writeNotebookFiles,
} from '../../../srcmd/src/fs.ts';
import type { Cell, Notebook } from '../../../srcmd/src/nbformat.ts';
import { inDirInside, readInside, unlinkInside, withDirInside } from '../confine/fs.ts';
import { confineRelative, PathError } from '../confine/relative.ts';
import { UnchangedFiles } from '../confine/unchanged.ts';
import type { Owner } from '../confine/walk.ts';
import { writeStateFile } from '../runtime/state-file.ts';
import { CellError, CellRunStatus } from './events.ts';

export { writeFileAtomic };

export const SESSION_FORMAT = 'peragus.session/1';

export const CellRun = z.object({
  status: CellRunStatus,
  started_at: z.string().optional(),
  completed_at: z.string().optional(),
  duration_ms: z.number().nonnegative().optional(),
  error: CellError.optional(),
});
export type CellRun = z.infer<typeof CellRun>;

/** A session's metadata: `<work_dir>/.peragus/sessions/<id>.json` (cells live in the srcmd files). */
/** A session id (cells.ts newId): it names files in the work dir, so nothing else is one. */
export const SessionId = z
  .string()
  .regex(/^[A-Za-z0-9][\w-]{0,63}$/, 'a session id (letters, digits, "_", "-")');

export const SessionRecord = z.object({
  format: z.literal(SESSION_FORMAT),
  id: SessionId,
  experiment_id: z.string(),
  name: z.string(),
  work_dir: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  /** The notebook files are `<work_dir>/<notebook_base>.src.md` and `.outputs.json`. */
  notebook_base: z
    .string()
    .regex(/^[A-Za-z0-9][\w.-]*$/, 'a file name in the work dir (letters, digits, ".", "_", "-")'),
  /** Last event seq issued when this record was written. */
  seq: z.number().int().nonnegative(),
  /** Run status of code cells by cell id (cells never run are absent). */
  runs: z.record(z.string(), CellRun).default({}),
});
export type SessionRecord = z.infer<typeof SessionRecord>;

/** The session records' directory, relative to the work dir. */
const SESSION_DIR = '.peragus/sessions';
const IN_WORK_DIR = { where: "the session's work dir" };

export function sessionDir(workDir: string): string {
  return join(workDir, SESSION_DIR);
}
export function sessionFile(workDir: string, id: string): string {
  return join(sessionDir(workDir), `${id}.json`);
}

/** Where `path` (a path in the work dir) is, relative to it; a path outside is refused. */
const inWorkDir = (workDir: string, path: string) => confineRelative(relative(workDir, path), IN_WORK_DIR);

/** A file's text inside the work dir, read without following a link; null when it is not there. */
export function readTextInside(workDir: string, rel: string): string | null {
  try {
    return readInside(workDir, rel, IN_WORK_DIR).toString('utf8');
  } catch (err) {
    if (err instanceof PathError && err.code === 'not_found') return null;
    throw err;
  }
}

/** A persisted session as read back: metadata + the notebook's cells with their outputs. */
export interface StoredSession {
  record: SessionRecord;
  cells: Cell[];
}

/**
 * Reads a session from the work dir it was found in (which wins over the
 * recorded one: a volume may be mounted elsewhere after a restart).
 */
export async function loadSession(workDir: string, id: string): Promise<StoredSession> {
  const path = sessionFile(workDir, id);
  if (!SessionId.safeParse(id).success) throw new Error(`${path}: "${id}" is not a session id`);
  const text = readTextInside(workDir, `${SESSION_DIR}/${id}.json`);
  if (text === null) throw new Error(`${path}: the session record does not exist`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = SessionRecord.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${path}: invalid session record at ${issue?.path.join('.') || '<root>'}: ${issue?.message}`,
    );
  }
  if (parsed.data.id !== id)
    throw new Error(`${path}: the record is session ${parsed.data.id}'s, not ${id}'s`);
  // A saved seq reservation may be ahead of the record (events emitted after the last save).
  let seq = parsed.data.seq;
  try {
    const reserved = readTextInside(workDir, `${SESSION_DIR}/${id}.seq`);
    if (reserved !== null) seq = Math.max(seq, Number.parseInt(reserved, 10) || 0);
  } catch {
    // an unreadable reservation: the record's seq stands
  }
  // Outputs of a cell deleted by hand from the .src.md are dropped, not fatal. The base comes
  // from the record, which lives in the work dir: it is confined like any path there.
  const notebook = await readNotebookFiles(
    workDir,
    parsed.data.notebook_base,
    { unknownCells: 'drop' },
    (p) => readTextInside(workDir, inWorkDir(workDir, p)),
  );
  return { record: { ...parsed.data, work_dir: workDir, seq }, cells: notebook.cells };
}

/** A file base for the notebook from the session's name, not taken in the work dir. */
export function pickNotebookBase(workDir: string, name: string, id: string): string {
  const slug =
    name
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'notebook';
  // Several sessions of one experiment share its work dir: never take over another's notebook.
  return existsSync(notebookPaths(workDir, slug).srcmd) ? `${slug}-${id}` : slug;
}

/**
 * Saves a session's record, coalescing bursts: save() resolves once a write
 * that started after the call has finished, so the caller's change is on disk.
 */
export class SessionStore {
  #chain: Promise<void> = Promise.resolve();
  readonly #files: UnchangedFiles;
  #next: Promise<void> | null = null;
  #seqReserved: number;

  readonly #snapshot: () => { record: SessionRecord; notebook: Notebook };
  readonly #seqBlock: number;
  /** Owner of the files and directories made in the work dir (the experiment's user). */
  readonly owner: Owner | undefined;
  /** Each write is flushed to disk. */
  readonly sync: boolean;

  constructor(
    readonly workDir: string,
    readonly id: string,
    snapshot: () => { record: SessionRecord; notebook: Notebook },
    initialSeq: number,
    {
      owner,
      seqBlock = 1000,
      sync = true,
    }: {
      /** Owner of the files and directories made in the work dir (the experiment's user). */
      owner?: Owner | undefined;
      /** How many event seqs one reservation on disk covers. */
      seqBlock?: number;
      /** Flush each write to disk (false: a scratch experiment's session, see SessionManagerOptions.flush). */
      sync?: boolean;
    } = {},
  ) {
    this.owner = owner;
    this.sync = sync;
    this.#files = new UnchangedFiles({ ...(owner ? { owner } : {}), sync });
    this.#snapshot = snapshot;
    this.#seqBlock = seqBlock;
    this.#seqReserved = initialSeq;
  }

  /** Directories made on the way are the owner's too. */
  get #made() {
    return { ...IN_WORK_DIR, create: true, ...(this.owner ? { owner: this.owner } : {}) };
  }

  save(): Promise<void> {
    if (this.#next) return this.#next;
    const next = this.#chain.then(async () => {
      this.#next = null;
      const { record, notebook } = this.#snapshot();
      // Notebook first: it holds the outputs, the part a crash must not lose.
      await withDirInside(this.workDir, '.', IN_WORK_DIR, async (work) => {
        const pinned = (path: string) => join(work, inWorkDir(this.workDir, path));
        const write = (path: string, text: string) => this.#files.write(path, text, pinned(path));
        await writeNotebookFiles(this.workDir, record.notebook_base, notebook, write);
      });
      await withDirInside(this.workDir, SESSION_DIR, this.#made, (dir) =>
        this.#files.write(
          sessionFile(this.workDir, this.id),
          `${JSON.stringify(record, null, 1)}\n`,
          join(dir, `${this.id}.json`),
        ),
      );
    });
    this.#next = next;
    this.#chain = next.catch(() => {});
    return next;
  }

  /**
   * Called before an event with this seq is emitted. Seqs are reserved on disk
   * in blocks (synchronously, once per block), so after a crash the reopened
   * session starts above any seq a client may have seen.
   */
  reserveSeq(seq: number): void {
    if (seq <= this.#seqReserved) return;
    try {
      inDirInside(this.workDir, SESSION_DIR, this.#made, (dir) =>
        writeStateFile(join(dir, `${this.id}.seq`), String(seq + this.#seqBlock), {
          ...(this.owner ? { owner: this.owner } : {}),
          sync: this.sync,
        }),
      );
      this.#seqReserved = seq + this.#seqBlock;
    } catch {
      // Not written (e.g. disk full): the event still goes out and the next
      // event tries again; the session record's own seq covers a restart.
    }
  }

  get seqReserved(): number {
    return this.#seqReserved;
  }

  /** Waits for pending writes, then removes the session's metadata (the notebook files stay: they are the record). */
  async remove(): Promise<void> {
    await this.#chain;
    for (const ext of ['json', 'seq']) {
      try {
        unlinkInside(this.workDir, `${SESSION_DIR}/${this.id}.${ext}`, IN_WORK_DIR);
      } catch (err) {
        if (!(err instanceof PathError)) throw err; // a planted link on the way: nothing of ours is there
      }
    }
  }

  /** Resolves when every save requested so far has finished (successfully or not). */
  flush(): Promise<void> {
    return this.#chain;
  }
}

/** Runs read back from disk: one that was queued or running when the server stopped can no longer finish. */
export function settleStaleRuns(saved: Record<string, CellRun>): Map<string, CellRun> {
  const runs = new Map(Object.entries(saved));
  for (const [id, run] of runs) {
    if (run.status === 'queued') runs.set(id, { ...run, status: 'cancelled' });
    if (run.status === 'running') {
      const evalue = 'the server stopped while this cell was running';
      runs.set(id, {
        ...run,
        status: 'error',
        error: { kind: 'kernel_died', ename: 'ServerStopped', evalue, traceback: [] },
      });
    }
  }
  return runs;
}
