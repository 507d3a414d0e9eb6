// The Swarm service spec of one experiment: one replica, never restarted by
// Swarm (retries are the orchestrator's), CPU/memory reserved and capped, and
// the Docker runtime's hardening in the terms the Swarm API (1.41) offers.
import type Docker from 'dockerode';
import { IMAGE_UID } from './docker.ts';
import {
  type CapLimits,
  ContainerRuntimeError,
  type ContainerSpec,
  CREATED_BY,
  capsOf,
  containerLabels,
  DEFAULT_CAPS,
  EXPERIMENT_MOUNT,
  LABELS,
} from './types.ts';

/** Label with the runtime that made a service (the Docker runtime's containers lack it). */
export const SWARM_LABEL = 'peragus.runtime';

export const SWARM_DEFAULTS = {
  ...DEFAULT_CAPS,
  tmpfsBytes: 512 * 2 ** 20,
  /** /experiment is a tmpfs too: nothing stays on a node once the task is gone. */
  workBytes: 1024 * 2 ** 20,
} as const;

/** `registry/name@sha256:<64 hex>`: services are created by digest, so every node runs the same bytes. */
const DIGEST_REF = /^[a-z0-9][a-z0-9._:/-]*@sha256:[0-9a-f]{64}$/;

export function requireDigestRef(image: string): string {
  if (!DIGEST_REF.test(image)) {
    throw new ContainerRuntimeError(
      'invalid_spec',
      `the swarm runtime runs images by digest (registry/name@sha256:…), got "${image}": push the image to the cluster's registry (scripts/swarm-lab.sh push IMAGE prints the reference) and set PERAGUS_SWARM_IMAGE to it`,
    );
  }
  return image;
}

export interface ServiceInput {
  experimentId: string;
  spec: ContainerSpec;
  image: string;
  /** Entrypoint and Cmd of the image, when the spec has no command override. */
  imageEntrypoint: string[];
  imageCmd: string[];
  defaults: CapLimits;
  /** The node role's command (after the image's entrypoint) and extra env: the hub's URL and token. */
  node?: { cmd: string[]; env: Record<string, string> };
  /** Where the host keeps this experiment's files (LABELS.workDir: whose experiment it is). */
  hostWorkDir?: string;
}

export function serviceName(experimentId: string): string {
  return `peragus-${experimentId}`;
}

export function networkName(experimentId: string): string {
  return `peragus-net-${experimentId}`;
}

/**
 * One overlay network per experiment's task, so no two experiments share a
 * network. Not internal: the task's way out is the node's docker_gwbridge,
 * where each node's firewall lets through the hub's address and ports only
 * (scripts/swarm-lab.sh node_firewall; docs/DECISIONS.md, issue 11: the hub).
 */
export function networkSpec(experimentId: string): Docker.NetworkCreateOptions {
  return {
    Name: networkName(experimentId),
    Driver: 'overlay',
    Internal: false,
    Attachable: false,
    CheckDuplicate: true,
    Labels: { [LABELS.createdBy]: CREATED_BY, [LABELS.experimentId]: experimentId, [SWARM_LABEL]: 'swarm' },
  };
}

export function serviceSpec(input: ServiceInput): Docker.CreateServiceOptions {
  const { experimentId, spec, image, defaults } = input;
  const { cpu, memory, pids } = capsOf(spec.resources, defaults);
  const role = spec.command ? 'custom' : 'node';
  const labels = {
    ...containerLabels(spec.labels, { experimentId, role, image }),
    [SWARM_LABEL]: 'swarm',
    ...(input.hostWorkDir ? { [LABELS.workDir]: input.hostWorkDir } : {}),
  };
  const env = {
    ...spec.env,
    ...input.node?.env,
    PERAGUS_EXPERIMENT_ID: experimentId,
    PERAGUS_WORK_DIR: EXPERIMENT_MOUNT,
    PERAGUS_SOCKET: `${EXPERIMENT_MOUNT}/.peragus/node.sock`,
  };
  // Swarm's API 1.41 has no no-new-privileges option: setpriv sets the bit
  // before the real entrypoint runs, and it holds for every descendant.
  const argv = spec.command ?? [...input.imageEntrypoint, ...(input.node?.cmd ?? input.imageCmd)];
  if (argv.length === 0) {
    throw new ContainerRuntimeError('invalid_spec', `image ${image} has no entrypoint or command to run`);
  }
  return {
    Name: serviceName(experimentId),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        Command: ['setpriv', '--no-new-privs', '--', ...argv],
        Args: [],
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        Labels: labels,
        User: `${IMAGE_UID}:${IMAGE_UID}`,
        Dir: EXPERIMENT_MOUNT,
        ReadOnly: true,
        CapabilityDrop: ['ALL'],
        Mounts: [
          {
            Type: 'tmpfs',
            Target: '/tmp',
            TmpfsOptions: { SizeBytes: SWARM_DEFAULTS.tmpfsBytes, Mode: 0o1777 },
          },
          // A tmpfs keeps the mode of the image's folder (1777, see the Dockerfile):
          // nothing of an experiment stays on a node once its task is gone.
          {
            Type: 'tmpfs',
            Target: EXPERIMENT_MOUNT,
            TmpfsOptions: { SizeBytes: SWARM_DEFAULTS.workBytes, Mode: 0o1777 },
          },
        ],
        StopGracePeriod: 5e9,
      },
      Resources: {
        Limits: { NanoCPUs: Math.round(cpu * 1e9), MemoryBytes: memory, Pids: pids },
        Reservations: { NanoCPUs: Math.round(cpu * 1e9), MemoryBytes: memory },
      },
      // Retries are ours: a task that ends, fails or loses its node stays ended.
      RestartPolicy: { Condition: 'none', MaxAttempts: 0 },
      // Its own overlay: nobody else on it; its way out (docker_gwbridge) is firewalled to the hub.
      Networks: [{ Target: networkName(experimentId) }],
      LogDriver: { Name: 'json-file', Options: { 'max-size': '10m', 'max-file': '2' } },
    },
    Mode: { Replicated: { Replicas: 1 } },
  } as unknown as Docker.CreateServiceOptions;
}
