// The local sandboxes whose sessions this host serves itself (no node process in them): the
// kernel zygote forks each session's kernel into its sandbox. Tracks which they are, opens
// their sessions once the sandbox is finished, and closes them before the sandbox goes.
import type { ChildProcess } from 'node:child_process';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Zygote } from '../kernel/zygote.ts';
import { forkOwner } from '../sandbox/bwrap.ts';
import { SANDBOX_HOLDER } from './kernel-sandbox.ts';
import type { SandboxCgroups } from './local-cgroups.ts';
import { waitForExec } from './local-process.ts';
import type { LocalRecord } from './local-record.ts';
import { sandboxEnded } from './local-spawn.ts';
import { ContainerRuntimeError, type HostSessionServer } from './types.ts';

export class HostedSandboxes {
  readonly #server: HostSessionServer | undefined;
  readonly #served = new Set<string>();
  readonly #readyTimeoutMs: number;

  /** `server` undefined: this host serves no sandbox's sessions (each runs a node). */
  constructor(server: HostSessionServer | undefined, readyTimeoutMs: number) {
    this.#server = server;
    this.#readyTimeoutMs = readyTimeoutMs;
  }

  get server(): HostSessionServer | undefined {
    return this.#server;
  }

  has(containerId: string): boolean {
    return this.#served.has(containerId);
  }

  /**
   * Serves a sandbox's sessions here once bubblewrap has finished it. On failure the caller
   * destroys the sandbox; the error says why, with the sandbox's stderr if it ended by itself.
   */
  async serve(
    zygote: Zygote,
    record: LocalRecord,
    child: ChildProcess,
    { env, scratch, groups }: { env: Record<string, string>; scratch: boolean; groups?: SandboxCgroups },
  ): Promise<void> {
    const server = this.#server;
    if (!server) throw new Error('this host serves no sandbox sessions');
    const containerId = record.container_id;
    try {
      // The kernel must join the finished sandbox: bubblewrap mounts /proc, the work dir and the
      // rest before it execs the holder (a kernel forked sooner saw no /proc).
      await waitForExec(record.pid, SANDBOX_HOLDER[0] as string, this.#readyTimeoutMs);
      await server.open({
        container_id: containerId,
        experiment_id: record.experiment_id,
        work_dir: record.work_dir,
        env,
        owner: forkOwner(),
        ...(scratch ? { scratch: true } : {}),
        fork: (request) => {
          const kernel = zygote.forkInto(containerId, request);
          // An OOM kill then names the sandbox's memory cap.
          if (groups) kernel.memoryCgroup = groups.memoryFiles;
          return kernel;
        },
      });
      this.#served.add(containerId);
    } catch (e) {
      throw new ContainerRuntimeError(
        'create_failed',
        `cannot serve ${record.experiment_id}'s sessions: ${(e as Error).message}${sandboxEnded(child, record.log_dir)}`,
      );
    }
  }

  /** Stops a sandbox's sessions (they save what they hold); false if this host served none. */
  async close(containerId: string): Promise<boolean> {
    if (!this.#served.delete(containerId)) return false;
    await this.#server?.close(containerId).catch(() => undefined);
    return true;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#served].map((id) => this.close(id)));
  }

  /** Its kernels' own output (a served sandbox holds no node whose log would have it). */
  kernelOutput(containerId: string, tail: number): string {
    return this.#served.has(containerId) ? (this.#server?.kernelOutput(containerId, tail) ?? '') : '';
  }

  transport(containerId: string): Promise<Transport> {
    if (!this.#server || !this.#served.has(containerId)) {
      return Promise.reject(
        new ContainerRuntimeError('not_found', `the sessions of ${containerId} are not served by this host`),
      );
    }
    return this.#server.transport(containerId);
  }
}
