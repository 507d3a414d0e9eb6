// The one container configuration every experiment container gets, cold or
// pooled: no network, read-only root, no capabilities, no new privileges,
// pids/memory/CPU caps, the experiment volume and (read-only) the shared
// translation cache. docker.ts and the warm pool both build it here, so a
// pooled container cannot drift from a cold one.
import type Docker from 'dockerode';
import { PYSD_CACHE_MOUNT } from './paths.ts';
import { EXPERIMENT_MOUNT } from './types.ts';

export const TMPFS_BYTES = 512 * 2 ** 20;

export interface ContainerConfigInput {
  name: string;
  imageId: string;
  user: { uid: number; gid: number };
  env: Record<string, string>;
  labels: Record<string, string>;
  /** Host path bind-mounted at /experiment. */
  workDir: string;
  /** Host path of the shared translation cache, or undefined when not mounted. */
  sharedCache?: string;
  cpu: number;
  memory: number;
  pids: number;
  command?: string[];
  /** The image's command replaced, its entrypoint kept (a hosted container's zygote). */
  cmd?: string[];
}

export function containerConfig(c: ContainerConfigInput): Docker.ContainerCreateOptions {
  return {
    // One name per experiment: the daemon then refuses a concurrent twin atomically.
    name: c.name,
    Image: c.imageId,
    // An override runs as the container's first process, with no init in
    // between, so a command that cannot start fails `start` itself.
    ...(c.command ? { Entrypoint: c.command.slice(0, 1), Cmd: c.command.slice(1) } : {}),
    ...(c.cmd && !c.command ? { Cmd: c.cmd } : {}),
    User: `${c.user.uid}:${c.user.gid}`,
    WorkingDir: EXPERIMENT_MOUNT,
    Env: Object.entries(c.env).map(([k, v]) => `${k}=${v}`),
    Labels: c.labels,
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      PidsLimit: c.pids,
      Memory: c.memory,
      // Equal to Memory: no swap, so the cap is a hard cap.
      MemorySwap: c.memory,
      NanoCpus: Math.round(c.cpu * 1e9),
      Mounts: [
        { Type: 'bind', Source: c.workDir, Target: EXPERIMENT_MOUNT, ReadOnly: false },
        // Translations made once by the host's plan check; experiments only read them.
        ...(c.sharedCache
          ? [{ Type: 'bind' as const, Source: c.sharedCache, Target: PYSD_CACHE_MOUNT, ReadOnly: true }]
          : []),
      ],
      Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${TMPFS_BYTES},mode=1777` },
      IpcMode: 'private',
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
    },
  };
}
