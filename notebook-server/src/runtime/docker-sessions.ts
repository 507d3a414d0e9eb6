// The Docker runtime's experiments whose sessions this host serves (PERAGUS_DOCKER_SESSIONS=host):
// which way their kernel comes (the shared zygote, or the container's own: docker-hosted.ts), the
// shared zygote itself (docker-zygote.ts, started at the first ask, replaced if it is killed), and
// the sessions this process serves, opened at a create or hand-over, adopted from an earlier host
// on this home, closed at destroy. runtime/docker.ts makes the containers and asks this for the rest.
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type Docker from 'dockerode';
import { deferredKernel, type KernelProcess } from '../kernel/launcher.ts';
import { preloadOrWarn, type ZygoteKernelRequest } from '../kernel/zygote.ts';
import type { Logger } from '../log/index.ts';
import {
  containerMemoryCgroup,
  envRecord,
  HOSTED_ROLE,
  type HostedKind,
  hostedContainer,
} from './docker-hosted.ts';
import { own, userOf } from './docker-inspect.ts';
import { type SharedZygote, startSharedZygote } from './docker-zygote.ts';
import { ContainerRuntimeError, type CreateResult, type HostSessionServer, LABELS } from './types.ts';

type Owner = { uid: number; gid: number };

export interface DockerSessionsOptions {
  docker: Docker;
  home: string;
  /** The runtime's default image (the shared zygote's). */
  image: string;
  inspectImage(image: string): Promise<Docker.ImageInspectInfo>;
  /** The runtime instance's token: names the shared zygote's container and folder. */
  owner: string;
  readyTimeoutMs: number;
  log: Logger;
  /** Undefined: node roles serve the sessions (PERAGUS_DOCKER_SESSIONS=node, or no server given). */
  server: HostSessionServer | undefined;
  zygoteMode: 'shared' | 'container';
  /** Who the runtime's containers run as. */
  containerUser(): Owner;
  /** Starts the runtime's reaper (it removes the shared zygote's container if this host dies). */
  startReaper(): void;
  /** Removes a container whose sessions could not be served. */
  destroy(id: string): Promise<unknown>;
}

/** A made container this host is to serve: its id, experiment and work dir on this host. */
type Made = Pick<CreateResult, 'container_id' | 'experiment_id' | 'work_dir'>;

export class DockerSessions {
  readonly #o: DockerSessionsOptions;
  /** Containers whose sessions this process serves (by full container id). */
  readonly #served = new Set<string>();
  readonly #adopting = new Map<string, Promise<void>>();
  /** The shared zygote, once asked for: null when it cannot run here. */
  #shared: Promise<SharedZygote | null> | undefined;
  /** Shared zygotes found stopped and replaced. */
  readonly #replaced = new WeakSet<SharedZygote>();
  #closed = false;

  constructor(options: DockerSessionsOptions) {
    this.#o = options;
  }

  /**
   * How a hosted container's kernel comes (undefined: a node role serves its sessions). The shared
   * zygote starts at the first ask (the runtime's warm-up asks early); where it cannot run (not
   * root, or the daemon refuses it) each container runs its own, and the log says why.
   */
  kind(): Promise<HostedKind | undefined> {
    const o = this.#o;
    if (!o.server) return Promise.resolve(undefined);
    // Once closing, no shared zygote starts again: nothing would remove that privileged container.
    if (o.zygoteMode === 'container' || process.getuid?.() !== 0 || this.#closed)
      return Promise.resolve('zygote');
    o.startReaper();
    this.#shared ??= this.#startShared();
    return this.#shared.then((z) => (z ? 'joined' : 'zygote'));
  }

  #startShared(): Promise<SharedZygote | null> {
    const o = this.#o;
    return o
      .inspectImage(o.image)
      .then((image) =>
        startSharedZygote({
          docker: o.docker,
          home: o.home,
          imageId: image.Id,
          owner: o.owner,
          readyTimeoutMs: o.readyTimeoutMs,
          log: o.log,
        }),
      )
      .catch((err: Error) => {
        o.log.warn(
          `peragus: Docker kernels come from each container's own zygote (${err.message}); PERAGUS_DOCKER_ZYGOTE=container says so without trying`,
        );
        return null;
      });
  }

  /**
   * Another shared zygote in place of one whose container stopped (killed, or the daemon restarted
   * it away). The first caller to see it stopped closes it (its container, same name as the next
   * one's, and folder) and starts the next; later callers get that one.
   */
  #replace(stopped: SharedZygote): Promise<SharedZygote | null> {
    if (this.#shared === undefined || this.#closed) return Promise.resolve(null);
    if (this.#replaced.has(stopped)) return this.#shared;
    this.#replaced.add(stopped);
    this.#o.log.warn(`peragus: the shared kernel zygote's container stopped; starting another`);
    const next = this.#shared.then(async (current) => {
      if (current !== stopped) return current;
      await current.close();
      return this.#startShared();
    });
    this.#shared = next;
    return next;
  }

  /**
   * Starts serving a hosted container's sessions here (its kernel is forked at once, as a node
   * role's pool would); a failure destroys the container, as a failed create leaves nothing.
   */
  async serve(
    made: Made,
    kind: HostedKind,
    containerEnv: Record<string, string>,
    kernelEnv: Record<string, string>,
    {
      owner = this.#o.containerUser(),
      adopted = false,
      scratch = false,
    }: {
      owner?: Owner;
      /** A running container served again (after a host restart), not one just made. */
      adopted?: boolean;
      /** Its spec's `scratch`: its sessions do not flush each write. */
      scratch?: boolean;
    } = {},
  ): Promise<void> {
    const id = made.container_id;
    try {
      const fork = kind === 'joined' ? await this.#join(id, owner) : undefined;
      await this.#o.server?.open(
        hostedContainer({
          containerId: id,
          experimentId: made.experiment_id,
          workDir: made.work_dir,
          owner,
          containerEnv,
          env: { ...kernelEnv, PERAGUS_EXPERIMENT_ID: made.experiment_id },
          ...(fork ? { fork } : {}),
          scratch,
        }),
      );
      this.#served.add(id);
    } catch (e) {
      // A container just made is useless without its sessions; an adopted one is left as it was.
      if (!adopted) await this.#o.destroy(id).catch(() => undefined);
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
   * A later kernel (a restart) comes from the zygote running then: if the one it registered with
   * stopped, another is started and the container registered there first.
   */
  async #join(id: string, owner: Owner): Promise<(r: ZygoteKernelRequest) => KernelProcess> {
    let joined = await this.#register(id, owner);
    let first = true;
    const fork = (zygote: SharedZygote, request: ZygoteKernelRequest) => {
      const proc = zygote.forkInto(id, request);
      proc.memoryCgroup = containerMemoryCgroup(id);
      return proc;
    };
    return (request) => {
      if (first) {
        first = false; // registered just now: its zygote is running
        return fork(joined, request);
      }
      return deferredKernel(
        (async () => {
          if (!(await this.#running(joined))) joined = await this.#register(id, owner);
          return fork(joined, request);
        })(),
      );
    };
  }

  /** Registers the container with the running shared zygote (another one if it stopped, once). */
  async #register(id: string, owner: Owner, retried = false): Promise<SharedZygote> {
    const zygote = await this.#shared;
    if (!zygote) throw new Error('the shared kernel zygote is not running');
    const info = await this.#o.docker.getContainer(id).inspect();
    if (!info.State.Running || !info.State.Pid)
      throw new Error(`container ${id.slice(0, 12)} is not running`);
    try {
      await zygote.register(id, owner);
      await zygote.attach(id, info.State.Pid, { init: true, cgroups: true, seccomp: true });
      return zygote;
    } catch (err) {
      if (retried || (await this.#running(zygote))) throw err;
      if (!(await this.#replace(zygote))) throw err;
      return this.#register(id, owner, true);
    }
  }

  async #running(zygote: SharedZygote): Promise<boolean> {
    try {
      return (await this.#o.docker.getContainer(zygote.containerId).inspect()).State.Running === true;
    } catch {
      return false;
    }
  }

  /** Whether this process serves the container's sessions (then transport reaches them). */
  servesHere(id: string): boolean {
    return this.#served.has(id);
  }

  /**
   * The shared zygote imports what `experiment` needs (kernel/zygote.ts preload) for the kernels
   * it forks after; containers with their own zygote import it themselves.
   */
  async preload(experiment: unknown): Promise<void> {
    if ((await this.kind()) === 'joined') {
      await preloadOrWarn(this.#shared ?? null, experiment, this.#o.log, () => this.#closed);
    }
  }

  /** The output of the kernels this process runs for the container (outside cells); "" if none. */
  kernelOutput(id: string, tail: number): string {
    return this.#served.has(id) ? (this.#o.server?.kernelOutput(id, tail) ?? '') : '';
  }

  /** A new MCP connection to the sessions this process serves for the container. */
  transport(id: string): Promise<Transport> {
    const server = this.#o.server;
    if (!server || !this.#served.has(id)) {
      return Promise.reject(
        new ContainerRuntimeError('not_found', `the sessions of ${id} are not served by this host`),
      );
    }
    return server.transport(id);
  }

  /**
   * Serves the sessions of a running hosted container that no process here serves: one made by
   * an earlier host on this home (only one host serves a home at a time: hostlink/serving.ts).
   * A new kernel is forked and the sessions reopen from their records in the volume, with every
   * completed cell's output; what lived only in the lost kernel is not in the new one.
   */
  adopt(id: string): Promise<void> {
    if (this.#served.has(id)) return Promise.resolve();
    let adopting = this.#adopting.get(id);
    if (!adopting) {
      adopting = this.#adopt(id).finally(() => this.#adopting.delete(id));
      this.#adopting.set(id, adopting);
    }
    return adopting;
  }

  async #adopt(id: string): Promise<void> {
    const { info } = await own(this.#o.docker, id);
    if (this.#served.has(info.Id)) return;
    const labels = info.Config.Labels ?? {};
    const experimentId = labels[LABELS.experimentId];
    const workDir = labels[LABELS.workDir];
    if (labels[LABELS.role] !== HOSTED_ROLE || !experimentId || !workDir) {
      throw new ContainerRuntimeError('not_found', `container ${id} has no sessions for this host to serve`);
    }
    const redo = 'destroy the container and create the experiment again';
    if (!this.#o.server) {
      throw new ContainerRuntimeError(
        'not_found',
        `container ${id}'s sessions are served by a host, and this one serves Docker sessions through node roles (PERAGUS_DOCKER_SESSIONS=node): unset it, or ${redo}`,
      );
    }
    if (!info.State.Running)
      throw new ContainerRuntimeError('not_found', `container ${id} is not running: ${redo}`);
    // A joined container has no endpoint (its kernel is the shared zygote's); one with its own zygote has its socket.
    const kind: HostedKind = labels[LABELS.endpoint] ? 'zygote' : 'joined';
    if (kind === 'joined' && (await this.kind()) !== 'joined') {
      throw new ContainerRuntimeError(
        'not_found',
        `container ${id}'s kernel comes from a shared zygote, which this host does not run (see its log): ${redo}`,
      );
    }
    const containerEnv = envRecord(info.Config.Env);
    // What the create added to the image's environment is the kernel's own (a spec's env).
    const image = envRecord((await this.#o.inspectImage(info.Image)).Config.Env);
    const added = Object.fromEntries(Object.entries(containerEnv).filter(([k, v]) => image[k] !== v));
    const made = { container_id: info.Id, experiment_id: experimentId, work_dir: workDir };
    await this.serve(made, kind, containerEnv, added, { owner: userOf(info), adopted: true });
  }

  /** Before a container is removed: its sessions' last saves land, its kernel and registration end. */
  async release(id: string): Promise<void> {
    if (!this.#served.delete(id)) return;
    await this.#o.server?.close(id).catch(() => undefined);
    await (await this.#shared)?.revoke(id).catch(() => undefined);
  }

  /** Closes every session served here (their kernels end) and the shared zygote; containers stay. */
  async close(): Promise<void> {
    this.#closed = true;
    const served = [...this.#served];
    this.#served.clear();
    await Promise.all(served.map((id) => this.#o.server?.close(id).catch(() => undefined)));
    const shared = this.#shared;
    this.#shared = undefined;
    await (await shared?.catch(() => null))?.close();
  }
}
