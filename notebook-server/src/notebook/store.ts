// Persistence of one session in its work dir. Every write goes to a temp file
// in the same directory and is renamed over the target, so a crash leaves
// either the old or the new file, never half of one.
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { Notebook } from '../../../srcmd/src/nbformat.ts';
import { CellError, CellRunStatus } from './events.ts';

export const SESSION_FORMAT = 'peragus.session/1';

export const CellRun = z.object({
  status: CellRunStatus,
  started_at: z.string().optional(),
  completed_at: z.string().optional(),
  duration_ms: z.number().nonnegative().optional(),
  error: CellError.optional(),
});
export type CellRun = z.infer<typeof CellRun>;

/** The authoritative saved state of a session: `<work_dir>/.peragus/sessions/<id>.json`. */
export const SessionRecord = z.object({
  format: z.literal(SESSION_FORMAT),
  id: z.string(),
  experiment_id: z.string(),
  name: z.string(),
  work_dir: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  /** Last event seq issued when this record was written. */
  seq: z.number().int().nonnegative(),
  notebook: Notebook,
  /** Run status of code cells by cell id (cells never run are absent). */
  runs: z.record(z.string(), CellRun).default({}),
});
export type SessionRecord = z.infer<typeof SessionRecord>;

export function sessionDir(workDir: string): string {
  return join(workDir, '.peragus', 'sessions');
}
export function sessionFile(workDir: string, id: string): string {
  return join(sessionDir(workDir), `${id}.json`);
}
function seqFile(workDir: string, id: string): string {
  return join(sessionDir(workDir), `${id}.seq`);
}

function tempName(path: string): string {
  return join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
}

/** Writes data to path via temp file + fsync + rename. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempName(path);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data, 'utf8');
    // Without fsync a power loss after rename can leave an empty file under the new name.
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function writeFileAtomicSync(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  writeFileSync(tmp, data, 'utf8');
  renameSync(tmp, path);
}

export async function readSessionRecord(workDir: string, id: string): Promise<SessionRecord> {
  const path = sessionFile(workDir, id);
  const text = await readFile(path, 'utf8');
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
  // A saved seq reservation may be ahead of the record (events emitted after the last save).
  let seq = parsed.data.seq;
  try {
    seq = Math.max(seq, Number.parseInt(await readFile(seqFile(workDir, id), 'utf8'), 10) || 0);
  } catch {
    // no reservation written yet
  }
  return { ...parsed.data, seq };
}

/**
 * Saves a session's record, coalescing bursts: save() resolves once a write
 * that started after the call has finished, so the caller's change is on disk.
 */
export class SessionStore {
  #chain: Promise<void> = Promise.resolve();
  #next: Promise<void> | null = null;
  #seqReserved: number;

  constructor(
    readonly workDir: string,
    readonly id: string,
    private readonly snapshot: () => SessionRecord,
    initialSeq: number,
    private readonly seqBlock = 1000,
  ) {
    this.#seqReserved = initialSeq;
  }

  save(): Promise<void> {
    if (this.#next) return this.#next;
    const next = this.#chain.then(() => {
      this.#next = null;
      return writeFileAtomic(
        sessionFile(this.workDir, this.id),
        `${JSON.stringify(this.snapshot(), null, 1)}\n`,
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
    this.#seqReserved = seq + this.seqBlock;
    writeFileAtomicSync(seqFile(this.workDir, this.id), String(this.#seqReserved));
  }

  get seqReserved(): number {
    return this.#seqReserved;
  }

  /** Waits for pending writes, then removes the session's files (the work dir's other files stay). */
  async remove(): Promise<void> {
    await this.#chain;
    await rm(sessionFile(this.workDir, this.id), { force: true });
    await rm(seqFile(this.workDir, this.id), { force: true });
  }

  /** Resolves when every save requested so far has finished (successfully or not). */
  flush(): Promise<void> {
    return this.#chain;
  }
}
