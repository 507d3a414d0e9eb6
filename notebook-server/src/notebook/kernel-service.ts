// The kernels clients reach directly (Jupyter's /api/kernels): every notebook
// session's kernel (id = the session id, stable across restarts) plus
// standalone kernels started on request. This service owns their lifecycles —
// start, list, interrupt, restart, shutdown, and the shutdown of every
// standalone kernel on close — like jupyter_server's MultiKernelManager; the
// HTTP face (http/jupyter/) maps routes and WebSockets onto it.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KERNELSPEC } from '../../../srcmd/src/ipynb.ts';
import { startKernel } from '../kernel/start.ts';
import type { Kernel } from '../kernel/types.ts';
import { NotebookError } from './errors.ts';
import type { EventBus, SessionState } from './events.ts';
import type { KernelSource } from './kernel-slot.ts';
import type { SessionManager } from './manager.ts';
import type { Session } from './session.ts';

export const KERNEL_NAME = KERNELSPEC.name;
/** Names a client may ask for; all mean our PySD kernel. */
const KERNEL_ALIASES = new Set([KERNEL_NAME, 'python3', 'python']);

export class KernelNotFoundError extends NotebookError {
  constructor(readonly kernelId: string) {
    super('kernel_not_found', `Kernel does not exist: ${kernelId}`);
  }
}

export class KernelSpecNotFoundError extends NotebookError {
  constructor(readonly specName: string) {
    super('kernel_spec_not_found', `No such kernel spec: ${specName}`);
  }
}

/** A session's kernel belongs to its experiment: it stops with the session, not on its own. */
export class SessionKernelError extends NotebookError {
  constructor(readonly kernelId: string) {
    super(
      'session_kernel',
      `kernel ${kernelId} belongs to notebook session ${kernelId}; delete the session (notebook_delete) to stop it`,
    );
  }
}

export interface KernelInfo {
  id: string;
  name: string;
  /** A notebook session's kernel, or one started on its own. */
  kind: 'session' | 'standalone';
  last_activity: string;
  execution_state: string;
}

/** What happened to a kernel id: its kernel may have been replaced, or the id is gone. */
export type KernelChange = 'replaced' | 'gone';

export interface KernelServiceOptions {
  sessions: Pick<SessionManager, 'list' | 'has' | 'get'>;
  events: EventBus;
  /** PERAGUS_HOME: standalone kernels run in `<home>/jupyter`. */
  home: string;
  /** Starts a standalone kernel (default: a cold start of the PySD kernelspec). */
  startKernel?: KernelSource;
}

interface Standalone {
  id: string;
  kernel: Kernel;
  lastActivity: Date;
}

function sessionExecutionState(state: SessionState): string {
  switch (state) {
    case 'not_started':
      return 'idle';
    case 'closed':
      return 'dead';
    default:
      return state;
  }
}

export class KernelService {
  readonly #options: KernelServiceOptions;
  readonly #standalone = new Map<string, Standalone>();
  /** Last client activity on a session's kernel (a standalone kernel keeps its own). */
  readonly #activity = new Map<string, Date>();
  readonly #listeners = new Set<(id: string, change: KernelChange) => void>();
  readonly #unsubscribe: () => void;

  constructor(options: KernelServiceOptions) {
    this.#options = options;
    // A session's kernel is replaced on restart (by anyone) and gone when the session closes.
    this.#unsubscribe = options.events.subscribe(
      (e) => {
        const closed = e.type === 'notebook.state.changed' && e.state === 'closed';
        if (closed) this.#activity.delete(e.session_id);
        this.#notify(e.session_id, closed ? 'gone' : 'replaced');
      },
      { types: ['notebook.state.changed'] },
    );
  }

  /** Refuses a kernel spec name that is not ours (no name means ours). */
  static checkName(name: string | undefined): void {
    if (name !== undefined && name !== '' && !KERNEL_ALIASES.has(name))
      throw new KernelSpecNotFoundError(name);
  }

  /** Calls `listener` when a kernel id's kernel is replaced or the id goes away; returns the unsubscribe. */
  onChange(listener: (id: string, change: KernelChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  list(): KernelInfo[] {
    return [
      ...this.#options.sessions.list().map((s) => this.#sessionInfo(s)),
      ...[...this.#standalone.values()].map((k) => this.#standaloneInfo(k)),
    ];
  }

  has(id: string): boolean {
    return this.#standalone.has(id) || this.#options.sessions.has(id);
  }

  info(id: string): KernelInfo {
    const s = this.#standalone.get(id);
    if (s) return this.#standaloneInfo(s);
    return this.#sessionInfo(this.#session(id));
  }

  async start(name?: string): Promise<KernelInfo> {
    KernelService.checkName(name);
    const workDir = join(this.#options.home, 'jupyter');
    await mkdir(workDir, { recursive: true });
    const start = this.#options.startKernel ?? ((o: { workDir: string }) => startKernel(o));
    const kernel = await start({ workDir });
    const entry: Standalone = { id: kernel.id, kernel, lastActivity: new Date() };
    this.#standalone.set(entry.id, entry);
    return this.#standaloneInfo(entry);
  }

  async interrupt(id: string): Promise<void> {
    const s = this.#standalone.get(id);
    if (s) return s.kernel.interrupt();
    // Interrupt the kernel itself, not the session's queue: a client's own
    // execution on a session kernel is not a queued cell.
    const kernel = this.#session(id).kernel;
    if (kernel) await kernel.interrupt();
  }

  async restart(id: string): Promise<KernelInfo> {
    const s = this.#standalone.get(id);
    if (s) {
      await s.kernel.restart();
      this.#notify(id, 'replaced');
      return this.#standaloneInfo(s);
    }
    const session = this.#session(id);
    await session.restart();
    this.#notify(id, 'replaced');
    return this.#sessionInfo(session);
  }

  /** Standalone kernels stop; a session's kernel belongs to its experiment and is refused. */
  async shutdown(id: string): Promise<void> {
    const s = this.#standalone.get(id);
    if (s) {
      this.#standalone.delete(id);
      this.#notify(id, 'gone');
      await s.kernel.shutdown();
      return;
    }
    this.#session(id);
    throw new SessionKernelError(id);
  }

  /** The live kernel of `id`, or null when none runs right now (a session starts its own on demand). */
  current(id: string): Kernel | null {
    const s = this.#standalone.get(id);
    if (s) return s.kernel;
    const { sessions } = this.#options;
    return sessions.has(id) ? sessions.get(id).kernel : null;
  }

  /** The kernel of `id`, starting a session's kernel if needed (as a queued cell would). */
  async ensure(id: string): Promise<Kernel> {
    const s = this.#standalone.get(id);
    if (s) return s.kernel;
    return this.#session(id).acquireKernel();
  }

  /** Records client activity on a kernel (its last_activity). */
  touch(id: string): void {
    const s = this.#standalone.get(id);
    if (s) s.lastActivity = new Date();
    else this.#activity.set(id, new Date());
  }

  /** Stops every standalone kernel; sessions' kernels stop with their sessions. */
  async close(): Promise<void> {
    this.#unsubscribe();
    const all = [...this.#standalone.values()];
    this.#standalone.clear();
    for (const s of all) this.#notify(s.id, 'gone');
    this.#listeners.clear();
    await Promise.all(all.map((s) => s.kernel.shutdown().catch(() => {})));
  }

  #notify(id: string, change: KernelChange): void {
    for (const listener of this.#listeners) listener(id, change);
  }

  #session(id: string): Session {
    if (!this.#options.sessions.has(id)) throw new KernelNotFoundError(id);
    return this.#options.sessions.get(id);
  }

  #sessionInfo(s: Session): KernelInfo {
    return {
      id: s.id,
      name: KERNEL_NAME,
      kind: 'session',
      last_activity: (this.#activity.get(s.id) ?? new Date(s.info().updated_at)).toISOString(),
      execution_state: sessionExecutionState(s.state),
    };
  }

  #standaloneInfo(s: Standalone): KernelInfo {
    return {
      id: s.id,
      name: KERNEL_NAME,
      kind: 'standalone',
      last_activity: s.lastActivity.toISOString(),
      execution_state: s.kernel.status,
    };
  }
}
