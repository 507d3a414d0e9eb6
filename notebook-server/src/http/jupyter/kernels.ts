// The kernels Jupyter clients see: every notebook session's kernel (id = the
// session id, stable across restarts) plus standalone kernels started through
// POST /api/kernels.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KERNELSPEC } from '../../../../srcmd/src/ipynb.ts';
import { startKernel } from '../../kernel/start.ts';
import type { Kernel } from '../../kernel/types.ts';
import type { SessionState } from '../../notebook/events.ts';
import type { Session } from '../../notebook/session.ts';
import type { HostContext } from '../context.ts';
import { HttpError } from '../errors.ts';
import { type BridgeSource, KernelBridge } from './bridge.ts';

export const KERNEL_NAME = KERNELSPEC.name;
/** Names a Jupyter client may ask for; all mean our PySD kernel. */
const KERNEL_ALIASES = new Set([KERNEL_NAME, 'python3', 'python']);

export interface KernelModel {
  id: string;
  name: string;
  last_activity: string;
  execution_state: string;
  connections: number;
}

interface Standalone {
  id: string;
  kernel: Kernel;
  lastActivity: Date;
  bridge?: KernelBridge;
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

export class KernelRegistry {
  readonly #standalone = new Map<string, Standalone>();
  readonly #sessionBridges = new Map<string, KernelBridge>();
  readonly #activity = new Map<string, Date>();
  readonly #unsubscribe: () => void;

  constructor(private readonly ctx: HostContext) {
    // A session's kernel is replaced on restart (by anyone): bridges follow it.
    this.#unsubscribe = ctx.events.subscribe(
      (e) => {
        this.#sessionBridges.get(e.session_id)?.refresh();
        if (e.type === 'notebook.state.changed' && e.state === 'closed') this.#dropSession(e.session_id);
      },
      { types: ['notebook.state.changed'] },
    );
  }

  static checkName(name: string | undefined): void {
    if (name !== undefined && name !== '' && !KERNEL_ALIASES.has(name)) {
      throw new HttpError(404, `No such kernel spec: ${name}`, 'NoSuchKernel');
    }
  }

  list(): KernelModel[] {
    return [
      ...this.ctx.sessions.list().map((s) => this.#sessionModel(s)),
      ...[...this.#standalone.values()].map((k) => this.#standaloneModel(k)),
    ];
  }

  has(id: string): boolean {
    return this.#standalone.has(id) || this.ctx.sessions.has(id);
  }

  model(id: string): KernelModel {
    const s = this.#standalone.get(id);
    if (s) return this.#standaloneModel(s);
    return this.#sessionModel(this.#session(id));
  }

  async start(name?: string): Promise<KernelModel> {
    KernelRegistry.checkName(name);
    const workDir = join(this.ctx.home, 'jupyter');
    await mkdir(workDir, { recursive: true });
    const kernel = this.ctx.startKernel
      ? await this.ctx.startKernel({ workDir })
      : await startKernel({ workDir });
    const entry: Standalone = { id: kernel.id, kernel, lastActivity: new Date() };
    this.#standalone.set(entry.id, entry);
    return this.#standaloneModel(entry);
  }

  async interrupt(id: string): Promise<void> {
    const s = this.#standalone.get(id);
    if (s) return s.kernel.interrupt();
    // Interrupt the kernel itself, not the session's queue: a Jupyter client's own
    // execution on a session kernel is not a queued cell.
    const kernel = this.#session(id).kernel;
    if (kernel) await kernel.interrupt();
  }

  async restart(id: string): Promise<KernelModel> {
    const s = this.#standalone.get(id);
    if (s) {
      await s.kernel.restart();
      s.bridge?.refresh();
      return this.#standaloneModel(s);
    }
    const session = this.#session(id);
    await session.restart();
    this.#sessionBridges.get(id)?.refresh();
    return this.#sessionModel(session);
  }

  /** Standalone kernels stop; a session's kernel belongs to its experiment and is refused. */
  async shutdown(id: string): Promise<void> {
    const s = this.#standalone.get(id);
    if (s) {
      this.#standalone.delete(id);
      s.bridge?.close();
      await s.kernel.shutdown();
      return;
    }
    this.#session(id);
    throw new HttpError(
      409,
      `kernel ${id} belongs to notebook session ${id}; delete the session (notebook_delete) to stop it`,
      'SessionKernel',
    );
  }

  bridge(id: string): KernelBridge {
    const s = this.#standalone.get(id);
    const log = this.ctx.log ?? (() => {});
    if (s) {
      const source: BridgeSource = { current: () => s.kernel, ensure: async () => s.kernel };
      s.bridge ??= new KernelBridge(source, { log, onActivity: () => (s.lastActivity = new Date()) });
      return s.bridge;
    }
    const session = this.#session(id);
    let bridge = this.#sessionBridges.get(id);
    if (!bridge) {
      // The session starts its kernel on demand, as a queued cell would.
      const source: BridgeSource = { current: () => session.kernel, ensure: () => session.acquireKernel() };
      bridge = new KernelBridge(source, { log, onActivity: () => this.#activity.set(id, new Date()) });
      this.#sessionBridges.set(id, bridge);
    }
    return bridge;
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    for (const b of this.#sessionBridges.values()) b.close();
    this.#sessionBridges.clear();
    const all = [...this.#standalone.values()];
    this.#standalone.clear();
    await Promise.all(
      all.map(async (s) => {
        s.bridge?.close();
        await s.kernel.shutdown().catch(() => {});
      }),
    );
  }

  #dropSession(id: string): void {
    this.#sessionBridges.get(id)?.close();
    this.#sessionBridges.delete(id);
    this.#activity.delete(id);
  }

  #session(id: string): Session {
    if (!this.ctx.sessions.has(id)) throw new HttpError(404, `Kernel does not exist: ${id}`, 'NoSuchKernel');
    return this.ctx.sessions.get(id);
  }

  #sessionModel(s: Session): KernelModel {
    return {
      id: s.id,
      name: KERNEL_NAME,
      last_activity: (this.#activity.get(s.id) ?? new Date(s.info().updated_at)).toISOString(),
      execution_state: sessionExecutionState(s.state),
      connections: this.#sessionBridges.get(s.id)?.connections ?? 0,
    };
  }

  #standaloneModel(s: Standalone): KernelModel {
    return {
      id: s.id,
      name: KERNEL_NAME,
      last_activity: s.lastActivity.toISOString(),
      execution_state: s.kernel.status,
      connections: s.bridge?.connections ?? 0,
    };
  }
}
