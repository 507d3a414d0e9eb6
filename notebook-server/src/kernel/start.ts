// The cold path: connection file + process + client, resolved when ready.
import { type HeartbeatOptions, KernelClient } from './client.ts';
import { createConnectionFile, type Transport } from './connection.ts';
import { type KernelSpec, loadKernelSpec } from './launcher.ts';
import { launchAny } from './zygote.ts';

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
}

export async function startKernel(options: StartKernelOptions = {}): Promise<KernelClient> {
  const spec = typeof options.spec === 'object' ? options.spec : loadKernelSpec(options.spec);
  const connection = await createConnectionFile(options.transport ? { transport: options.transport } : {});
  const client = new KernelClient({
    connection,
    spec,
    heartbeat: options.heartbeat,
    launch: () =>
      launchAny({ spec, connectionFile: connection.path, cwd: options.workDir, env: options.env }),
  });
  try {
    await client.boot(options.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await client.shutdown();
    throw err;
  }
  return client;
}
