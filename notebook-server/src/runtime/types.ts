// The ContainerRuntime contract: one isolated "container" per experiment that
// runs the notebook server in its node role and exposes an MCP endpoint on a
// Unix socket inside the experiment's work dir. Implemented by docker.ts and
// local.ts; callers (MCP tools, orchestrator) depend only on this file.
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { z } from 'zod';
import type { Owner } from '../confine/walk.ts';
import { PeragusError } from '../errors/index.ts';
import { ExperimentIdSchema } from '../ids/index.ts';
import type { KernelProcess } from '../kernel/launcher.ts';
import type { ZygoteKernelRequest } from '../kernel/zygote.ts';
import type { Isolation } from '../sandbox/bwrap.ts';

/** Where the experiment volume is mounted inside a container; client paths are relative to it. */
export const EXPERIMENT_MOUNT = '/experiment';
/** Socket of the node role's MCP endpoint, relative to the experiment work dir. */
export const ENDPOINT_RELATIVE_PATH = '.peragus/node.sock';
/** Where a sandboxed kernel's connection file and ipc sockets go, relative to its work dir. */
export const KERNEL_FILES_RELATIVE_PATH = '.peragus/kernels';

/** Label keys written on every container we create; `list` filters on them. */
export const LABELS = {
  createdBy: 'peragus.created-by',
  experimentId: 'peragus.experiment_id',
  workDir: 'peragus.work_dir',
  endpoint: 'peragus.endpoint',
  /** The image reference asked for (the container records the resolved id). */
  image: 'peragus.image',
  /** `node` (serves the MCP endpoint) or `custom` (a command override). */
  role: 'peragus.role',
} as const;
export const CREATED_BY = 'peragus';

/** What the runtime-owned labels of one container (or service) say. */
export interface OwnLabels {
  experimentId: string;
  workDir?: string;
  endpoint?: string;
  role?: string;
  image?: string;
}

/** The caller's labels plus the ones that mark a container as Peragus's (those win: `peragus.` keys are reserved). */
export function containerLabels(
  callerLabels: Record<string, string> | undefined,
  own: OwnLabels,
): Record<string, string> {
  const labels: Record<string, string> = {
    ...callerLabels,
    [LABELS.createdBy]: CREATED_BY,
    [LABELS.experimentId]: own.experimentId,
  };
  if (own.workDir !== undefined) labels[LABELS.workDir] = own.workDir;
  if (own.endpoint !== undefined) labels[LABELS.endpoint] = own.endpoint;
  if (own.role !== undefined) labels[LABELS.role] = own.role;
  if (own.image !== undefined) labels[LABELS.image] = own.image;
  return labels;
}

const MEMORY_UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
const MIN_MEMORY = 16 * 2 ** 20;
const MIN_DISK = 16 * 2 ** 20;

/** Parses `512m`, `2g`, `1.5GiB`, `1073741824` into bytes; throws on anything else. */
export function parseMemory(value: number | string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`memory must be a positive byte count, got ${value}`);
    return Math.floor(value);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(value);
  const unit = m ? MEMORY_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined)
    throw new Error(`memory "${value}" is not a size like 512m, 2g or a byte count`);
  return Math.floor(Number(m[1]) * unit);
}

/** An experiment's caps where its spec names none (every runtime's default). */
export const DEFAULT_CAPS = { cpu: 1, memory: 2 * 2 ** 30, pids: 512 } as const;

/** Caps as a runtime applies them: CPU cores, memory bytes, processes. */
export interface CapLimits {
  cpu: number;
  memory: number;
  pids: number;
}

/**
 * Caps from what is named (an experiment's `resources`, a runtime's default options), the rest
 * from `defaults` (a runtime's; DEFAULT_CAPS for the runtime's own).
 */
export function capsOf(
  named: { cpu?: number; memory?: number | string; pids?: number } | undefined,
  defaults: CapLimits = DEFAULT_CAPS,
): CapLimits {
  return {
    cpu: named?.cpu ?? defaults.cpu,
    memory: named?.memory !== undefined ? parseMemory(named.memory) : defaults.memory,
    pids: named?.pids ?? defaults.pids,
  };
}

export const ResourcesSchema = z
  .object({
    /** CPU cores (fractional allowed), enforced as a CFS quota. */
    cpu: z.number().positive().max(256).optional(),
    /** Bytes, or a size string such as `512m` / `2g`. Swap is not granted beyond it. */
    memory: z
      .union([z.number().int().positive(), z.string().min(1)])
      .refine(
        (v) => {
          try {
            return parseMemory(v) >= MIN_MEMORY;
          } catch {
            return false;
          }
        },
        { message: 'memory must be a size of at least 16m, like 512m or 2g' },
      )
      .optional(),
    /**
     * Size cap of the experiment volume (/experiment): bytes or `512m` / `2g`;
     * default 2 GiB (runtime/volume-cap.ts says how each runtime enforces it).
     */
    disk: z
      .union([z.number().int().positive(), z.string().min(1)])
      .refine(
        (v) => {
          try {
            return parseMemory(v) >= MIN_DISK;
          } catch {
            return false;
          }
        },
        { message: 'disk must be a size of at least 16m, like 512m or 2g' },
      )
      .optional(),
    /** Maximum number of processes/threads in the container. */
    pids: z.number().int().min(16).max(65_536).optional(),
  })
  .strict();
export type Resources = z.infer<typeof ResourcesSchema>;

const EnvNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are [A-Za-z_][A-Za-z0-9_]*');
const LabelKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,127}$/, 'label keys are 1-128 chars of A-Z a-z 0-9 _ . - /')
  .refine((k) => !k.startsWith('peragus.'), { message: 'label keys starting with "peragus." are reserved' });

export const ContainerSpecSchema = z
  .object({
    /** Image reference; default PERAGUS_IMAGE, else peragus/experiment:<package version>. */
    image: z.string().min(1).optional(),
    resources: ResourcesSchema.optional(),
    env: z.record(EnvNameSchema, z.string()).optional(),
    /** Default: a fresh random id. One live container per experiment id. */
    experiment_id: ExperimentIdSchema.optional(),
    labels: z.record(LabelKeySchema, z.string().max(1024)).optional(),
    /**
     * Replaces the node role command (tests, diagnostics). With it, create does
     * not wait for the MCP endpoint, since nothing may serve it.
     */
    command: z.array(z.string()).min(1).optional(),
    /**
     * A scratch experiment (a plan's): its notebook is not flushed to disk on every change. Its
     * results are registered, flushed, in the catalog, and a crash reruns it from the start, so
     * nothing in its work dir is read back after one.
     */
    scratch: z.boolean().optional(),
  })
  .strict();
export type ContainerSpec = z.infer<typeof ContainerSpecSchema>;

/** Validates a create() spec for any runtime; the error lists every problem with its field. */
export function parseContainerSpec(input: unknown): ContainerSpec {
  const parsed = ContainerSpecSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'spec'}: ${i.message}`).join('; ');
    throw new ContainerRuntimeError('invalid_spec', `invalid container spec: ${issues}`);
  }
  return parsed.data;
}

export interface CreateResult {
  container_id: string;
  experiment_id: string;
  /** Host path of the MCP endpoint's Unix socket (on the experiment volume). */
  endpoint: string;
  /** Host path of the experiment volume (mounted at /experiment in a container). */
  work_dir: string;
  image: string;
  /** Content id of the image the container was created from (pins the run). */
  image_id: string;
  /** What confines the experiment: a Docker container, a bubblewrap sandbox, or nothing (say so). */
  isolation: Isolation;
  /**
   * The CPU, memory and pids caps and whether they are enforced: always by Docker; by the local
   * runtime through cgroups of a root host, or not (and why).
   */
  caps?: EnforcedCaps;
  /** The machine it runs on when that is not this host (swarm: the cluster node's name). */
  node?: string;
}

export interface EnforcedCaps {
  cpu: number;
  memory_bytes: number;
  pids: number;
  enforced: boolean;
  /** Why they are not enforced (only when `enforced` is false). */
  reason?: string;
}

/** Caps a runtime enforces itself (Docker's, Swarm's), as create() reports them. */
export function enforcedCaps(r: { cpu: number; memory: number; pids: number }): EnforcedCaps {
  return { cpu: r.cpu, memory_bytes: r.memory, pids: r.pids, enforced: true };
}

export interface ExecOptions {
  /** Kills the command after this long; the result then has timed_out and exit_code 124. Default 60 s. */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Relative to /experiment; default the experiment root. */
  cwd?: string;
  /** Per stream; the rest is dropped and `truncated` set. Default 1 MiB. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  exit_code: number;
  stdout: string;
  stderr: string;
  timed_out: boolean;
  truncated: boolean;
  duration_ms: number;
}

/** Source of a copy into the experiment: a host file, or inline content. */
export type CopySource = { path: string } | { content: string | Uint8Array };

export interface CopyInResult {
  /** Path inside the experiment, relative to /experiment. */
  path: string;
  sha256: string;
  bytes: number;
}

export interface CopyOutResult {
  /** Host path the file was written to. */
  path: string;
  sha256: string;
  bytes: number;
}

export interface LogsOptions {
  /** Last N lines of stdout and stderr together (as `docker logs --tail`); default 200. */
  tail?: number;
}

export interface LogsResult {
  stdout: string;
  stderr: string;
}

/** A container's log with the output of the kernels this host runs for it after its stderr. */
export function withKernelOutput(log: LogsResult, kernels: string): LogsResult {
  return kernels ? { ...log, stderr: [log.stderr.trimEnd(), kernels].filter(Boolean).join('\n') } : log;
}

export interface StatsResult {
  container_id: string;
  /** Percent of one core (100 = one full core), averaged over the sample window. */
  cpu_percent: number;
  memory_usage_bytes: number;
  memory_limit_bytes: number;
  memory_percent: number;
  pids: number;
  pids_limit: number | null;
  read_at: string;
}

export interface HealthResult {
  container_id: string;
  experiment_id: string | null;
  running: boolean;
  /** created | running | paused | restarting | removing | exited | dead */
  status: string;
  /** True when the OOM killer ended the main process or any process in the container. */
  oom_killed: boolean;
  /** Processes killed by the OOM killer in this container so far (null if unknown). */
  oom_kill_count: number | null;
  exit_code: number | null;
  /** One short sentence: why the container is in this state. */
  reason: string;
  started_at: string | null;
  finished_at: string | null;
  /** Whether the MCP endpoint socket accepts a connection (null when no endpoint is expected). */
  endpoint_reachable: boolean | null;
}

export interface ContainerInfo {
  container_id: string;
  experiment_id: string | null;
  name: string;
  image: string;
  status: string;
  running: boolean;
  created_at: string;
  labels: Record<string, string>;
  endpoint: string | null;
  work_dir: string | null;
}

export interface DestroyOptions {
  /** Also delete the experiment work dir on the host. Default false: results stay. */
  removeWorkDir?: boolean;
}

/**
 * An experiment whose sessions this host serves itself: the local runtime's under bubblewrap, the
 * Docker runtime's (the container holds the kernel's zygote alone).
 */
export interface HostedExperiment {
  container_id: string;
  experiment_id: string;
  /** Its work dir: the same path in its sandbox, where the kernel writes too. */
  work_dir: string;
  /** The environment of its processes (the kernel's, before the session adds its own). */
  env: Record<string, string>;
  /** The experiment's user, who owns what the kernel reads and binds in the work dir. */
  owner: Owner;
  /** Forks a kernel into the experiment's sandbox or container (a kernel zygote). */
  fork(request: ZygoteKernelRequest): KernelProcess;
  /** The environment the kernel's allow-list reads, when not this host's (a Docker container's). */
  env_from?: Record<string, string>;
  /** A path in the work dir as the kernel sees it, when its mount differs (a Docker container's). */
  path_inside?: (hostPath: string) => string;
  /** From its spec (ContainerSpec.scratch): its sessions do not flush each write to disk. */
  scratch?: boolean;
}

/** What a runtime may get ready before creates come (ContainerService.warm). */
export interface WarmHint {
  /** How many creates are coming (a plan's experiments); none: open-ended. */
  creates?: number;
  /** The experiment they run: the kernel zygote imports what its type needs first (preload). */
  experiment?: unknown;
}

/**
 * Serves hosted experiments' sessions in this process: no node process per experiment (its
 * start is most of an experiment's CPU). The composition root provides it (app/hosted-sessions.ts).
 */
export interface HostSessionServer {
  open(experiment: HostedExperiment): Promise<void>;
  /** A new MCP connection to an open experiment's tools. */
  transport(containerId: string): Promise<Transport>;
  /** Stops its sessions' kernels (their files stay in the work dir). */
  close(containerId: string): Promise<void>;
  /** Its sessions' kernels' own output (outside cells), last `tail` lines; "" when none. */
  kernelOutput(containerId: string, tail: number): string;
}

/**
 * A sandbox made for one kernel that this host serves outside any container: a host session's or a
 * Jupyter /api kernel's (app/session-kernels.ts). The same walls as an experiment's; it ends with
 * `close`, with the host, or when the kernel's client shuts the kernel down.
 */
export interface KernelSandbox {
  /** The kernel's environment: the sandbox's allow-list, scrubbed of the host's. */
  env: Record<string, string>;
  /** The sandbox user (a root host's), who owns what the kernel writes in its work dir. */
  owner?: Owner;
  /** Forks a kernel into this sandbox (the kernel zygote). */
  fork(request: ZygoteKernelRequest): KernelProcess;
  close(): Promise<void>;
}

export interface ContainerRuntime {
  readonly kind: 'docker' | 'local' | 'swarm';
  /** Provisions and starts a container; resolves when its MCP endpoint accepts connections. */
  create(spec?: ContainerSpec): Promise<CreateResult>;
  exec(id: string, cmd: string[], options?: ExecOptions): Promise<ExecResult>;
  /** `dest` is relative to /experiment; `..` or absolute escapes are rejected. */
  cpIn(id: string, dest: string, source: CopySource): Promise<CopyInResult>;
  /** `src` is relative to /experiment. Default destination: <PERAGUS_HOME>/experiments/<id>/out/<src>. */
  cpOut(id: string, src: string, destHostPath?: string): Promise<CopyOutResult>;
  logs(id: string, options?: LogsOptions): Promise<LogsResult>;
  /** One sample, no streaming. */
  stats(id: string): Promise<StatsResult>;
  health(id: string): Promise<HealthResult>;
  /** Idempotent: destroying an unknown or already destroyed container resolves with removed=false. */
  destroy(id: string, options?: DestroyOptions): Promise<{ removed: boolean }>;
  /** Containers created by Peragus, filtered by these labels (e.g. {'peragus.experiment_id': 'x'}). */
  list(labels?: Record<string, string>): Promise<ContainerInfo[]>;
}

export type RuntimeErrorCode =
  | 'invalid_spec'
  | 'invalid_path'
  | 'not_found'
  | 'image_not_found'
  | 'daemon_unavailable'
  | 'exec_failed'
  | 'create_failed'
  | 'conflict'
  | 'copy_failed'
  | 'file_not_found'
  | 'endpoint_timeout';

/** Every runtime failure meant for a user or agent carries a code and a message that says what to do. */
export class ContainerRuntimeError extends PeragusError {
  override readonly name = 'ContainerRuntimeError';
  declare readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown; fix?: string }) {
    super(code, message, options);
  }
}
