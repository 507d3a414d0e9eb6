// The Docker runtime's shared kernel zygote (PERAGUS_DOCKER_ZYGOTE=shared, the default where it
// can run): one container per host process, from the experiment image, with ipykernel, PySD and
// peragus_pysd imported once. Each experiment container then holds no Python at all (`sleep`
// under tini) and its kernel is forked by this zygote into it, exactly as the local runtime's
// zygote forks into a bubblewrap sandbox (peragus_pysd/nsjoin.py): the container's cgroups (its
// memory, CPU, pids and device caps), then its pid, net, IPC, UTS, cgroup and mount namespaces,
// then its user with no capabilities and no new privileges. The kernel keeps this container's
// seccomp filter: Docker's default profile. So an experiment pays for its kernel's fork, not for
// a Python's imports (≈ 1 CPU-s per container).
//
// The zygote container is trusted host code and is given what joining needs: the host's pid
// namespace, CAP_SYS_ADMIN and CAP_SYS_PTRACE (setns into another container's namespaces) and
// the host's cgroup tree. Experiment code never runs in it. Its socket is in a root-only folder
// of this host's home that no experiment container mounts.
import { chmodSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { type Zygote, type ZygoteRegistry, zygoteAt } from '../kernel/zygote.ts';
import type { Logger } from '../log/index.ts';
import { POOL_LABELS } from './docker-claims.ts';
import { apiMessage } from './docker-errors.ts';
import { ZYGOTE_ROLE } from './docker-hosted.ts';
import { endpointFor, releaseEndpoint, waitForEndpoint } from './paths.ts';
import { CREATED_BY, LABELS } from './types.ts';

const MOUNT = '/zygote';

export type SharedZygote = ZygoteRegistry &
  Pick<Zygote, 'forkInto' | 'socketPath'> & {
    containerId: string;
    close(): Promise<void>;
  };

export interface SharedZygoteOptions {
  docker: Docker;
  home: string;
  imageId: string;
  /** This runtime instance's token (its reaper removes the container if the host dies). */
  owner: string;
  readyTimeoutMs: number;
  log: Logger;
}

/** Folders of zygotes whose container is gone (their host was killed; its reaper removed them). */
async function sweepStale(docker: Docker, root: string): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  const live = await docker
    .listContainers({ all: true, filters: { label: [`${LABELS.role}=${ZYGOTE_ROLE}`] } })
    .catch(() => null);
  if (!live) return;
  const owners = new Set(live.map((c) => c.Labels?.[POOL_LABELS.owner]));
  for (const name of names) {
    if (/^\d+-[0-9a-f]{8}$/.test(name) && !owners.has(name))
      rmSync(join(root, name), { recursive: true, force: true });
  }
}

/** Starts the shared zygote's container and waits for its socket; rejects (leaving nothing) if it cannot. */
export async function startSharedZygote(o: SharedZygoteOptions): Promise<SharedZygote> {
  await sweepStale(o.docker, join(o.home, 'docker-zygote'));
  const dir = join(o.home, 'docker-zygote', o.owner);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const socketPath = join(dir, 'zygote.sock');
  const endpoint = endpointFor(socketPath);
  let container: Docker.Container | undefined;
  const cleanUp = async () => {
    await container?.remove({ force: true }).catch(() => undefined);
    releaseEndpoint(endpoint, socketPath);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    container = await o.docker.createContainer({
      name: `peragus-zygote-${o.owner}`,
      Image: o.imageId,
      User: '0:0',
      // No init: in the host's pid namespace it would not be pid 1; the zygote reaps its own.
      Entrypoint: ['python'],
      Cmd: ['-m', 'peragus_pysd.zygote', '--socket', `${MOUNT}/zygote.sock`],
      WorkingDir: '/',
      Env: ['MPLBACKEND=Agg', 'PYTHONUNBUFFERED=1'],
      Labels: {
        [LABELS.createdBy]: CREATED_BY,
        [LABELS.role]: ZYGOTE_ROLE,
        // The pool's reaper removes this container with the pool's when the host dies.
        [LABELS.workDir]: dir,
        [POOL_LABELS.owner]: o.owner,
      },
      NetworkDisabled: true,
      HostConfig: {
        NetworkMode: 'none',
        PidMode: 'host',
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        // setns into an experiment container (SYS_ADMIN, SYS_CHROOT; SYS_PTRACE opens another
        // user's /proc/<pid>/ns), then the experiment user (SETUID, SETGID), its socket's owner
        // (CHOWN), the kernels it forked (KILL), and dropping their capability bounding set (SETPCAP).
        CapAdd: [
          'SYS_ADMIN',
          'SYS_CHROOT',
          'SYS_PTRACE',
          'SETUID',
          'SETGID',
          'SETPCAP',
          'CHOWN',
          'KILL',
          'DAC_OVERRIDE',
        ],
        Mounts: [
          { Type: 'bind', Source: dir, Target: MOUNT, ReadOnly: false },
          // Where a kernel joins its container's cgroups.
          { Type: 'bind', Source: '/sys/fs/cgroup', Target: '/sys/fs/cgroup', ReadOnly: false },
        ],
        Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=64m,mode=1777' },
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
      },
    });
    await container.start();
    const started = container;
    await waitForEndpoint(endpoint, o.readyTimeoutMs, async () => {
      const info = await started.inspect();
      return info.State.Running ? null : `exit code ${info.State.ExitCode}`;
    });
  } catch (err) {
    await cleanUp();
    throw new Error(`the shared kernel zygote's container did not start: ${apiMessage(err)}`);
  }
  const id = container.id;
  return {
    ...zygoteAt(endpoint),
    containerId: id,
    close: cleanUp,
  };
}
