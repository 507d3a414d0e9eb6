// The local runtime (the default, no Docker needed): each experiment is a
// child process running the notebook server in its node role, with its own
// work dir and an MCP endpoint on a Unix socket there — the same protocol as
// a container. Where bubblewrap runs, the node, its kernels and exec'd
// commands are sandboxed (sandbox/bwrap.ts); every experiment process gets an
// allow-listed environment. On a root host with cgroup v1, each sandbox also gets CPU, memory and
// pids caps (runtime/local-cgroups.ts); elsewhere create() says they are not enforced.

import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { readSetting } from '../config/index.ts';
import type { Owner } from '../confine/walk.ts';
import { newExperimentId } from '../ids/index.ts';
import { ZYGOTE_ENV, type Zygote, type ZygoteRegistry } from '../kernel/zygote.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { isAlive, processStart } from '../proc/process.ts';
import {
  forkOwner,
  type IsolationCheck,
  localIsolation,
  SANDBOX_ENV,
  sandboxOwner,
  ZYGOTE_SOCKET_INSIDE,
} from '../sandbox/bwrap.ts';
import { experimentEnv } from '../sandbox/env.ts';
import { isMountRace, retryMountRace } from '../sandbox/mount-race.ts';
import { coldKernelSandbox, heldKernelSandbox, kernelSandboxId, SANDBOX_HOLDER } from './kernel-sandbox.ts';
import { type CgroupSupport, LocalCaps, type SandboxCgroups } from './local-cgroups.ts';
import { type SandboxedCommand, sandboxedCommand } from './local-command.ts';
import { HostedSandboxes } from './local-hosted.ts';
import { localHealth, localStats } from './local-inspect.ts';
import { runCommand, stopGroup } from './local-process.ts';
import {
  containerInfo,
  groupsOf,
  isRunning,
  type LocalRecord,
  LocalRegistry,
  tailFile,
} from './local-record.ts';
import { sandboxEnded, spawnSandbox } from './local-spawn.ts';
import { RuntimeZygote } from './local-zygote.ts';
import { nodeRoleArgv } from './node-role-command.ts';
import { LIFELINE_ENV, parentWatchEnv } from './parent-watch.ts';
import {
  asRuntimeError,
  endpointFor,
  experimentLayout,
  peragusHome,
  prepareVolume,
  probeSocket,
  pysdCacheDir,
  releaseEndpoint,
  resolveExperimentPath,
  sharedCacheEnv,
  volumeDirectory,
  waitForEndpoint,
} from './paths.ts';
import type {
  ContainerInfo,
  ContainerRuntime,
  ContainerSpec,
  CopyInResult,
  CopyOutResult,
  CopySource,
  CreateResult,
  DestroyOptions,
  ExecOptions,
  ExecResult,
  HealthResult,
  HostSessionServer,
  KernelSandbox,
  LogsOptions,
  LogsResult,
  StatsResult,
  WarmHint,
} from './types.ts';
import {
  ContainerRuntimeError,
  containerLabels,
  LABELS,
  parseContainerSpec,
  withKernelOutput,
} from './types.ts';
import { diskCapOf } from './volume-cap.ts';
import { copyIntoVolume, copyOutOfVolume } from './volume-copy.ts';

/** Local container ids start with this (the orchestrator tells runtimes apart by it). */
export const LOCAL_ID_PREFIX = 'local-';

export interface LocalRuntimeOptions {
  home?: string;
  readyTimeoutMs?: number;
  /** Warm kernels of each experiment child (default PERAGUS_NODE_POOL_SIZE, 1). */
  nodePoolSize?: number;
  /** Children share the PySD translation cache (default PERAGUS_PYSD_SHARED_CACHE, on). */
  sharedCache?: boolean;
  /** Nodes start from the bundle's startup snapshot when one fits (default PERAGUS_NODE_SNAPSHOT, on). */
  nodeSnapshot?: boolean;
  log?: Logger;
  /** Default: bubblewrap when it runs here (checked once), else none. */
  isolation?: IsolationCheck;
  /**
   * Serves sandboxed experiments' sessions in this process, when `localSessions` is "host"
   * (default PERAGUS_LOCAL_SESSIONS): each experiment's sandbox then holds its kernel alone, and
   * no node process. Without it (or bubblewrap, a root host and the zygote), a node serves them.
   */
  hostSessions?: HostSessionServer;
  localSessions?: 'host' | 'node';
  /** Caps where a spec names none (default DEFAULT_CAPS). */
  defaultResources?: { cpu?: number; memory?: number | string; pids?: number };
  /** Where sandbox cgroups are made (default: probed once; `{ reason }` turns the caps off). */
  cgroups?: CgroupSupport;
}

export class LocalRuntime implements ContainerRuntime {
  readonly kind = 'local' as const;
  readonly home: string;
  readonly #records: LocalRegistry;
  readonly #readyTimeoutMs: number;
  #isolation: IsolationCheck | undefined;
  /**
   * Whether experiment processes run under bubblewrap (and why not, when they do not). Probed
   * (one sandbox started: ≈ 50 ms) at first use, so a warm runtime's zygote starts before it.
   */
  get isolation(): IsolationCheck {
    this.#isolation ??= localIsolation();
    return this.#isolation;
  }
  /** Owner of the files the host makes in a volume: the sandbox user. */
  get #owner(): Owner | undefined {
    return this.isolation.isolation === 'bubblewrap' ? sandboxOwner() : undefined;
  }

  readonly #nodePoolSize: number;
  readonly #sharedCache: boolean;
  readonly #nodeSnapshot: boolean;
  readonly #log: Logger;
  /** Each sandbox's CPU, memory and pids caps (its cgroups). */
  readonly #caps: LocalCaps;
  /** Sandboxes whose sessions this process serves. */
  readonly #hosted: HostedSandboxes;
  /** Forks each experiment's kernel (imports paid once), started on first use. */
  readonly #zygote: RuntimeZygote;

  constructor(options: LocalRuntimeOptions = {}) {
    this.home = options.home ?? peragusHome();
    this.#records = new LocalRegistry(join(this.home, 'local-containers'));
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
    this.#nodePoolSize = options.nodePoolSize ?? readSetting('nodePoolSize');
    this.#sharedCache = options.sharedCache ?? readSetting('pysdSharedCache');
    this.#nodeSnapshot = options.nodeSnapshot ?? readSetting('nodeSnapshot');
    this.#log = options.log ?? createLogger();
    const localSessions = options.localSessions ?? readSetting('localSessions');
    this.#hosted = new HostedSandboxes(
      localSessions === 'host' ? options.hostSessions : undefined,
      this.#readyTimeoutMs,
    );
    this.#isolation = options.isolation;
    this.#caps = new LocalCaps(options.defaultResources, options.cgroups);
    // Not this.isolation: probing it would start a sandbox before the zygote's imports.
    this.#zygote = new RuntimeZygote(this.#log, () => this.#isolation);
  }

  /** The write end of each node's lifeline (its stdin), closed at destroy. */
  readonly #lifelines = new Map<string, Writable>();

  /** The argv and environment of an experiment process: sandboxed and scrubbed. */
  #sandboxed(
    cmd: string[],
    workDir: string,
    env: Record<string, string>,
    where: { cwd?: string; sockets?: [string, string][]; groups?: SandboxCgroups } = {},
  ): SandboxedCommand {
    return sandboxedCommand(this.isolation, this.home, cmd, workDir, env, where);
  }

  /** Starts what create() will need (the kernel zygote, with what `hint.experiment` imports) ahead of time. */
  warm(hint: WarmHint = {}): void {
    this.#zygote.warm(hint);
  }

  /**
   * The zygote a model check is forked from (orchestrator/model-check.ts), when checks can be:
   * bubblewrap and a root host (the check joins a sandbox made for it alone, as a kernel does).
   * `start`: start one if none runs yet (a local plan's check); else only one already running.
   */
  checkZygote(start: boolean): Promise<ZygoteRegistry | null> {
    return this.#zygote.checks(start, this.isolation);
  }

  /** The kernel zygote's own socket (only this host reaches it), if one runs. */
  async zygoteSocket(): Promise<string | undefined> {
    return (await this.#zygote.running())?.socketPath;
  }

  /** The pid of this runtime's kernel zygote, if one runs. */
  async zygotePid(): Promise<number | undefined> {
    return (await this.#zygote.running())?.pid;
  }

  /** Stops the kernel zygote (and with it the kernels it forked for this runtime's containers). */
  async close(): Promise<void> {
    // The sessions this process serves save what they hold and stop their kernels first, as a
    // node does when its host goes.
    await this.#hosted.closeAll();
    await this.#zygote.close();
  }

  /**
   * A sandbox of its own for one kernel this host serves outside any container (a host session's,
   * a Jupyter /api kernel's): an experiment's walls (no network, a read-only system, the home
   * hidden, only `workDir` writable). The kernel zygote forks the kernel into a sandbox a holder
   * keeps open; it runs as the sandbox user under a root host, else as the host's user in the
   * sandbox's user namespaces, with no capabilities. Without the zygote each kernel starts cold
   * under a bubblewrap of its own. Null without bubblewrap.
   */
  async kernelSandbox(workDir: string): Promise<KernelSandbox | null> {
    if (this.isolation.isolation !== 'bubblewrap') return null;
    const vars = {
      PERAGUS_PYSD_SHARED_CACHE: sharedCacheEnv(this.home, undefined, this.#sharedCache),
      PERAGUS_DISK_CAP: String(diskCapOf(undefined)),
    };
    const env = experimentEnv({ ...SANDBOX_ENV, ...vars });
    const owner = this.#owner;
    // The folder a session of the host's works in: paths there are the session's, not /experiment.
    prepareVolume(workDir, owner, {
      where: "the session's work dir",
      what: 'the folder of its kernel files',
    });
    // Without the zygote (PERAGUS_KERNEL_ZYGOTE=0, or it failed to start) there is nothing to fork from.
    const zygote = await this.#zygote.get();
    if (!zygote) {
      // The default caps, as for an experiment whose spec names none.
      const { groups } = this.#caps.cap(kernelSandboxId(), undefined);
      const sandbox = { workDir, home: this.home, readOnly: [pysdCacheDir(this.home)] };
      return coldKernelSandbox(env, owner, sandbox, groups);
    }
    // A holder whose sandbox lost a mount race ran nothing: made again (mount-race.ts).
    return retryMountRace(() => {
      const id = kernelSandboxId();
      const { groups } = this.#caps.cap(id, undefined);
      const holder = this.#sandboxed(SANDBOX_HOLDER, workDir, vars, groups ? { groups } : {});
      return heldKernelSandbox({
        id,
        zygote,
        workDir,
        owner: forkOwner(),
        env,
        holder,
        readyTimeoutMs: this.#readyTimeoutMs,
        ...(groups ? { groups } : {}),
      });
    });
  }

  async create(input: ContainerSpec = {}): Promise<CreateResult> {
    const spec = parseContainerSpec(input);
    // A sandbox whose start lost a mount race ran nothing and was destroyed: made again (mount-race.ts).
    return retryMountRace(() => this.#create(spec));
  }

  async #create(spec: ReturnType<typeof parseContainerSpec>): Promise<CreateResult> {
    const bwrapped = this.isolation.isolation === 'bubblewrap';
    // Under bubblewrap the zygote forks each kernel into its experiment's sandbox: it joins the
    // sandbox's namespaces and drops to the sandbox user under a root host, or keeps the host's
    // user in the sandbox's user namespaces, without capabilities (nsjoin.py).
    // Without a command of its own, the container is an experiment's node role.
    const node = !spec.command;
    const zygote = node ? await this.#zygote.get() : null;
    const experimentId = spec.experiment_id ?? newExperimentId();
    const live = (await this.list({ [LABELS.experimentId]: experimentId })).filter((c) => c.running);
    if (live.length > 0) {
      throw new ContainerRuntimeError(
        'conflict',
        `experiment ${experimentId} already has a running container (${live[0]?.container_id}): destroy it first`,
      );
    }
    const layout = experimentLayout(this.home, experimentId);
    const containerId = `${LOCAL_ID_PREFIX}${randomBytes(6).toString('hex')}`;
    const logDir = join(layout.root, 'logs');
    prepareVolume(layout.workDir, this.#owner);
    mkdirSync(logDir, { recursive: true });
    const endpoint = endpointFor(layout.socketPath);
    // The zygote's socket as the experiment sees it: bound into its sandbox once registered.
    const sockets =
      zygote && bwrapped ? await this.#registerSandbox(zygote, containerId, experimentId) : undefined;
    const zygoteSocket = sockets ? ZYGOTE_SOCKET_INSIDE : zygote && !bwrapped ? zygote.socketPath : '0';
    // This host serves the sessions itself when the zygote can fork the kernel into the sandbox
    // (registered: a zygote that died leaves the experiment to a node, whose kernels start cold).
    const hosts = node && sockets && zygote ? this.#hosted.server : undefined;
    const cmd = hosts
      ? SANDBOX_HOLDER
      : (spec.command ??
        nodeRoleArgv(
          [
            '--socket',
            layout.socketPath,
            '--work-dir',
            layout.workDir,
            ...(spec.scratch ? ['--scratch'] : []),
          ],
          this.#nodeSnapshot,
        ));
    // What every process of the experiment sees (the node's, its kernels', a hosted kernel's).
    const experimentVars = {
      ...spec.env,
      PERAGUS_EXPERIMENT_ID: experimentId,
      PERAGUS_CONTAINER_ID: containerId,
      PERAGUS_PYSD_SHARED_CACHE: sharedCacheEnv(this.home, undefined, this.#sharedCache),
      // Kernels cap each file they write at the volume cap (volume-cap.ts: what the local runtime can do).
      PERAGUS_DISK_CAP: String(diskCapOf(spec.resources)),
    };
    // Its cgroups before its first process: everything of the sandbox starts inside them.
    let capped: ReturnType<LocalCaps['cap']>;
    try {
      capped = this.#caps.cap(containerId, spec.resources);
    } catch (e) {
      if (sockets) await zygote?.revoke(containerId).catch(() => undefined);
      throw e;
    }
    const { caps, groups } = capped;
    const command = this.#sandboxed(
      cmd,
      layout.workDir,
      {
        ...experimentVars,
        PERAGUS_POOL_SIZE: String(this.#nodePoolSize),
        [ZYGOTE_ENV]: zygoteSocket,
        // The node stops when this process is gone (runtime/parent-watch.ts): its pid where
        // the node can see it, and always the lifeline on its stdin.
        ...parentWatchEnv(),
        // Where the node tells an OOM kill of its kernels (its cgroup namespace shows only "/").
        ...(groups?.dirs.memory ? { PERAGUS_MEMORY_CGROUP: groups.dirs.memory } : {}),
        ...(node ? LIFELINE_ENV : {}),
      },
      // A hosted experiment's sandbox gets no zygote socket: only this host asks for its kernels.
      { ...(hosts || !sockets ? {} : { sockets }), ...(groups ? { groups } : {}) },
    );
    const spawned = await spawnSandbox(command, { cwd: layout.workDir, logDir, lifeline: node }).catch(
      (e: Error) => {
        groups?.removeEmpty();
        throw e;
      },
    );
    if (spawned.lifeline) this.#lifelines.set(containerId, spawned.lifeline);
    const record: LocalRecord = {
      container_id: containerId,
      experiment_id: experimentId,
      pid: spawned.pid,
      pid_start: processStart(spawned.pid),
      work_dir: layout.workDir,
      socket_path: layout.socketPath,
      endpoint,
      log_dir: logDir,
      labels: containerLabels(spec.labels, { experimentId, workDir: layout.workDir, endpoint }),
      created_at: new Date().toISOString(),
      env: spec.env ?? {},
      ...(sockets ? { zygote: true } : {}),
      ...(hosts ? { host_pid: process.pid } : {}),
      ...(groups ? { cgroups: groups.dirs } : {}),
    };
    this.#records.save(record);
    if (sockets && zygote) {
      // Kernel requests on the experiment's socket join the namespaces of this process's sandbox.
      // Its kernels join the cgroups of the sandbox's first process (its caps) before anything else.
      await zygote
        .attach(containerId, spawned.pid, groups ? { cgroups: true } : undefined)
        .catch(async (e: Error) => {
          await this.destroy(containerId);
          throw new ContainerRuntimeError(
            'create_failed',
            `cannot hand the sandbox to the kernel zygote: ${e.message}${sandboxEnded(spawned.child, logDir)}`,
          );
        });
    }
    if (hosts && zygote) {
      await this.#hosted
        .serve(zygote, record, spawned.child, {
          env: experimentEnv({ ...SANDBOX_ENV, ...experimentVars }),
          scratch: spec.scratch === true,
          ...(groups ? { groups } : {}),
        })
        .catch(async (e: Error) => {
          await this.destroy(containerId);
          throw e;
        });
    } else if (node) {
      try {
        await waitForEndpoint(endpoint, this.#readyTimeoutMs, async () =>
          isAlive(spawned.pid) ? null : `exit; stderr: ${tailFile(join(logDir, 'stderr.log'), 20)}`,
        );
      } catch (e) {
        // No half-made container is left behind.
        await this.destroy(containerId);
        throw e;
      }
    }
    return {
      container_id: containerId,
      experiment_id: experimentId,
      endpoint,
      work_dir: layout.workDir,
      image: 'local',
      image_id: 'local',
      isolation: this.isolation.isolation,
      caps,
    };
  }

  /** Registers a sandbox with the zygote: the socket to bind into it, or none (its kernels start cold). */
  async #registerSandbox(
    zygote: Zygote,
    containerId: string,
    experimentId: string,
  ): Promise<[string, string][] | undefined> {
    try {
      return [[await zygote.register(containerId, forkOwner()), ZYGOTE_SOCKET_INSIDE]];
    } catch (e) {
      this.#log.warn(`peragus: ${experimentId}'s kernel starts cold: ${(e as Error).message}`);
      return undefined;
    }
  }

  async exec(id: string, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const rec = this.#records.get(id);
    if (!Array.isArray(cmd) || cmd.length === 0 || cmd.some((c) => typeof c !== 'string')) {
      throw new ContainerRuntimeError('exec_failed', 'exec needs a non-empty command array of strings');
    }
    if (!isRunning(rec)) throw new ContainerRuntimeError('exec_failed', `container ${id} is not running`);
    const cwd = options.cwd ? volumeDirectory(rec.work_dir, options.cwd) : rec.work_dir;
    const groups = groupsOf(rec);
    const sandboxed = this.#sandboxed(
      cmd,
      rec.work_dir,
      { ...rec.env, ...options.env },
      {
        cwd,
        ...(groups ? { groups } : {}),
      },
    );
    // The command never ran when its sandbox's start lost a mount race: it is started again.
    const result = await retryMountRace(
      () =>
        runCommand(sandboxed.argv, {
          cwd,
          env: sandboxed.env,
          timeoutMs: options.timeoutMs ?? 60_000,
          maxOutputBytes: options.maxOutputBytes ?? 2 ** 20,
        }),
      (r) =>
        this.isolation.isolation === 'bubblewrap' &&
        r.exit_code === 1 &&
        r.stdout === '' &&
        isMountRace(r.stderr),
    );
    if (result.exit_code === 127 && /exec failed/.test(result.stderr)) {
      throw new ContainerRuntimeError('exec_failed', `exec in ${id}: command not found: ${cmd[0]}`);
    }
    return result;
  }

  async cpIn(id: string, dest: string, source: CopySource): Promise<CopyInResult> {
    const rec = this.#records.get(id);
    // No link in the volume is followed: not on the way, not at dest, not at a temp name.
    return copyIntoVolume(rec.work_dir, this.#owner, dest, source, asRuntimeError);
  }

  async cpOut(id: string, src: string, destHostPath?: string): Promise<CopyOutResult> {
    const rec = this.#records.get(id);
    const { relative: rel } = resolveExperimentPath(src, 'src');
    const dest = destHostPath ?? join(dirname(rec.work_dir), 'out', rel);
    // Read through a no-follow descriptor: a link in the volume is refused, never copied through.
    return copyOutOfVolume(rec.work_dir, rel, dest, asRuntimeError);
  }

  async logs(id: string, options: LogsOptions = {}): Promise<LogsResult> {
    const rec = this.#records.get(id);
    const tail = options.tail ?? 200;
    // A sandbox whose sessions this host serves holds no node role: its kernels' output is here.
    const kernels = this.#hosted.kernelOutput(id, tail);
    const own = {
      stdout: tailFile(join(rec.log_dir, 'stdout.log'), tail),
      stderr: tailFile(join(rec.log_dir, 'stderr.log'), tail),
    };
    return withKernelOutput(own, kernels);
  }

  async stats(id: string): Promise<StatsResult> {
    return localStats(this.#records.get(id));
  }

  async health(id: string): Promise<HealthResult> {
    const rec = this.#records.get(id);
    return localHealth(rec, async (hosted) => (hosted ? this.#hosted.has(id) : probeSocket(rec.endpoint)));
  }

  async destroy(id: string, options: DestroyOptions = {}): Promise<{ removed: boolean }> {
    const lifeline = this.#lifelines.get(id);
    this.#lifelines.delete(id);
    const rec = this.#records.find(id);
    if (!rec) {
      lifeline?.destroy();
      return { removed: false };
    }
    await this.#hosted.close(id);
    await stopGroup(rec.pid, undefined, () => isRunning(rec));
    lifeline?.destroy();
    if (rec.zygote) await (await this.#zygote.running())?.revoke(rec.container_id).catch(() => undefined);
    // Whatever is left in its cgroups ends with them.
    await groupsOf(rec)?.remove();
    releaseEndpoint(rec.endpoint, rec.socket_path);
    this.#records.remove(id);
    if (options.removeWorkDir) rmSync(rec.work_dir, { recursive: true, force: true });
    return { removed: true };
  }

  async list(labels: Record<string, string> = {}): Promise<ContainerInfo[]> {
    return this.#records
      .all()
      .filter((rec) => Object.entries(labels).every(([k, v]) => rec.labels[k] === v))
      .map(containerInfo);
  }

  /** Whether this process serves the container's sessions itself (then hostTransport reaches them). */
  servesHere(id: string): boolean {
    return this.#hosted.has(id);
  }

  /** A new MCP connection to the sessions this process serves for the container. */
  hostTransport(id: string): Promise<Transport> {
    return this.#hosted.transport(id);
  }
}
