// The host's view of experiment containers across runtimes: picks the runtime
// (PERAGUS_RUNTIME, or per call), finds a container's runtime from its id
// (local ids start with "local-", swarm ids with "swarm-"), and keeps the
// router's connections in step.
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { defaultRuntimeKind } from '../config/index.ts';
import type { ZygoteRegistry } from '../kernel/zygote.ts';
import type { Logger } from '../log/index.ts';
import { DockerRuntime } from '../runtime/docker.ts';
import { HOSTED_ROLE } from '../runtime/docker-hosted.ts';
import { LOCAL_ID_PREFIX, LocalRuntime } from '../runtime/local.ts';
import { SWARM_ID_PREFIX, SwarmRuntime } from '../runtime/swarm.ts';
import {
  type ContainerInfo,
  type ContainerRuntime,
  ContainerRuntimeError,
  type ContainerSpec,
  type CreateResult,
  type HostSessionServer,
  LABELS,
  type WarmHint,
} from '../runtime/types.ts';

export type RuntimeKind = 'local' | 'docker' | 'swarm';

/** What the host's configuration gives the runtimes it creates. */
export interface RuntimeSettings {
  /** Warm kernels of each local experiment child (PERAGUS_NODE_POOL_SIZE). */
  nodePoolSize?: number;
  /** The docker runtime's image (PERAGUS_IMAGE; unset: the package version's). */
  image?: string;
  /** Experiments share the PySD translation cache (PERAGUS_PYSD_SHARED_CACHE). */
  sharedCache?: boolean;
  /** Warm containers of the docker runtime (PERAGUS_DOCKER_POOL). */
  dockerPool?: number;
  /** Serves sandboxed local and Docker experiments' sessions in this process (app/hosted-sessions.ts). */
  hostSessions?: HostSessionServer;
  log?: Logger;
}

export class ContainerService {
  readonly #runtimes = new Map<RuntimeKind, ContainerRuntime>();
  #localRuntime: LocalRuntime | undefined;
  readonly defaultKind: RuntimeKind;
  /** Called after a container is destroyed (the router drops its connection). */
  onDestroyed?: (containerId: string) => Promise<void>;

  readonly #home: string;
  readonly #settings: RuntimeSettings;
  constructor(home: string, defaultKind?: RuntimeKind, settings: RuntimeSettings = {}) {
    this.#home = home;
    this.#settings = settings;
    this.defaultKind = defaultKind ?? defaultRuntimeKind();
  }

  #local() {
    const { nodePoolSize, sharedCache, log, hostSessions } = this.#settings;
    return {
      ...(nodePoolSize !== undefined ? { nodePoolSize } : {}),
      ...(hostSessions ? { hostSessions } : {}),
      ...(sharedCache !== undefined ? { sharedCache } : {}),
      ...(log ? { log } : {}),
    };
  }

  #docker() {
    const { image, sharedCache, log, dockerPool, hostSessions } = this.#settings;
    return {
      ...(hostSessions ? { hostSessions } : {}),
      ...(image !== undefined ? { image } : {}),
      ...(dockerPool !== undefined ? { poolSize: dockerPool } : {}),
      ...(sharedCache !== undefined ? { sharedCache } : {}),
      ...(log ? { log } : {}),
    };
  }

  /** The local runtime with its own type: the kernels the host serves itself get their sandboxes there. */
  localRuntime(): LocalRuntime {
    if (!this.#localRuntime) {
      this.#localRuntime = new LocalRuntime({ home: this.#home, ...this.#local() });
      this.#runtimes.set('local', this.#localRuntime);
    }
    return this.#localRuntime;
  }

  runtime(kind: RuntimeKind = this.defaultKind): ContainerRuntime {
    if (kind === 'local') return this.localRuntime();
    let rt = this.#runtimes.get(kind);
    if (!rt) {
      rt =
        kind === 'docker'
          ? new DockerRuntime({ home: this.#home, ...this.#docker() })
          : new SwarmRuntime({ home: this.#home });
      this.#runtimes.set(kind, rt);
    }
    return rt;
  }

  /**
   * Lets a runtime prepare for creates to come (`hint.creates`: how many, so a
   * warm pool fills for them and not past them): the local runtime's kernel zygote, Docker's pool.
   */
  warm(kind: RuntimeKind = this.defaultKind, hint: WarmHint = {}): void {
    const rt = this.runtime(kind) as { warm?: (hint: WarmHint) => unknown };
    void Promise.resolve(rt.warm?.(hint)).catch(() => undefined);
  }

  /**
   * The kernel zygote model checks are forked from (the local runtime's), or null for a cold
   * check: a local plan's check starts it (warm() has already); other checks use it when it runs.
   */
  checkZygote(kind?: RuntimeKind): Promise<ZygoteRegistry | null> {
    const local = kind === 'local' ? this.runtime('local') : this.#runtimes.get('local');
    return local instanceof LocalRuntime ? local.checkZygote(kind === 'local') : Promise.resolve(null);
  }

  /** Releases what the runtimes hold for this host (the local runtime's kernel zygote). */
  async close(): Promise<void> {
    for (const rt of this.#runtimes.values()) await (rt as { close?: () => Promise<void> }).close?.();
  }

  /** The runtime a container id belongs to (by its prefix: LOCAL_ID_PREFIX, SWARM_ID_PREFIX, else Docker). */
  kindOf(containerId: string): RuntimeKind {
    if (containerId.startsWith(LOCAL_ID_PREFIX)) return 'local';
    return containerId.startsWith(SWARM_ID_PREFIX) ? 'swarm' : 'docker';
  }

  runtimeOf(containerId: string): ContainerRuntime {
    return this.runtime(this.kindOf(containerId));
  }

  async create(spec: ContainerSpec, kind?: RuntimeKind): Promise<CreateResult & { runtime: RuntimeKind }> {
    const k = kind ?? this.defaultKind;
    const created = await this.runtime(k).create(spec);
    return { ...created, runtime: k };
  }

  async endpoint(
    containerId: string,
  ): Promise<{ container_id: string; endpoint: string; connect?: () => Promise<Transport> }> {
    const rt = this.runtimeOf(containerId);
    const found = (await rt.list()).find((c) => c.container_id === containerId || c.name === containerId);
    if (!found) {
      throw new ContainerRuntimeError(
        'not_found',
        `no container "${containerId}": container_list shows the live ones`,
      );
    }
    if (!found.running) {
      const health = await rt.health(containerId);
      throw new ContainerRuntimeError(
        'not_found',
        `container ${containerId} is not running: ${health.reason}`,
      );
    }
    // A hosted Docker experiment made by an earlier host on this home: served here from now on
    // (a joined one has no endpoint at all; one with its own zygote has that zygote's socket, never
    // connected to as an MCP server).
    if (rt instanceof DockerRuntime && found.labels[LABELS.role] === HOSTED_ROLE) {
      await rt.adopt(found.container_id);
    }
    const endpoint = found.endpoint ?? '';
    if (!endpoint && !(rt instanceof DockerRuntime && rt.servesHere(found.container_id)))
      throw new ContainerRuntimeError('not_found', `container ${containerId} has no MCP endpoint`);
    // A swarm experiment is reached over its node's hub connection, never by a path on this host.
    // A hosted experiment's sessions (local, Docker) are served in this process: reached in memory.
    if ((rt instanceof LocalRuntime || rt instanceof DockerRuntime) && rt.servesHere(found.container_id)) {
      return {
        container_id: found.container_id,
        endpoint,
        connect: () => rt.hostTransport(found.container_id),
      };
    }
    if (rt instanceof SwarmRuntime) {
      return {
        container_id: found.container_id,
        endpoint,
        connect: () => rt.mcpTransport(found.container_id),
      };
    }
    return {
      container_id: found.container_id,
      endpoint,
      ...(found.work_dir ? { work_dir: found.work_dir } : {}),
    };
  }

  async destroy(containerId: string, removeWorkDir = false): Promise<{ removed: boolean }> {
    await this.onDestroyed?.(containerId);
    return this.runtimeOf(containerId).destroy(containerId, { removeWorkDir });
  }

  /** Containers of every runtime that is in use (docker only when it answers). */
  async list(
    labels?: Record<string, string>,
    kind?: RuntimeKind,
  ): Promise<(ContainerInfo & { runtime: RuntimeKind })[]> {
    const kinds: RuntimeKind[] = kind
      ? [kind]
      : this.defaultKind === 'local'
        ? ['local']
        : ['local', this.defaultKind];
    const all: (ContainerInfo & { runtime: RuntimeKind })[] = [];
    for (const k of kinds) {
      for (const c of await this.runtime(k).list(labels)) {
        // Only this host's containers: another PERAGUS_HOME's are not ours to show or clean.
        if (c.work_dir && !c.work_dir.startsWith(`${this.#home}/`)) continue;
        all.push({ ...c, runtime: k });
      }
    }
    return all;
  }
}
