// ContainerRuntime on the Docker Engine API (dockerode). Each experiment is one
// locked-down container; its volume is a host directory bind-mounted at
// /experiment so the host reaches the node role's Unix socket directly.
// This class creates and destroys containers; exec, copies and the read-only
// views live in the docker-*.ts modules it delegates to.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type Docker from 'dockerode';
import { readSetting } from '../config/index.ts';
import { newExperimentId } from '../ids/index.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { EXPERIMENT_UID } from '../sandbox/bwrap.ts';
import { POOL_LABELS, removeClaim } from './docker-claims.ts';
import { cpIn, cpOut } from './docker-copy.ts';
import { fail, statusOf } from './docker-errors.ts';
import { exec } from './docker-exec.ts';
import { handOver } from './docker-handover.ts';
import { envRecord, HOSTED_ROLE, ZYGOTE_RELATIVE_PATH } from './docker-hosted.ts';
import { health, list, logs, type Owned, own, stats } from './docker-inspect.ts';
import { DockerPool, type PoolEntry, poolSizeFrom } from './docker-pool.ts';
import { discardSlot, fillSlot, type SlotContext, slotAlive, sweepStaleSlots } from './docker-pool-slots.ts';
import { provision } from './docker-provision.ts';
import { startDockerReaper } from './docker-reaper.ts';
import { DockerSessions } from './docker-sessions.ts';
import { dockerode } from './packages.ts';
import {
  type ExperimentLayout,
  experimentLayout,
  PYSD_CACHE_MOUNT,
  peragusHome,
  releaseEndpoint,
  sharedCacheEnv,
} from './paths.ts';
import {
  type CapLimits,
  type ContainerInfo,
  type ContainerRuntime,
  ContainerRuntimeError,
  type ContainerSpec,
  type CopyInResult,
  type CopyOutResult,
  type CopySource,
  type CreateResult,
  capsOf,
  containerLabels,
  type DestroyOptions,
  ENDPOINT_RELATIVE_PATH,
  EXPERIMENT_MOUNT,
  type ExecOptions,
  type ExecResult,
  enforcedCaps,
  type HealthResult,
  type HostSessionServer,
  LABELS,
  type LogsOptions,
  type LogsResult,
  parseContainerSpec,
  type StatsResult,
  type WarmHint,
} from './types.ts';
import { DEFAULT_DISK_BYTES, diskCapOf, releaseVolume } from './volume-cap.ts';

/** uid/gid of the `peragus` user baked into the experiment image. */
export const IMAGE_UID = EXPERIMENT_UID;

const READY_TIMEOUT_MS = 60_000;

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
  /**
   * Warm containers kept ready once warm() is called (PERAGUS_DOCKER_POOL,
   * default 2; 0 turns the pool off). close() drains them.
   */
  poolSize?: number;
  /** Containers share the PySD translation cache (default PERAGUS_PYSD_SHARED_CACHE, on). */
  sharedCache?: boolean;
  /**
   * Serves experiments' sessions in this process when `dockerSessions` is "host" (default
   * PERAGUS_DOCKER_SESSIONS): each container then runs the kernel zygote alone
   * (docker-hosted.ts). Without it, or with "node", a node role in each container serves them.
   */
  hostSessions?: HostSessionServer;
  dockerSessions?: 'host' | 'node';
  /** Where a hosted container's kernel comes from (default PERAGUS_DOCKER_ZYGOTE): docker-zygote.ts. */
  dockerZygote?: 'shared' | 'container';
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
  readonly #readyTimeoutMs: number;
  readonly #defaults: CapLimits;
  readonly poolSize: number;
  /** Creates served by a hand-over from the warm pool (tests and the bench read it). */
  handedOver = 0;
  #pool: DockerPool | undefined;
  #reaper: { stop(): void } | undefined;
  /** Labels every pool container of this runtime instance carries (its reaper's filter). */
  readonly #poolOwner = `${process.pid}-${randomBytes(4).toString('hex')}`;
  /** Set by close: no warm pool starts after it (nothing would drain it). */
  #closed = false;
  readonly #log: Logger;
  readonly #sharedCache: boolean;
  /** The experiments whose sessions this host serves, and where their kernels come from. */
  readonly #sessions: DockerSessions;

  constructor(options: DockerRuntimeOptions = {}) {
    this.#log = options.log ?? createLogger();
    this.#sharedCache = options.sharedCache ?? readSetting('pysdSharedCache');
    this.docker = options.docker ?? new (dockerode())();
    this.home = resolve(options.home ?? peragusHome());
    this.image = options.image ?? defaultImage();
    this.#readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
    this.#defaults = capsOf(options.defaultResources);
    this.poolSize = options.poolSize ?? poolSizeFrom();
    const served = (options.dockerSessions ?? readSetting('dockerSessions')) === 'host';
    this.#sessions = new DockerSessions({
      docker: this.docker,
      home: this.home,
      image: this.image,
      inspectImage: (image) => this.#inspectImage(image),
      owner: this.#poolOwner,
      readyTimeoutMs: this.#readyTimeoutMs,
      log: this.#log,
      server: served ? options.hostSessions : undefined,
      zygoteMode: options.dockerZygote ?? readSetting('dockerZygote'),
      containerUser: () => this.#containerUser(),
      // The reaper removes the shared zygote, as it removes the pool's containers, if this host dies.
      startReaper: () => {
        this.#reaper ??= startDockerReaper(this.#poolOwner, this.home, POOL_LABELS.owner);
      },
      destroy: (id) => this.destroy(id),
    });
  }

  /**
   * Creates to come: starts filling the warm pool (in the background) and a
   * watchdog that removes this host's pool containers if the host dies.
   */
  warm(hint: WarmHint = {}): Promise<undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    if (this.poolSize > 0 && !this.#pool) {
      this.#reaper ??= startDockerReaper(this.#poolOwner, this.home, POOL_LABELS.owner);
      const swept = sweepStaleSlots(this.docker, this.home);
      this.#pool = new DockerPool(this.poolSize, {
        fill: () => swept.then(() => this.#fill()),
        alive: (e) => this.#alive(e),
        discard: (e) => this.#discard(e),
        onError: (err) =>
          this.#log.warn(
            `peragus: the Docker warm pool could not start a container: ${(err as Error).message}`,
          ),
      });
    }
    // No count given: creates to come are open-ended (an agent, a bench).
    this.#pool?.expect(hint.creates ?? Number.POSITIVE_INFINITY);
    // The shared zygote's imports overlap whatever comes before the first create.
    void this.#sessions.kind();
    if (hint.experiment !== undefined) void this.#sessions.preload(hint.experiment);
    return Promise.resolve(undefined);
  }

  /** Resolves once `count` pooled containers are ready (default: the pool size); the count ready. */
  async poolReady(count?: number): Promise<number> {
    await this.warm();
    return this.#pool ? this.#pool.whenReady(count) : 0;
  }

  /** Drains the warm pool: no pooled container, volume or folder is left behind. */
  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    // The pool first: a refill still under way asks for the shared zygote (DockerSessions.kind).
    await pool?.drain();
    // Served sessions end (their kernels with them) and the shared zygote; experiment containers stay.
    await this.#sessions.close();
    this.#reaper?.stop();
    this.#reaper = undefined;
  }

  #fill(): Promise<PoolEntry> {
    return fillSlot(this.#slotContext());
  }

  #alive(entry: PoolEntry): Promise<boolean> {
    return slotAlive(this.docker, entry);
  }

  #discard(entry: PoolEntry): Promise<void> {
    return discardSlot(this.docker, entry);
  }

  #slotContext(): SlotContext {
    return {
      docker: this.docker,
      home: this.home,
      image: this.image,
      inspectImage: (image) => this.#inspectImage(image),
      readyTimeoutMs: this.#readyTimeoutMs,
      user: this.#containerUser(),
      resources: this.#defaults,
      owner: this.#poolOwner,
      sharedCache: this.#sharedCache,
      log: this.#log,
      hosted: () => this.#sessions.kind(),
    };
  }

  /**
   * As root on the host, run as the image's unprivileged user and hand it the
   * work dir; otherwise run as the calling user, so files stay theirs.
   */
  #containerUser(): { uid: number; gid: number } {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    return uid === 0 ? { uid: IMAGE_UID, gid: IMAGE_UID } : { uid, gid };
  }

  async create(input: ContainerSpec = {}): Promise<CreateResult> {
    const spec = parseContainerSpec(input);
    const image = spec.image ?? this.image;
    const imageInfo = await this.#inspectImage(image);

    const experimentId = spec.experiment_id ?? newExperimentId();
    const existing = await this.list({ [LABELS.experimentId]: experimentId });
    if (existing.length > 0) {
      throw new ContainerRuntimeError(
        'conflict',
        `experiment "${experimentId}" already has container ${existing[0]!.container_id.slice(0, 12)} (${existing[0]!.status}): destroy it first`,
      );
    }
    const layout = experimentLayout(this.home, experimentId);
    const pooled = await this.#fromPool(spec, image, imageInfo, experimentId, layout);
    if (pooled) return { ...pooled, caps: enforcedCaps(this.#resourcesOf(spec)) };

    const sharedCache = sharedCacheEnv(this.home, undefined, this.#sharedCache);
    const mountCache = sharedCache !== '0' && existsSync(sharedCache);
    const role = spec.command ? 'custom' : 'node';
    const hosted = spec.command ? undefined : await this.#sessions.kind();
    const scratch = spec.scratch === true;
    const env = {
      ...spec.env,
      PERAGUS_EXPERIMENT_ID: experimentId,
      PERAGUS_WORK_DIR: EXPERIMENT_MOUNT,
      ...(hosted ? {} : { PERAGUS_SOCKET: `${EXPERIMENT_MOUNT}/.peragus/node.sock` }),
      ...(mountCache ? { PERAGUS_PYSD_SHARED_CACHE: PYSD_CACHE_MOUNT } : {}),
    };
    const made = await provision(this.docker, this.#readyTimeoutMs, this.#containerUser(), {
      name: `peragus-${experimentId}`,
      what: experimentId,
      layout,
      imageId: imageInfo.Id,
      env,
      labels: containerLabels(spec.labels, { experimentId, role, image }),
      log: this.#log,
      ...(mountCache ? { sharedCache } : {}),
      resources: this.#resourcesOf(spec),
      disk: diskCapOf(spec.resources),
      ...(spec.command ? { command: spec.command } : {}),
      ...(hosted ? { hosted } : { scratch }),
    });
    const result: CreateResult = {
      container_id: made.containerId,
      experiment_id: experimentId,
      endpoint: made.endpoint,
      work_dir: layout.workDir,
      image,
      image_id: imageInfo.Id,
      isolation: 'docker' as const,
      caps: enforcedCaps(this.#resourcesOf(spec)),
    };
    if (hosted) {
      const containerEnv = { ...envRecord(imageInfo.Config.Env), ...env };
      await this.#sessions.serve(result, hosted, containerEnv, spec.env ?? {}, { scratch });
    }
    return result;
  }

  /** Whether this process serves the container's sessions itself (then hostTransport reaches them). */
  servesHere(id: string): boolean {
    return this.#sessions.servesHere(id);
  }

  /** Serves a running hosted container's sessions made by an earlier host on this home (docker-sessions.ts). */
  adopt(id: string): Promise<void> {
    return this.#sessions.adopt(id);
  }

  /** A new MCP connection to the sessions this process serves for the container. */
  hostTransport(id: string): Promise<Transport> {
    return this.#sessions.transport(id);
  }

  async #inspectImage(image: string): Promise<Docker.ImageInspectInfo> {
    try {
      return await this.docker.getImage(image).inspect();
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
  }

  #resourcesOf(spec: ContainerSpec): CapLimits {
    return capsOf(spec.resources, this.#defaults);
  }

  /** A hand-over from the warm pool when the spec fits a pooled container; else undefined. */
  async #fromPool(
    spec: ContainerSpec,
    image: string,
    imageInfo: Docker.ImageInspectInfo,
    experimentId: string,
    layout: ExperimentLayout,
  ): Promise<CreateResult | undefined> {
    const pool = this.#pool;
    if (!spec.command) pool?.consumed();
    // Env and image are fixed at create time, and so is the volume's size
    // cap; an experiment folder left by an earlier container keeps its files
    // (the cold path mounts them).
    const fits =
      pool &&
      !spec.command &&
      !spec.env &&
      image === this.image &&
      diskCapOf(spec.resources) === DEFAULT_DISK_BYTES &&
      !existsSync(layout.root);
    if (!pool || !fits) return undefined;
    const entry = await pool.take();
    if (!entry) return undefined;
    const resources = this.#resourcesOf(spec);
    const scratch = spec.scratch === true;
    const same =
      resources.cpu === this.#defaults.cpu &&
      resources.memory === this.#defaults.memory &&
      resources.pids === this.#defaults.pids;
    const outcome = await handOver(this.docker, this.home, entry, {
      experimentId,
      layout,
      labels: spec.labels ?? {},
      image,
      imageId: imageInfo.Id,
      scratch,
      ...(same ? {} : { update: resources }),
    });
    if (outcome.ok) {
      this.handedOver += 1;
      if (entry.hosted) {
        const containerEnv = { ...envRecord(imageInfo.Config.Env), ...entry.env };
        await this.#sessions.serve(outcome.result, entry.hosted, containerEnv, {}, { scratch });
      }
      return outcome.result;
    }
    if (outcome.giveBack) pool.giveBack(entry);
    else await this.#discard(entry);
    throw outcome.error;
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
    return logs(this.docker, id, options, (fullId, tail) => this.#sessions.kernelOutput(fullId, tail));
  }

  stats(id: string): Promise<StatsResult> {
    return stats(this.docker, id);
  }

  async health(id: string): Promise<HealthResult> {
    const h = await health(this.docker, id);
    // A joined container serves nothing itself: reachable when this host serves its sessions.
    if (h.running && h.endpoint_reachable === null && this.#sessions.servesHere(h.container_id)) {
      return { ...h, endpoint_reachable: true };
    }
    return h;
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
    // Its sessions' last saves land in the volume before the volume is released below.
    await this.#sessions.release(target.info.Id);
    try {
      await target.container.remove({ force: true });
    } catch (err) {
      const status = statusOf(err);
      // 404: removed meanwhile; 409: a removal is already under way.
      if (status === 404 || status === 409) return { removed: false };
      fail(this.docker, err);
    }
    removeClaim(labels, target.info.Id);
    const workDir = labels[LABELS.workDir];
    const endpoint = labels[LABELS.endpoint];
    if (workDir && endpoint) {
      const socket = labels[LABELS.role] === HOSTED_ROLE ? ZYGOTE_RELATIVE_PATH : ENDPOINT_RELATIVE_PATH;
      releaseEndpoint(endpoint, join(workDir, socket));
    }
    if (workDir) await releaseVolume(workDir);
    if (options.removeWorkDir && workDir) await rm(dirname(workDir), { recursive: true, force: true });
    return { removed: true };
  }

  list(labels: Record<string, string> = {}): Promise<ContainerInfo[]> {
    return list(this.docker, labels);
  }
}
