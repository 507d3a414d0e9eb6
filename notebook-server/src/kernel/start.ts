// The cold path: connection file + process + client, resolved when ready.
import { SANDBOX_ENV } from '../sandbox/bwrap.ts';
import { experimentEnv } from '../sandbox/env.ts';
import { type HeartbeatOptions, KernelClient } from './client.ts';
import { type ConnectionInside, createConnectionFile, type Transport } from './connection.ts';
import {
  type KernelProcess,
  type KernelSpec,
  kernelCommand,
  type LaunchOptions,
  loadKernelSpec,
} from './launcher.ts';
import { launchAny, type ZygoteKernelRequest, zygoteKernelArgs } from './zygote.ts';

export interface StartKernelOptions {
  /** The kernel's working directory (default: this process's cwd). */
  workDir?: string;
  /** A kernelspec object, or the path of a kernel.json (default: kernels/pysd/kernelspec). */
  spec?: KernelSpec | string;
  /** Extra environment for the kernel, over ours and the kernelspec's. */
  env?: Record<string, string>;
  /** Default 60 s: a cold PySD kernel needs a few seconds on a busy machine. */
  readyTimeoutMs?: number;
  /** tcp (default, what every Jupyter tool speaks) or ipc (Unix sockets, no ports at all). */
  transport?: Transport;
  heartbeat?: HeartbeatOptions | false;
  /**
   * A kernel whose session this host serves while the kernel runs in an experiment's sandbox:
   * its connection file and ipc sockets in its work dir (`workDir`), connected without following
   * a link there; `fork` starts it there (the zygote's fork into that sandbox).
   */
  inSandbox?: {
    connection: Omit<ConnectionInside, 'root'>;
    fork: (request: ZygoteKernelRequest) => KernelProcess;
    /**
     * The environment the kernel's allow-list reads (default: this process's): a Docker
     * container's own (its image's and its create's), whose paths are the container's.
     */
    envFrom?: NodeJS.ProcessEnv;
    /**
     * A path of this host's, inside the work dir, as the kernel sees it (default: the same path,
     * as in a local sandbox); a Docker container mounts the volume elsewhere.
     */
    pathInside?: (hostPath: string) => string;
    /** A sandbox made for this kernel alone: ended after the kernel is shut down. */
    release?: () => Promise<void>;
  };
}

export async function startKernel(options: StartKernelOptions = {}): Promise<KernelClient> {
  const spec = typeof options.spec === 'object' ? options.spec : loadKernelSpec(options.spec);
  const sandbox = options.inSandbox;
  if (sandbox && !options.workDir) throw new Error('a kernel in a sandbox needs its work dir');
  const root = options.workDir as string;
  const connection = await createConnectionFile({
    ...(options.transport ? { transport: options.transport } : {}),
    ...(sandbox ? { inside: { ...sandbox.connection, root } } : {}),
  });
  const launch: LaunchOptions = {
    spec,
    connectionFile: connection.path,
    cwd: options.workDir,
    env: options.env,
  };
  const client = new KernelClient({
    connection,
    spec,
    heartbeat: options.heartbeat,
    ...(sandbox ? { socketsInside: root } : {}),
    ...(sandbox?.release ? { onShutdown: sandbox.release } : {}),
    launch: () => (sandbox ? sandbox.fork(forkRequest(launch, sandbox)) : launchAny(launch)),
  });
  try {
    await client.boot(options.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await client.shutdown();
    throw err;
  }
  return client;
}

/** What the zygote is asked to fork: the kernelspec's argv after `-m peragus_pysd.kernel_launcher`. */
function forkRequest(
  launch: LaunchOptions,
  sandbox: Pick<NonNullable<StartKernelOptions['inSandbox']>, 'envFrom' | 'pathInside'>,
): ZygoteKernelRequest {
  const { argv, cwd } = kernelCommand(launch);
  const args = zygoteKernelArgs(argv);
  if (!args) {
    throw new Error(`only the PySD kernelspec is forked into a sandbox, not ${argv.slice(0, 3).join(' ')}`);
  }
  // A sandboxed process's environment (the host's own HOME, runtime dir and secrets stay out).
  // The sandbox's pid namespace ends the kernel with its host (the zygote kills it when the host
  // hangs up, and the sandbox ends with the host): no parent to watch across namespaces.
  const env = experimentEnv(
    {
      ...SANDBOX_ENV,
      ...launch.spec.env,
      ...launch.env,
      JPY_PARENT_PID: '0',
      PERAGUS_PARENT_PID: '0',
    },
    { sandboxed: true, ...(sandbox.envFrom ? { from: sandbox.envFrom } : {}) },
  );
  const inside = sandbox.pathInside;
  if (!inside) return { argv: args, cwd, env };
  // The connection file and the cwd are the only paths in the request (kernelspec argv).
  return {
    argv: args.map((arg) => (arg === launch.connectionFile ? inside(arg) : arg)),
    cwd: inside(cwd),
    env,
  };
}
