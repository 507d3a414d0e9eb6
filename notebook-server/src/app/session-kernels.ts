// Where the kernels this host serves outside any container run: a notebook session of the host's
// own (notebook_create without container_id, the browser's notebooks, the workbench's examples)
// and a Jupyter /api kernel. Their code is a client's, so each kernel gets a sandbox of its own
// from the local runtime (LocalRuntime.kernelSandbox): an experiment's walls, with its session's
// work dir the one folder it writes. Where bubblewrap cannot run, they run as the host's user, and
// the host says so when it starts.

import type { Owner } from '../confine/walk.ts';
import { startKernel } from '../kernel/start.ts';
import type { Kernel } from '../kernel/types.ts';
import type { LocalRuntime } from '../runtime/local.ts';
import { KERNEL_FILES_RELATIVE_PATH } from '../runtime/types.ts';
import { sandboxOwner } from '../sandbox/bwrap.ts';

export interface SandboxedKernels {
  /** Starts a kernel in a new sandbox whose one writable folder is `workDir`. */
  start(options: { workDir: string }): Promise<Kernel>;
  /** Who the kernels run as, when not this process's user: the owner of what the host makes in their work dirs. */
  owner?: Owner;
}

/** Sandboxed kernels for this host, or why they cannot be (then kernels run as the host's user). */
export function sandboxedKernels(
  local: LocalRuntime,
): { sandboxed: SandboxedKernels } | { unsandboxed: string } {
  const owner = sandboxOwner();
  if (local.isolation.isolation !== 'bubblewrap') {
    return { unsandboxed: local.isolation.reason ?? 'bubblewrap does not run here' };
  }
  const sandboxed: SandboxedKernels = {
    ...(owner ? { owner } : {}),
    async start({ workDir }) {
      const box = await local.kernelSandbox(workDir);
      if (!box)
        throw new Error(`cannot sandbox a kernel in ${workDir}: the local runtime makes no sandboxes here`);
      try {
        return await startKernel({
          workDir,
          env: box.env,
          inSandbox: {
            connection: { dir: KERNEL_FILES_RELATIVE_PATH, ...(box.owner ? { owner: box.owner } : {}) },
            fork: box.fork,
            release: box.close,
          },
        });
      } catch (err) {
        await box.close();
        throw err;
      }
    },
  };
  return { sandboxed };
}
