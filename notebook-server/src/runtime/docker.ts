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
import type { KernelProcess } from '../kernel/launcher.ts';
import type { ZygoteKernelRequest } from '../kernel/zygote.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { EXPERIMENT_UID } from '../sandbox/bwrap.ts';
import { POOL_LABELS, removeClaim } from './docker-claims.ts';
import { cpIn, cpOut } from './docker-copy.ts';
import { fail, statusOf } from './docker-errors.ts';
import { exec } from './docker-exec.ts';
import { handOver } from './docker-handover.ts';
import {
  containerMemoryCgroup,
  envRecord,
  HOSTED_ROLE,
  type HostedKind,
  hostedContainer,
  ZYGOTE_RELATIVE_PATH,
} from './docker-hosted.ts';
import { health, list, logs, type Owned, own, stats, userOf } from './docker-inspect.ts';
import { DockerPool, type PoolEntry, poolSizeFrom } from './docker-pool.ts';
import { discardSlot, fillSlot, type SlotContext, slotAlive, sweepStaleSlots } from './docker-pool-slots.ts';
import { provision } from './docker-provision.ts';
import { startDockerReaper } from './docker-reaper.ts';
import { type SharedZygote, startSharedZygote } from './docker-zygote.ts';
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
  ENDPOINT_RELATIVE_PATH,
  EXPERIMENT_MOUNT,
  type ExecOptions,
  type ExecResult,
  type HealthResult,
  type HostSessionServer,
  LABELS,
  type LogsOptions,
  type LogsResult,
  parseContainerSpec,
  parseMemory,
  type StatsResult,
} from './types.ts';
import { DEFAULT_DISK_BYTES, diskCapOf, releaseVolume } from './volume-cap.ts';

/** uid/gid of the `peragus` user baked into the experiment image. */
export const IMAGE_UID = EXPERIMENT_UID;

const DEFAULTS = {
  cpu: 1,
  memory: 2 * 2 ** 30,
  pids: 512,
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
  readonly #defaults: { cpu: number; memory: number; pids: number };
  readonly poolSize: number;
  /** Creates served by a hand-over from the warm pool (tests and the bench read it). */
  handedOver = 0;
  #pool: DockerPool | undefined;
  #reaper: { stop(): void } | undefined;
  /** Labels every pool container of this runtime instance carries (its reaper's filter). */
  readonly #poolOwner = `${process.pid}-${randomBytes(4).toString('hex')}`;
  readonly #log: Logger;
  readonly #sharedCache: boolean;
  readonly #hostSessions: HostSessionServer | undefined;
  /** Containers whose sessions this process serves (by full container id). */
  readonly #hosted = new Set<string>();
  readonly #adopting = new Map<string, Promise<void>>();
  readonly #zygoteMode: 'shared' | 'container';
  /** The shared zygote, once asked for: null when it cannot run here (kernels then come from each container's own). */
  #shared: Promise<SharedZygote | null> | undefined;

  constructor(options: DockerRuntimeOptions = {}) {
    this.#log = options.log ?? createLogger();
    this.#sharedCache = options.sharedCache ?? readSetting('pysdSharedCache');
    const sessions = options.dockerSessions ?? readSetting('dockerSessions');
    this.#hostSessions = sessions === 'host' ? options.hostSessions : undefined;
    this.#zygoteMode = options.dockerZygote ?? readSetting('dockerZygote');
    this.docker = options.docker ?? new (dockerode())();
    this.home = resolve(options.home ?? peragusHome());
    this.image = options.image ?? defaultImage();
    this.#readyTimeoutMs = options.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs;
    const d = options.defaultResources ?? {};
    this.#defaults = {
      cpu: d.cpu ?? DEFAULTS.cpu,
      memory: d.memory !== undefined ? parseMemory(d.memory) : DEFAULTS.memory,
      pids: d.pids ?? DEFAULTS.pids,
    };
    this.poolSize = options.poolSize ?? poolSizeFrom();
  }

  /**
   * Creates to come: starts filling the warm pool (in the background) and a
   * watchdog that removes this host's pool containers if the host dies.
   */
  warm(hint: { creates?: number } = {}): Promise<undefined> {
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
    void this.#hostedKind();
    return Promise.resolve(undefined);
  }

  /** Resolves once `count` pooled containers are ready (default: the pool size); the count ready. */
  async poolReady(count?: number): Promise<number> {
    await this.warm();
    return this.#pool ? this.#pool.whenReady(count) : 0;
  }

  /** Drains the warm pool: no pooled container, volume or folder is left behind. */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    const hosted = [...this.#hosted];
    this.#hosted.clear();
    await Promise.all(hosted.map((id) => this.#hostSessions?.close(id).catch(() => undefined)));
    await pool?.drain();
    // Its kernels were killed with their sessions above; experiment containers stay.
    const shared = this.#shared;
    this.#shared = undefined;
    await (await shared?.catch(() => null))?.close();
    this.#reaper?.stop();
    this.#reaper = undefined;
  }

  /**
   * How a hosted container's kernel comes here (undefined: a node role serves its sessions). The
   * shared zygote starts at the first ask (warm() asks early); where it cannot run (not root, or
   * the daemon refuses it) each container runs its own, and the log says why.
   */
  #hostedKind(): Promise<HostedKind | undefined> {
    if (!this.#hostSessions) return Promise.resolve(undefined);
    if (this.#zygoteMode === 'container' || process.getuid?.() !== 0) return Promise.resolve('zygote');
    // The reaper removes it, as it removes the pool's containers, if this host dies.
    this.#reaper ??= startDockerReaper(this.#poolOwner, this.home, POOL_LABELS.owner);
    this.#shared ??= this.#inspectImage(this.image)
      .then((image) =>
        startSharedZygote({
          docker: this.docker,
          home: this.home,
          imageId: image.Id,
          owner: this.#poolOwner,
          readyTimeoutMs: this.#readyTimeoutMs,
          log: this.#log,
        }),
      )
      .catch((err: Error) => {
        this.#log.warn(
          `peragus: Docker kernels come from each container's own zygote (${err.message}); PERAGUS_DOCKER_ZYGOTE=container says so without trying`,
        );
        return null;
      });
    return this.#shared.then((z) => (z ? 'joined' : 'zygote'));
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
      hosted: () => this.#hostedKind(),
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
    if (pooled) return pooled;

    const sharedCache = sharedCacheEnv(this.home, undefined, this.#sharedCache);
    const mountCache = sharedCache !== '0' && existsSync(sharedCache);
    const role = spec.command ? 'custom' : 'node';
    const hosted = spec.command ? undefined : await this.#hostedKind();
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
      ...(hosted ? { hosted } : {}),
    });
    const result: CreateResult = {
      container_id: made.containerId,
      experiment_id: experimentId,
      endpoint: made.endpoint,
      work_dir: layout.workDir,
      image,
      image_id: imageInfo.Id,
      isolation: 'docker' as const,
    };
    if (hosted) {
      const containerEnv = { ...envRecord(imageInfo.Config.Env), ...env };
      await this.#serve(result, hosted, containerEnv, spec.env ?? {});
    }
    return result;
  }

  /**
   * Starts serving a hosted container's sessions here (its kernel is forked at once, as a node
   * role's pool would); a failure destroys the container, as a failed create leaves nothing.
   */
  async #serve(
    made: Pick<CreateResult, 'container_id' | 'experiment_id' | 'work_dir'>,
    kind: HostedKind,
    containerEnv: Record<string, string>,
    kernelEnv: Record<string, string>,
    owner: { uid: number; gid: number } = this.#containerUser(),
    adopted = false,
  ): Promise<void> {
    const id = made.container_id;
    try {
      const fork = kind === 'joined' ? await this.#join(id, owner) : undefined;
      await this.#hostSessions?.open(
        hostedContainer({
          containerId: id,
          experimentId: made.experiment_id,
          workDir: made.work_dir,
          owner,
          containerEnv,
          env: { ...kernelEnv, PERAGUS_EXPERIMENT_ID: made.experiment_id },
          ...(fork ? { fork } : {}),
        }),
      );
      this.#hosted.add(id);
    } catch (e) {
      // A container just made is useless without its sessions; an adopted one is left as it was.
      if (!adopted) await this.destroy(made.container_id).catch(() => undefined);
      throw new ContainerRuntimeError(
        'create_failed',
        `cannot serve ${made.experiment_id}'s sessions: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /**
   * Registers a joined container with the shared zygote (its init's namespaces and cgroups) and
   * returns how its kernels are forked there; the pid is this host's, so signals go directly.
   */
  async #join(
    id: string,
    owner: { uid: number; gid: number },
    retried = false,
  ): Promise<(r: ZygoteKernelRequest) => KernelProcess> {
    const zygote = await this.#shared;
    if (!zygote) throw new Error('the shared kernel zygote is not running');
    const info = await this.docker.getContainer(id).inspect();
    if (!info.State.Running || !info.State.Pid)
      throw new Error(`container ${id.slice(0, 12)} is not running`);
    try {
      await zygote.register(id, owner);
      await zygote.attach(id, info.State.Pid, { init: true, cgroups: true, seccomp: true });
    } catch (err) {
      // Its container stopped (killed, or the daemon restarted it away): start another, once.
      if (retried || (await this.#zygoteRunning(zygote))) throw err;
      this.#log.warn(`peragus: the shared kernel zygote's container stopped; starting another`);
      if (this.#shared !== undefined && (await this.#shared) === zygote) {
        this.#shared = undefined;
        await zygote.close(); // its container (same name as the next one's) and folder
      }
      if ((await this.#hostedKind()) !== 'joined') throw err;
      return this.#join(id, owner, true);
    }
    return (request) => {
      const proc = zygote.forkInto(id, request);
      proc.memoryCgroup = containerMemoryCgroup(id);
      return proc;
    };
  }

  async #zygoteRunning(zygote: SharedZygote): Promise<boolean> {
    try {
      return (await this.docker.getContainer(zygote.containerId).inspect()).State.Running === true;
    } catch {
      return false;
    }
  }

  /** Whether this process serves the container's sessions itself (then hostTransport reaches them). */
  servesHere(id: string): boolean {
    return this.#hosted.has(id);
  }

  /**
   * Serves the sessions of a running hosted container that no process here serves: one made by
   * an earlier host on this home (only one host serves a home at a time: hostlink/serving.ts).
   * The container's zygote forks a new kernel and the sessions reopen from their records in
   * the volume, with every completed cell's output; what ran in the lost kernel is not in the new one.
   */
  adopt(id: string): Promise<void> {
    if (this.#hosted.has(id)) return Promise.resolve();
    let adopting = this.#adopting.get(id);
    if (!adopting) {
      adopting = this.#adopt(id).finally(() => this.#adopting.delete(id));
      this.#adopting.set(id, adopting);
    }
    return adopting;
  }

  async #adopt(id: string): Promise<void> {
    const { info } = await own(this.docker, id);
    if (this.#hosted.has(info.Id)) return;
    const labels = info.Config.Labels ?? {};
    const experimentId = labels[LABELS.experimentId];
    const workDir = labels[LABELS.workDir];
    // A joined container has no endpoint (its kernel is the shared zygote's); one with its own zygote has its socket.
    const kind: HostedKind = labels[LABELS.endpoint] ? 'zygote' : 'joined';
    if (labels[LABELS.role] !== HOSTED_ROLE || !experimentId || !workDir) {
      throw new ContainerRuntimeError('not_found', `container ${id} has no sessions for this host to serve`);
    }
    if (!this.#hostSessions) {
      throw new ContainerRuntimeError(
        'not_found',
        `container ${id}'s sessions are served by a host, and this one serves Docker sessions through node roles (PERAGUS_DOCKER_SESSIONS=node): unset it, or destroy the container and create it again`,
      );
    }
    if (!info.State.Running) {
      throw new ContainerRuntimeError(
        'not_found',
        `container ${id} is not running: destroy it and create it again`,
      );
    }
    const containerEnv = envRecord(info.Config.Env);
    // What the create added to the image's environment is the kernel's own (a spec's env).
    const image = envRecord((await this.#inspectImage(info.Image)).Config.Env);
    const added = Object.fromEntries(Object.entries(containerEnv).filter(([k, v]) => image[k] !== v));
    await this.#serve(
      { container_id: info.Id, experiment_id: experimentId, work_dir: workDir },
      kind === 'joined' && (await this.#hostedKind()) !== 'joined' ? 'zygote' : kind,
      containerEnv,
      added,
      userOf(info),
      true,
    );
  }

  /** A new MCP connection to the sessions this process serves for the container. */
  hostTransport(id: string): Promise<Transport> {
    if (!this.#hostSessions || !this.#hosted.has(id)) {
      return Promise.reject(
        new ContainerRuntimeError('not_found', `the sessions of ${id} are not served by this host`),
      );
    }
    return this.#hostSessions.transport(id);
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

  #resourcesOf(spec: ContainerSpec): { cpu: number; memory: number; pids: number } {
    return {
      cpu: spec.resources?.cpu ?? this.#defaults.cpu,
      memory:
        spec.resources?.memory !== undefined ? parseMemory(spec.resources.memory) : this.#defaults.memory,
      pids: spec.resources?.pids ?? this.#defaults.pids,
    };
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
      ...(same ? {} : { update: resources }),
    });
    if (outcome.ok) {
      this.handedOver += 1;
      if (entry.hosted) {
        await this.#serve(
          outcome.result,
          entry.hosted,
          { ...envRecord(imageInfo.Config.Env), ...entry.env },
          {},
        );
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
    return logs(this.docker, id, options);
  }

  stats(id: string): Promise<StatsResult> {
    return stats(this.docker, id);
  }

  async health(id: string): Promise<HealthResult> {
    const h = await health(this.docker, id);
    // A joined container serves nothing itself: reachable when this host serves its sessions.
    if (h.running && h.endpoint_reachable === null && this.#hosted.has(h.container_id)) {
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
    if (this.#hosted.delete(target.info.Id)) {
      await this.#hostSessions?.close(target.info.Id).catch(() => undefined);
      await (await this.#shared)?.revoke(target.info.Id).catch(() => undefined);
    }
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
