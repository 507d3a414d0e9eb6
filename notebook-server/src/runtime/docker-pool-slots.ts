// The warm pool's slots on Docker: how a pooled container is made (the one
// hardened config, with pool labels and no experiment identity: see
// docker-handover.ts for how it gets one), checked and thrown away.

import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from '../log/index.ts';
import { claimsDir, IDENTITY_ENV, IDENTITY_RELATIVE_PATH, POOL_LABELS } from './docker-claims.ts';
import { type HostedKind, ZYGOTE_RELATIVE_PATH } from './docker-hosted.ts';
import type { PoolEntry } from './docker-pool.ts';
import { provision } from './docker-provision.ts';
import {
  type ExperimentLayout,
  PYSD_CACHE_MOUNT,
  probeSocket,
  releaseEndpoint,
  sharedCacheEnv,
} from './paths.ts';
import { CREATED_BY, ENDPOINT_RELATIVE_PATH, EXPERIMENT_MOUNT, LABELS } from './types.ts';
import { DEFAULT_DISK_BYTES, releaseVolume } from './volume-cap.ts';

export interface SlotContext {
  docker: Docker;
  home: string;
  image: string;
  inspectImage(image: string): Promise<Docker.ImageInspectInfo>;
  readyTimeoutMs: number;
  user: { uid: number; gid: number };
  resources: { cpu: number; memory: number; pids: number };
  /** The pool owner label's value (the pool reaper's filter). */
  owner: string;
  /** Slots mount the shared PySD translation cache (PERAGUS_PYSD_SHARED_CACHE). */
  sharedCache: boolean;
  log: Logger;
  /** Slots of a host that serves their sessions (docker-hosted.ts): how their kernel comes. */
  hosted: () => Promise<HostedKind | undefined>;
}

export async function fillSlot(c: SlotContext): Promise<PoolEntry> {
  const image = await c.inspectImage(c.image);
  const hosted = await c.hosted();
  const poolId = `pool-${randomBytes(6).toString('hex')}`;
  const root = join(c.home, 'docker-pool', poolId);
  const workDir = join(root, 'work');
  const layout: ExperimentLayout = {
    root,
    workDir,
    outDir: join(root, 'out'),
    socketPath: join(workDir, ENDPOINT_RELATIVE_PATH),
  };
  // Mounted even when still empty (sharedCacheEnv makes it): the plan check may fill it after this slot started.
  const sharedCache = sharedCacheEnv(c.home, undefined, c.sharedCache);
  const env = {
    // The experiment's identity arrives in this file at the hand-over.
    [IDENTITY_ENV]: `${EXPERIMENT_MOUNT}/${IDENTITY_RELATIVE_PATH}`,
    ...(hosted ? {} : { PERAGUS_SOCKET: `${EXPERIMENT_MOUNT}/${ENDPOINT_RELATIVE_PATH}` }),
    PERAGUS_WORK_DIR: EXPERIMENT_MOUNT,
    ...(sharedCache !== '0' ? { PERAGUS_PYSD_SHARED_CACHE: PYSD_CACHE_MOUNT } : {}),
  };
  const made = await provision(c.docker, c.readyTimeoutMs, c.user, {
    name: `peragus-${poolId}`,
    what: `pool slot ${poolId}`,
    layout,
    imageId: image.Id,
    env,
    labels: {
      [LABELS.createdBy]: CREATED_BY,
      [LABELS.role]: 'node',
      [LABELS.image]: c.image,
      [POOL_LABELS.pool]: poolId,
      [POOL_LABELS.claims]: claimsDir(c.home),
      [POOL_LABELS.owner]: c.owner,
    },
    ...(sharedCache !== '0' ? { sharedCache } : {}),
    resources: c.resources,
    disk: DEFAULT_DISK_BYTES,
    log: c.log,
    ...(hosted ? { hosted } : {}),
  });
  return {
    container_id: made.containerId,
    pool_id: poolId,
    root,
    endpoint: made.endpoint,
    env,
    ...(hosted ? { hosted } : {}),
  };
}

export async function slotAlive(docker: Docker, entry: PoolEntry): Promise<boolean> {
  try {
    const info = await docker.getContainer(entry.container_id).inspect();
    if (info.State.Running !== true) return false;
    // A joined slot serves nothing on a socket (its kernel will be the shared zygote's).
    return entry.hosted === 'joined' || (await probeSocket(entry.endpoint, 500));
  } catch {
    return false;
  }
}

export async function discardSlot(docker: Docker, entry: PoolEntry): Promise<void> {
  await docker
    .getContainer(entry.container_id)
    .remove({ force: true })
    .catch(() => undefined);
  const workDir = join(entry.root, 'work');
  releaseEndpoint(
    entry.endpoint,
    join(workDir, entry.hosted === 'zygote' ? ZYGOTE_RELATIVE_PATH : ENDPOINT_RELATIVE_PATH),
  );
  try {
    await releaseVolume(workDir);
  } catch {
    // best effort: the folder goes below either way
  }
  rmSync(entry.root, { recursive: true, force: true });
}

/**
 * What a killed host's pool left behind (its reaper removes the containers):
 * slot folders with their mounted volumes, and claim records of containers
 * that are gone. Run before this runtime's pool starts filling.
 */
export async function sweepStaleSlots(docker: Docker, home: string): Promise<void> {
  const root = join(home, 'docker-pool');
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  const live = await docker
    .listContainers({ all: true, filters: { label: [POOL_LABELS.pool] } })
    .catch(() => null);
  if (!live) return;
  const slots = new Set(live.map((c) => c.Labels?.[POOL_LABELS.pool]));
  const ids = new Set(live.map((c) => c.Id));
  for (const name of names) {
    if (!/^pool-[0-9a-f]{12}$/.test(name) || slots.has(name)) continue;
    const workDir = join(root, name, 'work');
    try {
      await releaseVolume(workDir);
    } catch {
      // best effort: the folder goes below either way
    }
    rmSync(join(root, name), { recursive: true, force: true });
  }
  try {
    for (const file of readdirSync(claimsDir(home))) {
      const id = /^([0-9a-f]{64})\.json$/.exec(file)?.[1];
      if (id && !ids.has(id)) rmSync(join(claimsDir(home), file), { force: true });
    }
  } catch {
    // no claims yet
  }
}
