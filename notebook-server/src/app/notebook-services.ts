// Composition of the notebook side shared by both roles: a warm kernel pool,
// the event bus and the session manager (sessions reopened from disk).

import { readSetting } from '../config/index.ts';
import type { Owner } from '../confine/walk.ts';
import { KernelPool, type KernelPoolOptions } from '../kernel/pool.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { EventBus } from '../notebook/events.ts';
import type { KernelSource } from '../notebook/kernel-slot.ts';
import { SessionManager } from '../notebook/manager.ts';

export interface NotebookServices {
  sessions: SessionManager;
  events: EventBus;
  pool: KernelPool;
  close(): Promise<void>;
}

export interface NotebookServicesOptions {
  /** Experiments root: sessions' work dirs and the session index. */
  root: string;
  /** Warm kernels kept ready (PERAGUS_POOL_SIZE, default 1). */
  poolSize?: number;
  /** Kernels the pool pre-starts in all (default unlimited; a node serving one experiment uses 1). */
  poolMaxStarts?: number;
  log?: Logger;
  /** The one work dir of every session (a server of one experiment): see SessionManagerOptions.workDir. */
  workDir?: string;
  /** How the pool starts its kernels (e.g. forked into an experiment's sandbox). */
  kernel?: Omit<KernelPoolOptions, 'size' | 'maxStarts'>;
  /** Who owns the files sessions make in their work dirs: see SessionManagerOptions.fileOwner. */
  fileOwner?: Owner;
  /** Whether sessions flush their writes to disk: see SessionManagerOptions.flush. */
  flush?: boolean | (() => boolean);
  /** Where sessions' kernels come from instead of the pool (which then starts none ahead). */
  kernelSource?: KernelSource;
}

export async function createNotebookServices(options: NotebookServicesOptions): Promise<NotebookServices> {
  const poolSize = options.kernelSource ? 0 : (options.poolSize ?? readSetting('poolSize'));
  const log = options.log ?? createLogger();
  const pool = new KernelPool({
    ...options.kernel,
    size: poolSize,
    ...(options.poolMaxStarts !== undefined ? { maxStarts: options.poolMaxStarts } : {}),
  });
  const events = new EventBus({
    onListenerError: (err) => log.warn(`peragus EventBus listener threw: ${String(err)}`),
  });
  const sessions = new SessionManager({
    root: options.root,
    bus: events,
    kernelSource: options.kernelSource ?? ((o) => pool.acquire(o)),
    ...(options.workDir ? { workDir: options.workDir } : {}),
    ...(options.fileOwner ? { fileOwner: options.fileOwner } : {}),
    ...(options.flush !== undefined ? { flush: options.flush } : {}),
  });
  const report = await sessions.reopenAll();
  for (const f of report.failed) {
    log.warn(`peragus: could not reopen session ${f.session_id} (${f.work_dir}): ${f.error}`);
  }
  return {
    sessions,
    events,
    pool,
    async close() {
      await sessions.close();
      await pool.shutdown();
    },
  };
}
