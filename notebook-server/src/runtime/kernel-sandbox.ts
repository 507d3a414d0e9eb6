// The sandboxes the local runtime makes for one kernel each (LocalRuntime.kernelSandbox): the
// kernels a host serves outside any container. A holder keeps the sandbox open and the kernel
// zygote forks each kernel into it: as the sandbox user under a root host, else as the host's user
// in the sandbox's user namespaces, without capabilities either way. Without the zygote each
// kernel starts cold under a bubblewrap of its own.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readlinkSync, realpathSync } from 'node:fs';
import type { Owner } from '../confine/walk.ts';
import { type KernelProcess, RingBuffer, resolvePython, spawnKernel } from '../kernel/launcher.ts';
import type { Zygote, ZygoteKernelRequest } from '../kernel/zygote.ts';
import { stillRunning } from '../proc/process.ts';
import { bwrapArgs, type SandboxOptions } from '../sandbox/bwrap.ts';
import type { SandboxCgroups } from './local-cgroups.ts';
import { descendants, stopGroup, waitForExec } from './local-process.ts';
import { ContainerRuntimeError, type KernelSandbox } from './types.ts';

/**
 * What holds a sandbox open (its namespaces, which kernels join) while this host serves its
 * kernels: it reads the lifeline on its stdin, so it ends with the host.
 */
export const SANDBOX_HOLDER = ['/bin/cat'];

/** Ids of the sandboxes made for one kernel each, as the zygote knows them. */
const KERNEL_SANDBOX_PREFIX = 'kernel-';

/** A fresh id for a sandbox made for one kernel (its cgroups' name, and the zygote's). */
export function kernelSandboxId(): string {
  return `${KERNEL_SANDBOX_PREFIX}${randomBytes(6).toString('hex')}`;
}

export interface HeldSandboxOptions {
  id: string;
  zygote: Zygote;
  workDir: string;
  owner: Owner;
  /** The kernel's environment. */
  env: Record<string, string>;
  /** The holder's argv and environment, sandboxed (bubblewrap around SANDBOX_HOLDER, in `groups`). */
  holder: { argv: string[]; env: NodeJS.ProcessEnv };
  readyTimeoutMs: number;
  /** The sandbox's cgroups (its caps), which its kernels join; removed when it closes. */
  groups?: SandboxCgroups;
}

/** A holder's sandbox, registered with the zygote, which forks each kernel of it into it. */
export async function heldKernelSandbox(o: HeldSandboxOptions): Promise<KernelSandbox> {
  const { zygote, workDir, id, groups } = o;
  try {
    await zygote.register(id, o.owner);
  } catch (e) {
    groups?.removeEmpty();
    throw e;
  }
  const [file, ...args] = o.holder.argv as [string, ...string[]];
  const holder = spawn(file, args, {
    cwd: workDir,
    env: o.holder.env,
    detached: true,
    // Its stderr says why a sandbox never started (bubblewrap's own words); the holder writes none.
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  holder.stdin?.on('error', () => undefined);
  const said = new RingBuffer(1_000);
  const stderrClosed = new Promise<void>((done) => holder.stderr?.once('close', () => done()));
  holder.stderr?.on('data', (d: Buffer) => said.push(d));
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      holder.stdin?.destroy();
      // Only while the holder still runs: an ended one's pid may be another process's by now.
      if (holder.pid) await stopGroup(holder.pid, 1_000, () => stillRunning(holder));
      await zygote.revoke(id).catch(() => undefined);
      await groups?.remove();
    })();
    return closed;
  };
  try {
    const pid = await new Promise<number>((ok, fail) => {
      holder.once('spawn', () => ok(holder.pid as number));
      holder.once('error', fail);
    });
    holder.unref();
    (holder.stdin as unknown as { unref(): void } | null)?.unref();
    (holder.stderr as unknown as { unref(): void } | null)?.unref();
    await zygote.attach(id, pid, groups ? { cgroups: true } : undefined);
    // A kernel forked before bubblewrap has made its mounts would see no /proc.
    await waitForExec(pid, SANDBOX_HOLDER[0] as string, o.readyTimeoutMs);
  } catch (e) {
    await close();
    // What it said before it ended, read to the end (at most a second more).
    await Promise.race([stderrClosed, new Promise((r) => setTimeout(r, 1_000).unref())]);
    const words = said.text().trim();
    const why = words ? ` (its sandbox said: ${words})` : '';
    throw new ContainerRuntimeError(
      'create_failed',
      `cannot sandbox a kernel in ${workDir}: ${(e as Error).message}${why}`,
    );
  }
  const fork = (request: ZygoteKernelRequest) => {
    const kernel = zygote.forkInto(id, request);
    if (groups) kernel.memoryCgroup = groups.memoryFiles;
    return kernel;
  };
  return { env: o.env, owner: o.owner, fork, close };
}

/**
 * Each kernel cold under a bubblewrap of its own, which ends with it: as the sandbox user under a
 * root host (`owner`), else as the host's user in the sandbox's user namespace.
 */
export function coldKernelSandbox(
  env: Record<string, string>,
  owner: Owner | undefined,
  sandbox: Omit<SandboxOptions, 'cwd'>,
  groups?: SandboxCgroups,
): KernelSandbox {
  return {
    env,
    ...(owner ? { owner } : {}),
    fork: (request) => coldKernel(sandbox, request, groups),
    close: async () => groups?.remove(),
  };
}

/**
 * The kernel's process group is bubblewrap's, whose default action for SIGINT is to end (and the
 * kernel with it), so an interrupt goes to the kernel process inside.
 */
function coldKernel(
  sandbox: Omit<SandboxOptions, 'cwd'>,
  request: ZygoteKernelRequest,
  groups: SandboxCgroups | undefined,
): KernelProcess {
  const python = resolvePython();
  const cmd = [python, '-m', 'peragus_pysd.kernel_launcher', ...request.argv];
  const argv = ['bwrap', ...bwrapArgs(cmd, { ...sandbox, cwd: request.cwd })];
  const proc = spawnKernel(groups ? groups.joinArgv(argv) : argv, request.cwd, request.env);
  if (groups) proc.memoryCgroup = groups.memoryFiles;
  const kernelPid = () => {
    const exe = realpathSync(python);
    return descendants(proc.pid).find((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/exe`) === exe;
      } catch {
        return false;
      }
    });
  };
  return {
    get pid() {
      return proc.pid;
    },
    get memoryCgroup() {
      return proc.memoryCgroup;
    },
    exited: proc.exited,
    get hasExited() {
      return proc.hasExited;
    },
    stderrTail: () => proc.stderrTail(),
    output: () => proc.output(),
    signal(sig) {
      const inner = sig === 'SIGINT' ? kernelPid() : undefined;
      if (inner === undefined) return proc.signal(sig);
      try {
        process.kill(inner, sig);
      } catch {
        // exited meanwhile
      }
    },
  };
}
