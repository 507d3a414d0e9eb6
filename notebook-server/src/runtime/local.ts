// The local runtime (the default, no Docker needed): each experiment is a
// child process running the notebook server in its node role, with its own
// work dir and an MCP endpoint on a Unix socket there — the same protocol as
// a container. Where bubblewrap runs, the node, its kernels and exec'd
// commands are sandboxed (sandbox/bwrap.ts); every experiment process gets an
// allow-listed environment. On a root host with cgroup v1, each sandbox also gets CPU, memory and
// pids caps (runtime/local-cgroups.ts); elsewhere create() says they are not enforced.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { readSetting } from '../config/index.ts';
import { kindInside } from '../confine/fs.ts';
import type { Owner } from '../confine/walk.ts';
import { newExperimentId } from '../ids/index.ts';
import {
  preloadOrWarn,
  startZygoteWithChecks,
  takeEarlyZygote,
  ZYGOTE_ENV,
  type Zygote,
  type ZygoteRegistry,
  zygoteDisabled,
} from '../kernel/zygote.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { isAlive, processStart } from '../proc/process.ts';
import {
  bwrapArgs,
  forkedChecks,
  forkOwner,
  type IsolationCheck,
  localIsolation,
  SANDBOX_ENV,
  sandboxOwner,
  ZYGOTE_SOCKET_INSIDE,
} from '../sandbox/bwrap.ts';
import { experimentEnv } from '../sandbox/env.ts';
import { coldKernelSandbox, heldKernelSandbox, kernelSandboxId, SANDBOX_HOLDER } from './kernel-sandbox.ts';
import { type CgroupSupport, LocalCaps, type SandboxCgroups } from './local-cgroups.ts';
import { localHealth, localStats } from './local-inspect.ts';
import { runCommand, stopGroup, waitForExec } from './local-process.ts';
import { groupsOf, isRunning, type LocalRecord, LocalRegistry, tailFile } from './local-record.ts';
import { nodeRoleArgv } from './node-role-command.ts';
import { LIFELINE_ENV, parentWatchEnv } from './parent-watch.ts';
import {
  asRuntimeError,
  endpointFor,
  experimentLayout,
  inVolume,
  peragusHome,
  prepareVolume,
  probeSocket,
  pysdCacheDir,
  releaseEndpoint,
  resolveExperimentPath,
  sharedCacheEnv,
  VOLUME,
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
  readonly #hostSessions: HostSessionServer | undefined;
  /** Each sandbox's CPU, memory and pids caps (its cgroups). */
  readonly #caps: LocalCaps;
  /** Containers whose sessions this process serves. */
  readonly #hosted = new Set<string>();

  constructor(options: LocalRuntimeOptions = {}) {
    this.home = options.home ?? peragusHome();
    this.#records = new LocalRegistry(join(this.home, 'local-containers'));
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
    this.#nodePoolSize = options.nodePoolSize ?? readSetting('nodePoolSize');
    this.#sharedCache = options.sharedCache ?? readSetting('pysdSharedCache');
    this.#nodeSnapshot = options.nodeSnapshot ?? readSetting('nodeSnapshot');
    this.#log = options.log ?? createLogger();
    const localSessions = options.localSessions ?? readSetting('localSessions');
    this.#hostSessions = localSessions === 'host' ? options.hostSessions : undefined;
    this.#isolation = options.isolation;
    this.#caps = new LocalCaps(options.defaultResources, options.cgroups);
  }

  /** The argv and environment of an experiment process: sandboxed and scrubbed. */
  #sandboxed(
    cmd: string[],
    workDir: string,
    env: Record<string, string>,
    cwd?: string,
    sockets?: [string, string][],
    groups?: SandboxCgroups,
  ) {
    const join = (argv: string[]) => (groups ? groups.joinArgv(argv) : argv);
    if (this.isolation.isolation !== 'bubblewrap') {
      return { argv: join(cmd), env: experimentEnv(env, { sandboxed: false }) };
    }
    return {
      argv: join([
        'bwrap',
        ...bwrapArgs(cmd, {
          workDir,
          home: this.home,
          readOnly: [pysdCacheDir(this.home)],
          ...(cwd ? { cwd } : {}),
          ...(sockets ? { sockets } : {}),
        }),
      ]),
      // In the sandbox's pid namespace the node's parent watch stands down (another
      // namespace); bwrap's --die-with-parent ends the sandbox with the host instead.
      env: experimentEnv({ ...SANDBOX_ENV, ...env }),
    };
  }

  #zygote: Promise<Zygote | null> | undefined;
  /** Where this runtime's model checks are registered: the zygote's check server, once forked. */
  #checks: Promise<ZygoteRegistry | null> | undefined;
  /** The write end of each node's lifeline (its stdin), closed at destroy. */
  readonly #lifelines = new Map<string, Writable>();

  /**
   * One kernel zygote per runtime, started on first use: each experiment's node
   * asks it to fork that experiment's kernel (imports already paid). When it
   * cannot start, nodes start their kernels cold (and the reason is logged).
   */
  #kernelZygote(): Promise<Zygote | null> {
    if (zygoteDisabled()) return Promise.resolve(null);
    if (!this.#zygote) {
      const starting = takeEarlyZygote() ?? startZygoteWithChecks(forkedChecks(this.#isolation));
      this.#checks = starting.checks;
      this.#zygote = starting.zygote.catch((err: Error) => {
        this.#log.warn(`peragus: kernels start cold: ${err.message}`);
        return null;
      });
    }
    return this.#zygote;
  }

  /** Starts what create() will need (the kernel zygote, with what `hint.experiment` imports) ahead of time. */
  warm(hint: WarmHint = {}): void {
    const zygote = this.#kernelZygote();
    // A zygote this runtime has let go (close()) was stopped on purpose: its preload's end is no news.
    const retired = () => this.#zygote !== zygote;
    if (hint.experiment !== undefined) void preloadOrWarn(zygote, hint.experiment, this.#log, retired);
  }

  /**
   * The zygote a model check is forked from (orchestrator/model-check.ts), when checks can be:
   * bubblewrap and a root host (the check joins a sandbox made for it alone, as a kernel does).
   * `start`: start one if none runs yet (a local plan's check); else only one already running.
   */
  async checkZygote(start: boolean): Promise<ZygoteRegistry | null> {
    if (!forkedChecks(this.isolation) || zygoteDisabled()) return null;
    if (!start && !this.#zygote) return null;
    void this.#kernelZygote();
    return (await this.#checks) ?? null;
  }

  /** The kernel zygote's own socket (only this host reaches it), if one runs. */
  async zygoteSocket(): Promise<string | undefined> {
    return (await this.#zygote)?.socketPath;
  }

  /** The pid of this runtime's kernel zygote, if one runs. */
  async zygotePid(): Promise<number | undefined> {
    return (await this.#zygote)?.pid;
  }

  /** Stops the kernel zygote (and with it the kernels it forked for this runtime's containers). */
  async close(): Promise<void> {
    // The sessions this process serves save what they hold and stop their kernels first, as a
    // node does when its host goes.
    const hosted = [...this.#hosted];
    this.#hosted.clear();
    await Promise.all(hosted.map((id) => this.#hostSessions?.close(id).catch(() => undefined)));
    const zygote = await this.#zygote;
    this.#zygote = undefined;
    await zygote?.close();
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
    const zygote = await this.#kernelZygote();
    // The default caps, as for an experiment whose spec names none.
    const id = kernelSandboxId();
    const { groups } = this.#caps.cap(id, undefined);
    if (!zygote) {
      const sandbox = { workDir, home: this.home, readOnly: [pysdCacheDir(this.home)] };
      return coldKernelSandbox(env, owner, sandbox, groups);
    }
    const holder = this.#sandboxed(SANDBOX_HOLDER, workDir, vars, undefined, undefined, groups);
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
  }

  async create(input: ContainerSpec = {}): Promise<CreateResult> {
    const spec = parseContainerSpec(input);
    const bwrapped = this.isolation.isolation === 'bubblewrap';
    // Under bubblewrap the zygote forks each kernel into its experiment's sandbox: it joins the
    // sandbox's namespaces and drops to the sandbox user under a root host, or keeps the host's
    // user in the sandbox's user namespaces, without capabilities (nsjoin.py).
    // Without a command of its own, the container is an experiment's node role.
    const node = !spec.command;
    const zygote = node ? await this.#kernelZygote() : null;
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
    const out = openSync(join(logDir, 'stdout.log'), 'a');
    const err = openSync(join(logDir, 'stderr.log'), 'a');
    let zygoteSocket = zygote?.socketPath ?? '0';
    let sockets: [string, string][] | undefined;
    if (zygote && bwrapped) {
      try {
        sockets = [[await zygote.register(containerId, forkOwner()), ZYGOTE_SOCKET_INSIDE]];
        zygoteSocket = ZYGOTE_SOCKET_INSIDE;
      } catch (e) {
        this.#log.warn(`peragus: ${experimentId}'s kernel starts cold: ${(e as Error).message}`);
        zygoteSocket = '0';
      }
    }
    // This host serves the sessions itself when the zygote can fork the kernel into the sandbox
    // (registered: a zygote that died leaves the experiment to a node, whose kernels start cold).
    const hosts = node && sockets && zygote ? this.#hostSessions : undefined;
    const cmd = hosts
      ? SANDBOX_HOLDER
      : (spec.command ??
        nodeRoleArgv(['--socket', layout.socketPath, '--work-dir', layout.workDir], this.#nodeSnapshot));
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
    const sandboxed = this.#sandboxed(
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
      undefined,
      // A hosted experiment's sandbox gets no zygote socket: only this host asks for its kernels.
      hosts ? undefined : sockets,
      groups,
    );
    const [file, ...args] = sandboxed.argv as [string, ...string[]];
    const child = spawn(file, args, {
      cwd: layout.workDir,
      env: sandboxed.env,
      detached: true,
      // A node's stdin is its lifeline: this process holds the write end and never writes,
      // so the node sees its end when this host dies, even killed -9 mid-create.
      stdio: [node ? 'pipe' : 'ignore', out, err],
    });
    closeSync(out);
    closeSync(err);
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // the node may be gone first
      (child.stdin as unknown as { unref(): void }).unref();
      this.#lifelines.set(containerId, child.stdin);
    }
    const spawned = await new Promise<number>((ok, fail) => {
      child.once('spawn', () => ok(child.pid as number));
      child.once('error', (e) =>
        fail(new ContainerRuntimeError('create_failed', `cannot start ${file}: ${e.message}`)),
      );
    }).catch((e: Error) => {
      groups?.removeEmpty();
      throw e;
    });
    child.unref();
    const record: LocalRecord = {
      container_id: containerId,
      experiment_id: experimentId,
      pid: spawned,
      pid_start: processStart(spawned),
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
        .attach(containerId, spawned, groups ? { cgroups: true } : undefined)
        .catch(async (e: Error) => {
          await this.destroy(containerId);
          throw new ContainerRuntimeError(
            'create_failed',
            `cannot hand the sandbox to the kernel zygote: ${e.message}`,
          );
        });
    }
    if (hosts && zygote) {
      try {
        // The kernel must join the finished sandbox: bubblewrap mounts /proc, the work dir and the
        // rest before it execs the holder (a kernel forked sooner saw no /proc).
        await waitForExec(spawned, SANDBOX_HOLDER[0] as string, this.#readyTimeoutMs);
        await hosts.open({
          container_id: containerId,
          experiment_id: experimentId,
          work_dir: layout.workDir,
          env: experimentEnv({ ...SANDBOX_ENV, ...experimentVars }),
          owner: forkOwner(),
          ...(spec.scratch ? { scratch: true } : {}),
          fork: (request) => {
            const kernel = zygote.forkInto(containerId, request);
            // An OOM kill then names the sandbox's memory cap.
            if (groups) kernel.memoryCgroup = groups.memoryFiles;
            return kernel;
          },
        });
        this.#hosted.add(containerId);
      } catch (e) {
        await this.destroy(containerId);
        // A sandbox that ended by itself says why on its stderr (bubblewrap's, or the cgroup join's).
        const ended = child.exitCode ?? child.signalCode;
        const why =
          ended === null
            ? ''
            : ` (its sandbox exited ${ended}: ${tailFile(join(logDir, 'stderr.log'), 5).trim()})`;
        throw new ContainerRuntimeError(
          'create_failed',
          `cannot serve ${experimentId}'s sessions: ${(e as Error).message}${why}`,
        );
      }
    } else if (node) {
      try {
        await waitForEndpoint(endpoint, this.#readyTimeoutMs, async () =>
          isAlive(spawned) ? null : `exit; stderr: ${tailFile(join(logDir, 'stderr.log'), 20)}`,
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

  async exec(id: string, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const rec = this.#records.get(id);
    if (!Array.isArray(cmd) || cmd.length === 0 || cmd.some((c) => typeof c !== 'string')) {
      throw new ContainerRuntimeError('exec_failed', 'exec needs a non-empty command array of strings');
    }
    if (!isRunning(rec)) throw new ContainerRuntimeError('exec_failed', `container ${id} is not running`);
    let cwd = rec.work_dir;
    if (options.cwd) {
      const rel = inVolume(() => {
        const kind = kindInside(rec.work_dir, options.cwd as string, { ...VOLUME, what: 'cwd' });
        if (kind !== 'directory') {
          throw new ContainerRuntimeError(
            'invalid_path',
            `cwd "${options.cwd}" is not a directory in /experiment`,
          );
        }
        return resolveExperimentPath(options.cwd as string, 'cwd').relative;
      });
      cwd = join(rec.work_dir, rel);
    }
    const sandboxed = this.#sandboxed(
      cmd,
      rec.work_dir,
      { ...rec.env, ...options.env },
      cwd,
      undefined,
      groupsOf(rec),
    );
    const result = await runCommand(sandboxed.argv, {
      cwd,
      env: sandboxed.env,
      timeoutMs: options.timeoutMs ?? 60_000,
      maxOutputBytes: options.maxOutputBytes ?? 2 ** 20,
    });
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
    const kernels = this.#hosted.has(id) ? (this.#hostSessions?.kernelOutput(id, tail) ?? '') : '';
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
    if (this.#hosted.delete(id)) await this.#hostSessions?.close(id).catch(() => undefined);
    await stopGroup(rec.pid, undefined, () => isRunning(rec));
    lifeline?.destroy();
    if (rec.zygote) await (await this.#zygote)?.revoke(rec.container_id).catch(() => undefined);
    // Whatever is left in its cgroups ends with them.
    await groupsOf(rec)?.remove();
    releaseEndpoint(rec.endpoint, rec.socket_path);
    this.#records.remove(id);
    if (options.removeWorkDir) rmSync(rec.work_dir, { recursive: true, force: true });
    return { removed: true };
  }

  async list(labels: Record<string, string> = {}): Promise<ContainerInfo[]> {
    const infos: ContainerInfo[] = [];
    for (const rec of this.#records.all()) {
      if (!Object.entries(labels).every(([k, v]) => rec.labels[k] === v)) continue;
      const running = isRunning(rec);
      infos.push({
        container_id: rec.container_id,
        experiment_id: rec.experiment_id,
        name: rec.container_id,
        image: 'local',
        status: running ? 'running' : 'exited',
        running,
        created_at: rec.created_at,
        labels: rec.labels,
        endpoint: rec.endpoint,
        work_dir: rec.work_dir,
      });
    }
    return infos;
  }

  /** Whether this process serves the container's sessions itself (then hostTransport reaches them). */
  servesHere(id: string): boolean {
    return this.#hosted.has(id);
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
}
