// ContainerRuntime on the Docker Engine API (dockerode). Each experiment is one
// locked-down container; its volume is a host directory bind-mounted at
// /experiment so the host reaches the node role's Unix socket directly.
// This class creates and destroys containers; exec, copies and the read-only
// views live in the docker-*.ts modules it delegates to.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import Docker from 'dockerode';
import { readSetting } from '../config/index.ts';
import { newExperimentId } from '../ids/index.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { EXPERIMENT_UID } from '../sandbox/bwrap.ts';
import { cpIn, cpOut } from './docker-copy.ts';
import { apiMessage, call, fail, statusOf } from './docker-errors.ts';
import { exec } from './docker-exec.ts';
import { health, list, logs, logsOf, type Owned, own, stats } from './docker-inspect.ts';
import {
  endpointFor,
  experimentLayout,
  PYSD_CACHE_MOUNT,
  peragusHome,
  prepareVolume,
  releaseEndpoint,
  sharedCacheEnv,
  waitForEndpoint,
} from './paths.ts';
import {
  type ContainerInfo,
  type ContainerRuntime,
  ContainerRuntimeError,
  type ContainerSpec,
  type CopyInResult,
  type CopyOutResult,
  type CopySource,
  type CreateResult,
  containerLabels,
  type DestroyOptions,
  EXPERIMENT_MOUNT,
  type ExecOptions,
  type ExecResult,
  type HealthResult,
  LABELS,
  type LogsOptions,
  type LogsResult,
  parseContainerSpec,
  parseMemory,
  type StatsResult,
} from './types.ts';
import { capVolume, diskCapOf, releaseVolume } from './volume-cap.ts';

/** uid/gid of the `peragus` user baked into the experiment image. */
export const IMAGE_UID = EXPERIMENT_UID;

const DEFAULTS = {
  cpu: 1,
  memory: 2 * 2 ** 30,
  pids: 512,
  tmpfsBytes: 512 * 2 ** 20,
  readyTimeoutMs: 60_000,
};

export interface DockerRuntimeOptions {
  /** A configured client; default: from DOCKER_HOST or /var/run/docker.sock. */
  docker?: Docker;
  /** State root; default PERAGUS_HOME or ~/.peragus. */
  home?: string;
  /** Default image; default PERAGUS_IMAGE or peragus/experiment:<package version>. */
  image?: string;
  /** How long create waits for the node role's endpoint. */
  readyTimeoutMs?: number;
  /** Resources when the spec gives none. */
  defaultResources?: { cpu?: number; memory?: number | string; pids?: number };
  /** Containers share the PySD translation cache (default PERAGUS_PYSD_SHARED_CACHE, on). */
  sharedCache?: boolean;
  log?: Logger;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'latest';
  } catch {
    return 'latest';
  }
}

export function defaultImage(env: NodeJS.ProcessEnv = process.env): string {
  return readSetting('image', env) ?? `peragus/experiment:${packageVersion()}`;
}

export class DockerRuntime implements ContainerRuntime {
  readonly kind = 'docker' as const;
  readonly docker: Docker;
  readonly home: string;
  readonly image: string;
  private readonly readyTimeoutMs: number;
  private readonly defaults: { cpu: number; memory: number; pids: number };
  readonly #log: Logger;
  readonly #sharedCache: boolean;

  constructor(options: DockerRuntimeOptions = {}) {
    this.#log = options.log ?? createLogger();
    this.#sharedCache = options.sharedCache ?? readSetting('pysdSharedCache');
    this.docker = options.docker ?? new Docker();
    this.home = resolve(options.home ?? peragusHome());
    this.image = options.image ?? defaultImage();
    this.readyTimeoutMs = options.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs;
    const d = options.defaultResources ?? {};
    this.defaults = {
      cpu: d.cpu ?? DEFAULTS.cpu,
      memory: d.memory !== undefined ? parseMemory(d.memory) : DEFAULTS.memory,
      pids: d.pids ?? DEFAULTS.pids,
    };
  }

  /**
   * As root on the host, run as the image's unprivileged user and hand it the
   * work dir; otherwise run as the calling user, so files stay theirs.
   */
  private containerUser(): { uid: number; gid: number } {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    return uid === 0 ? { uid: IMAGE_UID, gid: IMAGE_UID } : { uid, gid };
  }

  async create(input: ContainerSpec = {}): Promise<CreateResult> {
    const spec = parseContainerSpec(input);
    const image = spec.image ?? this.image;

    let imageInfo: Docker.ImageInspectInfo;
    try {
      imageInfo = await this.docker.getImage(image).inspect();
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new ContainerRuntimeError(
          'image_not_found',
          `image "${image}" not found on the Docker daemon: build it with container-image/build.sh (or set PERAGUS_IMAGE to an existing image)`,
          { cause: err },
        );
      }
      fail(this.docker, err);
    }

    const experimentId = spec.experiment_id ?? newExperimentId();
    const existing = await this.list({ [LABELS.experimentId]: experimentId });
    if (existing.length > 0) {
      throw new ContainerRuntimeError(
        'conflict',
        `experiment "${experimentId}" already has container ${existing[0]!.container_id.slice(0, 12)} (${existing[0]!.status}): destroy it first`,
      );
    }

    const layout = experimentLayout(this.home, experimentId);
    const sharedCache = sharedCacheEnv(this.home, undefined, this.#sharedCache);
    const mountCache = sharedCache !== '0' && existsSync(sharedCache);
    const createdRoot = !existsSync(layout.root);
    const user = this.containerUser();
    const memory =
      spec.resources?.memory !== undefined ? parseMemory(spec.resources.memory) : this.defaults.memory;
    const cpu = spec.resources?.cpu ?? this.defaults.cpu;
    const pids = spec.resources?.pids ?? this.defaults.pids;
    const role = spec.command ? 'custom' : 'node';
    let endpoint = layout.socketPath;
    let containerId: string | undefined;

    try {
      mkdirSync(layout.workDir, { recursive: true });
      // The volume's size cap: a loop-mounted file system of resources.disk bytes.
      const cap = capVolume(layout.root, layout.workDir, diskCapOf(spec.resources), user);
      if (!cap.capped) {
        this.#log.warn(`peragus: WARNING: the volume of ${experimentId} has no size cap: ${cap.reason}`);
      }
      prepareVolume(layout.workDir, process.getuid?.() === 0 ? user : undefined);
      endpoint = endpointFor(layout.socketPath);

      const env = {
        ...spec.env,
        PERAGUS_EXPERIMENT_ID: experimentId,
        PERAGUS_WORK_DIR: EXPERIMENT_MOUNT,
        PERAGUS_SOCKET: `${EXPERIMENT_MOUNT}/.peragus/node.sock`,
        ...(mountCache ? { PERAGUS_PYSD_SHARED_CACHE: PYSD_CACHE_MOUNT } : {}),
      };
      const container = await call(this.docker, () =>
        this.docker.createContainer({
          // One name per experiment: the daemon then refuses a concurrent twin atomically.
          name: `peragus-${experimentId}`,
          Image: imageInfo.Id,
          // An override runs as the container's first process, with no init in
          // between, so a command that cannot start fails `start` itself.
          ...(spec.command ? { Entrypoint: spec.command.slice(0, 1), Cmd: spec.command.slice(1) } : {}),
          User: `${user.uid}:${user.gid}`,
          WorkingDir: EXPERIMENT_MOUNT,
          Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
          Labels: containerLabels(spec.labels, {
            experimentId,
            workDir: layout.workDir,
            endpoint,
            role,
            image,
          }),
          NetworkDisabled: true,
          HostConfig: {
            NetworkMode: 'none',
            ReadonlyRootfs: true,
            CapDrop: ['ALL'],
            SecurityOpt: ['no-new-privileges:true'],
            PidsLimit: pids,
            Memory: memory,
            // Equal to Memory: no swap, so the cap is a hard cap.
            MemorySwap: memory,
            NanoCpus: Math.round(cpu * 1e9),
            Mounts: [
              { Type: 'bind', Source: layout.workDir, Target: EXPERIMENT_MOUNT, ReadOnly: false },
              // Translations made once by the host's plan check; experiments only read them.
              ...(mountCache
                ? [{ Type: 'bind' as const, Source: sharedCache, Target: PYSD_CACHE_MOUNT, ReadOnly: true }]
                : []),
            ],
            Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${DEFAULTS.tmpfsBytes},mode=1777` },
            IpcMode: 'private',
            RestartPolicy: { Name: 'no' },
            LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
          },
        }),
      ).catch((err: unknown) => {
        if (statusOf(err) === undefined || err instanceof ContainerRuntimeError) throw err;
        if (statusOf(err) === 409) {
          throw new ContainerRuntimeError(
            'conflict',
            `experiment "${experimentId}" already has a container (created concurrently): destroy it first`,
            { cause: err },
          );
        }
        throw new ContainerRuntimeError(
          'create_failed',
          `Docker refused the container for ${experimentId}: ${apiMessage(err)}`,
          {
            cause: err,
          },
        );
      });
      containerId = container.id;
      try {
        await container.start();
      } catch (err) {
        const msg = apiMessage(err);
        const what = spec.command ? `command ${JSON.stringify(spec.command)}` : `image ${image}`;
        throw new ContainerRuntimeError(
          'create_failed',
          `container for ${experimentId} did not start (${what}): ${msg}`,
          {
            cause: err,
          },
        );
      }

      if (role === 'node') {
        await waitForEndpoint(endpoint, this.readyTimeoutMs, async () => {
          const info = await container.inspect();
          if (info.State.Running) return null;
          const logs = await logsOf(container, 20);
          return `exit code ${info.State.ExitCode}${info.State.OOMKilled ? ' (OOM killed)' : ''}; last output: ${(logs.stderr || logs.stdout).trim().slice(-2000)}`;
        });
      }
      return {
        container_id: container.id,
        experiment_id: experimentId,
        endpoint,
        work_dir: layout.workDir,
        image,
        image_id: imageInfo.Id,
        isolation: 'docker',
      };
    } catch (err) {
      // A failed create leaves nothing behind: no container, no new folders.
      if (containerId) {
        await this.docker
          .getContainer(containerId)
          .remove({ force: true })
          .catch(() => undefined);
      }
      // On a conflict the folders belong to the container that won.
      const lostRace = err instanceof ContainerRuntimeError && err.code === 'conflict';
      if (!lostRace) {
        releaseEndpoint(endpoint, layout.socketPath);
        releaseVolume(layout.workDir);
        if (createdRoot) rmSync(layout.root, { recursive: true, force: true });
      }
      if (err instanceof ContainerRuntimeError) throw err;
      fail(this.docker, err);
    }
  }

  exec(id: string, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    return exec(this.docker, id, cmd, options);
  }

  cpIn(id: string, dest: string, source: CopySource): Promise<CopyInResult> {
    return cpIn(this.docker, id, dest, source);
  }

  cpOut(id: string, src: string, destHostPath?: string): Promise<CopyOutResult> {
    return cpOut(this.docker, this.home, id, src, destHostPath);
  }

  logs(id: string, options: LogsOptions = {}): Promise<LogsResult> {
    return logs(this.docker, id, options);
  }

  stats(id: string): Promise<StatsResult> {
    return stats(this.docker, id);
  }

  health(id: string): Promise<HealthResult> {
    return health(this.docker, id);
  }

  async destroy(id: string, options: DestroyOptions = {}): Promise<{ removed: boolean }> {
    let target: Owned;
    try {
      target = await own(this.docker, id);
    } catch (err) {
      // Unknown or foreign ids are "already gone": destroy is idempotent.
      if (err instanceof ContainerRuntimeError && err.code === 'not_found') return { removed: false };
      throw err;
    }
    const labels = target.info.Config.Labels ?? {};
    try {
      await target.container.remove({ force: true });
    } catch (err) {
      const status = statusOf(err);
      // 404: removed meanwhile; 409: a removal is already under way.
      if (status === 404 || status === 409) return { removed: false };
      fail(this.docker, err);
    }
    const workDir = labels[LABELS.workDir];
    const endpoint = labels[LABELS.endpoint];
    if (workDir && endpoint) releaseEndpoint(endpoint, join(workDir, '.peragus', 'node.sock'));
    if (workDir) releaseVolume(workDir);
    if (options.removeWorkDir && workDir) await rm(dirname(workDir), { recursive: true, force: true });
    return { removed: true };
  }

  list(labels: Record<string, string> = {}): Promise<ContainerInfo[]> {
    return list(this.docker, labels);
  }
}
