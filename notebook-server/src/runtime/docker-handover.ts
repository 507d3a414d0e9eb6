// Hands a pooled container over to an experiment. The container was created
// with the same hardening as a cold one (docker-config.ts), its volume at
// <home>/docker-pool/<pool id>/work and no experiment identity. The hand-over
// binds the identity, in an order where every failure leaves either a clean
// pool entry or nothing:
//   1. rename the container to peragus-<experiment id> (the daemon refuses a
//      twin atomically, as it does for a cold create);
//   2. move the slot folder to <home>/experiments/<id> (the container's bind
//      mount follows the folder: it holds the same directory, not a path);
//   3. write the experiment id into the volume for the node role
//      (.peragus/experiment-id, read once at its first notebook_create);
//   4. write the host's claim record (docker-claims.ts): from then on list,
//      health, copies and destroy see the real experiment id, work dir and
//      the spec's labels; the catalog records the same id.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type Docker from 'dockerode';
import { writeInside } from '../confine/fs.ts';
import { claimsDir, IDENTITY_RELATIVE_PATH, SCRATCH_LINE, writeClaim } from './docker-claims.ts';
import { apiMessage, statusOf } from './docker-errors.ts';
import { ZYGOTE_RELATIVE_PATH } from './docker-hosted.ts';
import type { PoolEntry } from './docker-pool.ts';
import { type ExperimentLayout, endpointFor, inVolume, releaseEndpoint, VOLUME } from './paths.ts';
import { ContainerRuntimeError, type CreateResult, ENDPOINT_RELATIVE_PATH } from './types.ts';

export interface HandOverTarget {
  experimentId: string;
  layout: ExperimentLayout;
  labels: Record<string, string>;
  image: string;
  imageId: string;
  /** A plan's experiment: its node role's sessions do not flush each write (cli/node-identity.ts). */
  scratch?: boolean;
  /** Resources differing from the pool's, applied with a live update. */
  update?: { cpu: number; memory: number; pids: number };
}

export type HandOverOutcome =
  | { ok: true; result: CreateResult }
  /** The entry is untouched (clean): give it back to the pool. */
  | { ok: false; giveBack: true; error: ContainerRuntimeError }
  /** The entry is half handed over: discard it. */
  | { ok: false; giveBack: false; error: ContainerRuntimeError };

export async function handOver(
  docker: Docker,
  home: string,
  entry: PoolEntry,
  t: HandOverTarget,
): Promise<HandOverOutcome> {
  const container = docker.getContainer(entry.container_id);
  let moved = false;
  try {
    await container.rename({ name: `peragus-${t.experimentId}` });
  } catch (err) {
    const conflict = statusOf(err) === 409;
    const error = new ContainerRuntimeError(
      conflict ? 'conflict' : 'create_failed',
      conflict
        ? `experiment "${t.experimentId}" already has a container (created concurrently): destroy it first`
        : `could not hand a pooled container to ${t.experimentId}: ${apiMessage(err)}`,
      { cause: err },
    );
    return { ok: false, giveBack: true, error };
  }
  try {
    mkdirSync(dirname(t.layout.root), { recursive: true });
    if (existsSync(t.layout.root)) {
      throw new ContainerRuntimeError(
        'conflict',
        `experiment "${t.experimentId}" already has a folder (created concurrently): destroy it first`,
      );
    }
    renameSync(entry.root, t.layout.root);
    moved = true;
    // A node role reads its experiment id there (and so can any process of the container).
    inVolume(() =>
      writeInside(
        t.layout.workDir,
        IDENTITY_RELATIVE_PATH,
        `${t.experimentId}\n${t.scratch ? `${SCRATCH_LINE}\n` : ''}`,
        {
          ...VOLUME,
          what: 'the experiment id file',
        },
      ),
    );
    const socket = entry.hosted === 'zygote' ? ZYGOTE_RELATIVE_PATH : ENDPOINT_RELATIVE_PATH;
    // A joined container has no endpoint: its kernel is the shared zygote's.
    const endpoint = entry.hosted === 'joined' ? '' : endpointFor(join(t.layout.workDir, socket));
    releaseEndpoint(entry.endpoint, join(entry.root, 'work', socket));
    if (t.update) {
      await container.update({
        NanoCpus: Math.round(t.update.cpu * 1e9),
        Memory: t.update.memory,
        MemorySwap: t.update.memory,
        PidsLimit: t.update.pids,
      });
    }
    writeClaim(claimsDir(home), entry.container_id, {
      experiment_id: t.experimentId,
      work_dir: t.layout.workDir,
      endpoint,
      labels: t.labels,
      claimed_at: new Date().toISOString(),
    });
    return {
      ok: true,
      result: {
        container_id: entry.container_id,
        experiment_id: t.experimentId,
        endpoint,
        work_dir: t.layout.workDir,
        image: t.image,
        image_id: t.imageId,
        isolation: 'docker',
      },
    };
  } catch (err) {
    // Back where discard looks for it.
    if (moved) {
      try {
        renameSync(t.layout.root, entry.root);
      } catch {
        // left at the experiment's folder; destroy of that experiment cleans it
      }
    }
    const error =
      err instanceof ContainerRuntimeError
        ? err
        : new ContainerRuntimeError(
            'create_failed',
            `could not hand a pooled container to ${t.experimentId}: ${(err as Error).message}`,
            { cause: err },
          );
    return { ok: false, giveBack: false, error };
  }
}
