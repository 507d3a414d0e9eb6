// All sessions of one server: create / get / list / delete, and reopening
// every persisted session when the server starts again.
import { readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../confine/atomic.ts';
import { inDirInside, unlinkInside } from '../confine/fs.ts';
import { PathError } from '../confine/relative.ts';
import type { Owner } from '../confine/walk.ts';
import { experimentIdProblem } from '../ids/index.ts';
import { newId } from './cells.ts';
import { InvalidCellError, SessionNotFoundError } from './errors.ts';
import { EventBus } from './events.ts';
import type { KernelSource } from './kernel-slot.ts';
import { Session } from './session.ts';
import {
  loadSession,
  pickNotebookBase,
  readTextInside,
  SESSION_FORMAT,
  SessionId,
  type SessionRecord,
} from './store.ts';

export interface SessionManagerOptions {
  /** Experiments root: default work dirs are `<root>/<experiment_id>`, the session index is `<root>/.sessions/`. */
  root: string;
  /** Where kernels come from, e.g. `(o) => pool.acquire(o)` or `(o) => startKernel(o)`. */
  kernelSource: KernelSource;
  bus?: EventBus;
  /**
   * The one work dir of every session (a server of one experiment, whose root is that work dir):
   * sessions are made there, and a pointer naming any other is refused on reopen (the kernel
   * can write pointers there, and the server may run as root).
   */
  workDir?: string;
  /** Who owns the files sessions make in their work dirs (the experiment's user, under a root server). */
  fileOwner?: Owner;
  /**
   * Whether each write of a session's notebook and record is flushed to disk (default true). False
   * for a scratch experiment (a plan's): its results are registered, flushed, in the catalog, and
   * a crash reruns it from the start, so its work dir's files are never read back after one.
   * A function is asked at each session's creation (a warm-pool node learns it at hand-over).
   */
  flush?: boolean | (() => boolean);
}

export interface CreateSessionOptions {
  name: string;
  experiment_id?: string;
  /** Defaults to `<root>/<experiment_id>`; relative paths resolve against the process's cwd. */
  work_dir?: string;
}

export interface ReopenReport {
  reopened: Session[];
  failed: { session_id: string; work_dir: string | null; error: string }[];
}

/** `<root>/.sessions/<id>.json`: where to find a session whose work dir may live anywhere. */
const POINTERS = '.sessions';
/** The root can be an experiment's work dir, where the kernel writes too: no link there is followed. */
const IN_ROOT = { where: 'the sessions root' };
const Pointer = z.object({ session_id: SessionId, work_dir: z.string() });

export class SessionManager {
  readonly root: string;
  readonly bus: EventBus;
  readonly #kernelSource: KernelSource;
  readonly #sessions = new Map<string, Session>();
  readonly #workDir: string | undefined;
  readonly #fileOwner: Owner | undefined;
  readonly #flush: () => boolean;

  constructor(options: SessionManagerOptions) {
    this.root = resolve(options.root);
    this.bus = options.bus ?? new EventBus();
    this.#kernelSource = options.kernelSource;
    this.#workDir = options.workDir === undefined ? undefined : resolve(options.workDir);
    this.#fileOwner = options.fileOwner;
    const flush = options.flush ?? true;
    this.#flush = typeof flush === 'function' ? flush : () => flush;
  }

  async create(options: CreateSessionOptions): Promise<Session> {
    const name = options.name?.trim();
    if (!name) throw new InvalidCellError('a session needs a non-empty name');
    const experimentId = options.experiment_id ?? `exp_${newId()}`;
    // The experiment id names a directory: keep it from escaping the root.
    const problem = experimentIdProblem(experimentId);
    if (problem) throw new InvalidCellError(problem);
    let id = newId();
    while (this.#sessions.has(id)) id = newId();
    const workDir = this.#workDir ?? resolve(options.work_dir ?? join(this.root, experimentId));
    await mkdir(workDir, { recursive: true });
    const now = new Date().toISOString();
    const record: SessionRecord = {
      format: SESSION_FORMAT,
      id,
      experiment_id: experimentId,
      name,
      work_dir: workDir,
      created_at: now,
      updated_at: now,
      notebook_base: pickNotebookBase(workDir, name, id),
      seq: 0,
      runs: {},
    };
    const session = new Session({
      stored: { record, cells: [] },
      kernelSource: this.#kernelSource,
      bus: this.bus,
      fileOwner: this.#fileOwner,
      flush: this.#flush(),
    });
    await session.save();
    const owner = this.#fileOwner ? { owner: this.#fileOwner } : {};
    await mkdir(this.root, { recursive: true }); // the root is the server's own choice
    inDirInside(this.root, POINTERS, { ...IN_ROOT, create: true, ...owner }, (dir) =>
      writeFileAtomic(join(dir, `${id}.json`), `${JSON.stringify({ session_id: id, work_dir: workDir })}\n`, {
        mkdir: false,
        sync: session.flush,
        ...owner,
      }),
    );
    this.#adopt(session, 'created');
    return session;
  }

  /** The session, or SessionNotFoundError. */
  get(sessionId: string): Session {
    const session = this.#sessions.get(sessionId);
    if (!session) throw new SessionNotFoundError(sessionId);
    return session;
  }

  has(sessionId: string): boolean {
    return this.#sessions.has(sessionId);
  }

  list(filter: { experiment_id?: string } = {}): Session[] {
    return [...this.#sessions.values()].filter(
      (s) => filter.experiment_id === undefined || s.experimentId === filter.experiment_id,
    );
  }

  /** Shuts the kernel down and forgets the session (its notebook files and artifacts in the work dir stay). */
  async delete(sessionId: string): Promise<void> {
    const session = this.get(sessionId);
    this.#sessions.delete(sessionId);
    await session.destroy();
    try {
      unlinkInside(this.root, `${POINTERS}/${sessionId}.json`, IN_ROOT);
    } catch (err) {
      if (!(err instanceof PathError)) throw err; // a link planted on the way: no pointer of ours there
    }
  }

  /**
   * Reopens every persisted session not already open, with its cells and
   * completed outputs. Kernels start lazily on the next execute. A session
   * whose files are missing or corrupt is reported, not fatal.
   */
  async reopenAll(): Promise<ReopenReport> {
    const report: ReopenReport = { reopened: [], failed: [] };
    let names: string[];
    try {
      names = inDirInside(this.root, POINTERS, IN_ROOT, (dir) => readdirSync(dir))
        .filter((n) => n.endsWith('.json'))
        .sort();
    } catch (err) {
      if (err instanceof PathError && err.code === 'not_found') return report;
      throw err;
    }
    for (const file of names) {
      const fallbackId = file.slice(0, -'.json'.length);
      let workDir: string | null = null;
      try {
        const text = readTextInside(this.root, `${POINTERS}/${file}`);
        if (text === null) continue; // removed since the listing
        const pointer = Pointer.parse(JSON.parse(text));
        workDir = pointer.work_dir;
        if (this.#workDir !== undefined && resolve(workDir) !== this.#workDir) {
          throw new Error(`the pointer names the work dir ${workDir}, not this server's ${this.#workDir}`);
        }
        if (this.#sessions.has(pointer.session_id)) continue;
        const stored = await loadSession(pointer.work_dir, pointer.session_id);
        const session = new Session({
          stored,
          kernelSource: this.#kernelSource,
          bus: this.bus,
          fileOwner: this.#fileOwner,
          flush: this.#flush(),
        });
        this.#adopt(session, 'reopened');
        report.reopened.push(session);
      } catch (err) {
        report.failed.push({ session_id: fallbackId, work_dir: workDir, error: (err as Error).message });
      }
    }
    return report;
  }

  /** Tracks a session made or reopened here and tells subscribers it exists. */
  #adopt(session: Session, reason: 'created' | 'reopened'): void {
    this.#sessions.set(session.id, session);
    session.emit({
      type: 'notebook.state.changed',
      cell_id: null,
      state: session.state,
      running_cell_id: null,
      queued_cell_ids: [],
      reason,
    });
  }

  /** Stops every session's kernel; persisted state stays for reopenAll (server shutdown). */
  async close(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(sessions.map((s) => s.close()));
  }
}
