// Provisions one experiment container (cold, or a warm-pool slot): the
// capped volume, the container with the one hardened configuration
// (docker-config.ts), start, and the wait for the node role's endpoint.
// A failure leaves nothing behind: no container, no new folders.

import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from '../log/index.ts';
import { containerConfig } from './docker-config.ts';
import { apiMessage, call, fail, statusOf } from './docker-errors.ts';
import {
  HOLDER_COMMAND,
  HOSTED_ROLE,
  type HostedKind,
  ZYGOTE_COMMAND,
  ZYGOTE_RELATIVE_PATH,
} from './docker-hosted.ts';
import { logsOf } from './docker-inspect.ts';
import { IMAGE_NODE_CMD } from './node-role-command.ts';
import {
  type ExperimentLayout,
  endpointFor,
  prepareVolume,
  releaseEndpoint,
  waitForEndpoint,
} from './paths.ts';
import { ContainerRuntimeError, ENDPOINT_RELATIVE_PATH, EXPERIMENT_MOUNT, LABELS } from './types.ts';
import { capVolume, releaseVolume } from './volume-cap.ts';

export interface Provision {
  /** Container name (peragus-<experiment id>, or peragus-pool-<slot id>). */
  name: string;
  /** What error messages call it (the experiment or pool slot id). */
  what: string;
  layout: ExperimentLayout;
  imageId: string;
  env: Record<string, string>;
  /** Labels; the work dir and endpoint labels are added here. */
  labels: Record<string, string>;
  sharedCache?: string;
  resources: { cpu: number; memory: number; pids: number };
  disk: number;
  command?: string[];
  /**
   * The host serves the sessions (docker-hosted.ts): the container runs its own kernel zygote
   * (`zygote`: provisioning waits for its socket instead of a node role's endpoint) or holds its
   * namespaces for the shared zygote's kernels (`joined`: nothing to wait for).
   */
  hosted?: HostedKind;
  /** A plan's experiment served by a node role: its sessions do not flush each write (`--scratch`). */
  scratch?: boolean;
  /** Where the missing-size-cap warning goes. */
  log: Logger;
}

/** Volume, container, start, endpoint: a failure leaves nothing behind (no container, no new folders). */
export async function provision(
  docker: Docker,
  readyTimeoutMs: number,
  user: { uid: number; gid: number },
  p: Provision,
): Promise<{ containerId: string; endpoint: string }> {
  const { layout } = p;
  const createdRoot = !existsSync(layout.root);
  const role = p.command ? 'custom' : p.hosted ? HOSTED_ROLE : 'node';
  const socketPath = p.hosted === 'zygote' ? join(layout.workDir, ZYGOTE_RELATIVE_PATH) : layout.socketPath;
  // A joined container serves nothing on a socket: the host reaches its kernel's.
  const served = p.hosted !== 'joined';
  let endpoint = socketPath;
  let containerId: string | undefined;
  try {
    mkdirSync(layout.workDir, { recursive: true });
    // The volume's size cap: a loop-mounted file system of resources.disk bytes.
    const cap = await capVolume(layout.root, layout.workDir, p.disk, user);
    if (!cap.capped) {
      p.log.warn(`peragus: WARNING: the volume of ${p.what} has no size cap: ${cap.reason}`);
    }
    prepareVolume(layout.workDir, process.getuid?.() === 0 ? user : undefined);
    endpoint = endpointFor(socketPath);
    const config = containerConfig({
      name: p.name,
      imageId: p.imageId,
      user,
      env: p.env,
      labels: {
        ...p.labels,
        [LABELS.role]: role,
        [LABELS.workDir]: layout.workDir,
        ...(served ? { [LABELS.endpoint]: endpoint } : {}),
      },
      workDir: layout.workDir,
      ...(p.sharedCache ? { sharedCache: p.sharedCache } : {}),
      ...p.resources,
      ...(p.command ? { command: p.command } : {}),
      ...(p.hosted ? { cmd: p.hosted === 'joined' ? HOLDER_COMMAND : ZYGOTE_COMMAND } : {}),
      // The image's node command (its CMD), told that the experiment is scratch.
      ...(!p.hosted && !p.command && p.scratch
        ? {
            cmd: [
              ...IMAGE_NODE_CMD,
              '--socket',
              `${EXPERIMENT_MOUNT}/${ENDPOINT_RELATIVE_PATH}`,
              '--work-dir',
              EXPERIMENT_MOUNT,
              '--scratch',
            ],
          }
        : {}),
    });
    const container = await call(docker, () => docker.createContainer(config)).catch((err: unknown) => {
      if (statusOf(err) === undefined || err instanceof ContainerRuntimeError) throw err;
      if (statusOf(err) === 409) {
        throw new ContainerRuntimeError(
          'conflict',
          `experiment "${p.what}" already has a container (created concurrently): destroy it first`,
          { cause: err },
        );
      }
      throw new ContainerRuntimeError(
        'create_failed',
        `Docker refused the container for ${p.what}: ${apiMessage(err)}`,
        { cause: err },
      );
    });
    containerId = container.id;
    try {
      await container.start();
    } catch (err) {
      const what = p.command ? `command ${JSON.stringify(p.command)}` : `image ${p.imageId}`;
      throw new ContainerRuntimeError(
        'create_failed',
        `container for ${p.what} did not start (${what}): ${apiMessage(err)}`,
        { cause: err },
      );
    }
    if (role !== 'custom' && served) {
      await waitForEndpoint(endpoint, readyTimeoutMs, async () => {
        const info = await container.inspect();
        if (info.State.Running) return null;
        const logs = await logsOf(container, 20);
        return `exit code ${info.State.ExitCode}${info.State.OOMKilled ? ' (OOM killed)' : ''}; last output: ${(logs.stderr || logs.stdout).trim().slice(-2000)}`;
      });
    }
    return { containerId: container.id, endpoint: served ? endpoint : '' };
  } catch (err) {
    if (containerId) {
      await docker
        .getContainer(containerId)
        .remove({ force: true })
        .catch(() => undefined);
    }
    // On a conflict the folders belong to the container that won.
    const lostRace = err instanceof ContainerRuntimeError && err.code === 'conflict';
    if (!lostRace) {
      releaseEndpoint(endpoint, socketPath);
      await releaseVolume(layout.workDir);
      if (createdRoot) rmSync(layout.root, { recursive: true, force: true });
    }
    if (err instanceof ContainerRuntimeError) throw err;
    fail(docker, err);
  }
}
