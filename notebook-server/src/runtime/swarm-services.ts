// Experiments as Docker Swarm services, through a manager's Engine API
// (dockerode). One service per experiment, one replica, placed by Swarm and
// never restarted by it. This is the service layer of issue 11: create (with
// a clear, bounded failure and nothing left behind when the cluster cannot run
// it), list with the node each experiment runs on, logs and destroy. The
// node-to-host hub that carries MCP and artifacts (runtime/hub/) sits on top
// of it in swarm.ts, the ContainerRuntime.
import type Docker from 'dockerode';
import { readSetting } from '../config/index.ts';
import { isContainerRef, newExperimentId } from '../ids/index.ts';
import { apiMessage, call, fail, statusOf } from './docker-errors.ts';
import { demuxBuffer } from './docker-stream.ts';
import {
  imageArgv,
  nodes as listNodes,
  tasks as listTasks,
  newestTasks,
  removeNetwork,
  removeService,
  requireManager,
  type SwarmNode,
  sleep,
  swarmDockerFromEnv,
  type TaskRow,
} from './swarm-cluster.ts';
import {
  networkName,
  networkSpec,
  requireDigestRef,
  SWARM_DEFAULTS,
  SWARM_LABEL,
  serviceName,
  serviceSpec,
} from './swarm-spec.ts';
import {
  type CapLimits,
  type ContainerInfo,
  ContainerRuntimeError,
  type ContainerSpec,
  CREATED_BY,
  capsOf,
  LABELS,
  type LogsOptions,
  type LogsResult,
  parseContainerSpec,
} from './types.ts';

export interface SwarmCreateResult {
  /** The service id: what every other call takes. */
  container_id: string;
  experiment_id: string;
  service_name: string;
  task_id: string;
  node: SwarmNode;
  image: string;
}

/** A container_list row (status: the current task's state: new, pending, running, failed, …) and its node. */
export type SwarmServiceInfo = Omit<ContainerInfo, 'endpoint' | 'work_dir'> & { node: SwarmNode | null };

export interface SwarmHealth {
  container_id: string;
  experiment_id: string | null;
  running: boolean;
  /** The task's state (new, pending, preparing, running, failed, …). */
  status: string;
  /** The task's node is not ready: the task will not come back by itself. */
  lost: boolean;
  node: SwarmNode | null;
  /** ready, down, disconnected, unknown; null before the task is placed. */
  node_state: string | null;
  reason: string;
}

export interface SwarmServicesOptions {
  /** A client of a swarm manager; default from PERAGUS_SWARM_DOCKER_HOST, else DOCKER_HOST. */
  docker?: Docker;
  /** Image by digest; default PERAGUS_SWARM_IMAGE. */
  image?: string;
  /** How long a task may wait for a node with room (pending) before create gives up. */
  scheduleTimeoutMs?: number;
  /** How long create waits for the task to run once placed (image pull and start). */
  startTimeoutMs?: number;
  defaultResources?: { cpu?: number; memory?: number; pids?: number };
}

const FAILED = new Set(['failed', 'rejected', 'shutdown', 'complete', 'orphaned', 'remove']);

export class SwarmServices {
  readonly kind = 'swarm' as const;
  readonly docker: Docker;
  readonly image: string | undefined;
  readonly #scheduleTimeoutMs: number;
  readonly #startTimeoutMs: number;
  readonly #defaults: CapLimits;

  constructor(options: SwarmServicesOptions = {}) {
    this.docker = options.docker ?? swarmDockerFromEnv();
    this.image = options.image ?? readSetting('swarmImage');
    this.#scheduleTimeoutMs = options.scheduleTimeoutMs ?? 30_000;
    this.#startTimeoutMs = options.startTimeoutMs ?? 300_000;
    this.#defaults = capsOf(options.defaultResources, SWARM_DEFAULTS);
  }

  async create(
    input: ContainerSpec = {},
    extra: { node?: { cmd: string[]; env: Record<string, string> }; hostWorkDir?: string } = {},
  ): Promise<SwarmCreateResult> {
    const spec = parseContainerSpec(input);
    const image = requireDigestRef(spec.image ?? this.image ?? '');
    await requireManager(this.docker);
    const experimentId = spec.experiment_id ?? newExperimentId();
    const existing = await this.list({ [LABELS.experimentId]: experimentId });
    if (existing.length > 0) {
      throw new ContainerRuntimeError(
        'conflict',
        `experiment "${experimentId}" already has service ${existing[0]!.name} (${existing[0]!.status}): destroy it first`,
      );
    }
    // The image's own entrypoint runs under setpriv; a command override replaces both.
    const argv = spec.command ? { entrypoint: [], cmd: [] } : await imageArgv(this.docker, image);
    const body = serviceSpec({
      experimentId,
      spec,
      image,
      imageEntrypoint: argv.entrypoint,
      imageCmd: argv.cmd,
      defaults: this.#defaults,
      ...(extra.node ? { node: extra.node } : {}),
      ...(extra.hostWorkDir ? { hostWorkDir: extra.hostWorkDir } : {}),
    });
    let serviceId: string | undefined;
    let networkId: string | undefined;
    try {
      const net = await this.docker.createNetwork(networkSpec(experimentId)).catch((err: unknown) => {
        if (statusOf(err) === undefined) fail(this.docker, err);
        throw new ContainerRuntimeError(
          statusOf(err) === 409 ? 'conflict' : 'create_failed',
          `the swarm refused the network of ${experimentId}: ${apiMessage(err)}`,
          { cause: err },
        );
      });
      networkId = net.id;
      const created = (await this.docker.createService(body).catch((err: unknown) => {
        if (statusOf(err) === 409) {
          throw new ContainerRuntimeError(
            'conflict',
            `experiment "${experimentId}" already has a service (created concurrently): destroy it first`,
            { cause: err },
          );
        }
        if (statusOf(err) === undefined) fail(this.docker, err);
        throw new ContainerRuntimeError(
          'create_failed',
          `the swarm refused the service for ${experimentId}: ${apiMessage(err)}`,
          { cause: err },
        );
      })) as { id?: string; ID?: string };
      serviceId = created.id ?? created.ID;
      if (!serviceId) throw new ContainerRuntimeError('create_failed', 'the swarm returned no service id');
      const task = await this.#waitRunning(serviceId, experimentId);
      const node = (await listNodes(this.docker)).get(task.NodeID);
      return {
        container_id: serviceId,
        experiment_id: experimentId,
        service_name: serviceName(experimentId),
        task_id: task.ID,
        node: node ?? { id: task.NodeID, hostname: '', addr: '', labels: {} },
        image,
      };
    } catch (err) {
      // A failed create leaves no service behind (and so no task, on any node), and no network.
      if (serviceId) await removeService(this.docker, serviceId).catch(() => false);
      if (networkId) await removeNetwork(this.docker, networkId).catch(() => false);
      if (err instanceof ContainerRuntimeError) throw err;
      fail(this.docker, err);
    }
  }

  /** Waits for the service's task to run; a task that fails or cannot be placed is a clear error. */
  async #waitRunning(serviceId: string, experimentId: string): Promise<TaskRow & { NodeID: string }> {
    const started = Date.now();
    let placedAt: number | undefined;
    let last = 'no task yet';
    for (;;) {
      const task = newestTasks(await listTasks(this.docker, serviceId)).get(serviceId);
      if (task) {
        const { State: state, Message: message, Err: error } = task.Status;
        last = `${state}${message ? `: ${message}` : ''}${error ? ` (${error})` : ''}`;
        if (state === 'running' && task.NodeID) return task as TaskRow & { NodeID: string };
        if (FAILED.has(state)) {
          const where = task.NodeID
            ? ` on node ${(await listNodes(this.docker)).get(task.NodeID)?.hostname ?? task.NodeID}`
            : '';
          const pull = /pull|manifest|not found|no such image/i.test(`${error ?? ''}`)
            ? ': the node cannot pull the image (is it in the cluster registry, by digest?)'
            : '';
          throw new ContainerRuntimeError(
            'create_failed',
            `the task of ${experimentId} ${state}${where}: ${error || message || 'no reason given'}${pull}`,
          );
        }
        if (state !== 'new' && state !== 'pending' && placedAt === undefined) placedAt = Date.now();
      }
      const now = Date.now();
      if (placedAt === undefined && now - started > this.#scheduleTimeoutMs) {
        throw new ContainerRuntimeError(
          'create_failed',
          `no node could take ${experimentId} within ${Math.round(this.#scheduleTimeoutMs / 1000)} s (${last}): lower its resources (cpu, memory) below what one node has free`,
        );
      }
      if (placedAt !== undefined && now - placedAt > this.#startTimeoutMs) {
        throw new ContainerRuntimeError(
          'create_failed',
          `${experimentId} was placed but did not start within ${Math.round(this.#startTimeoutMs / 1000)} s (${last})`,
        );
      }
      await sleep(250);
    }
  }

  /** Service inspect plus the ownership check; anything not ours is "not found". */
  async #own(id: string): Promise<{ service: Docker.Service; id: string; experimentId: string }> {
    if (!isContainerRef(id)) {
      throw new ContainerRuntimeError('not_found', `no service "${String(id)}": not a valid service id`);
    }
    const service = this.docker.getService(id);
    let inspected: { ID: string; Spec: { Labels?: Record<string, string> } };
    try {
      inspected = (await service.inspect()) as typeof inspected;
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new ContainerRuntimeError(
          'not_found',
          `no service "${id}" (unknown id, or already destroyed)`,
          {
            cause: err,
          },
        );
      }
      fail(this.docker, err);
    }
    const labels = inspected.Spec.Labels ?? {};
    if (labels[LABELS.createdBy] !== CREATED_BY || labels[SWARM_LABEL] !== 'swarm') {
      throw new ContainerRuntimeError('not_found', `no Peragus service "${id}" (not created by Peragus)`);
    }
    return {
      service: this.docker.getService(inspected.ID),
      id: inspected.ID,
      experimentId: labels[LABELS.experimentId] ?? '',
    };
  }

  /**
   * The experiment's task and the node under it. A task whose node is down
   * (its daemon or machine gone) is `lost`: Swarm will not restart it (no
   * restart policy), so the caller destroys it and creates it again; Swarm
   * then places it on a node that is up.
   */
  async health(id: string): Promise<SwarmHealth> {
    const { id: serviceId, experimentId } = await this.#own(id);
    const [nodes, tasks, rows] = await Promise.all([
      listNodes(this.docker),
      listTasks(this.docker, serviceId),
      call(this.docker, () => this.docker.listNodes()) as Promise<
        Array<{ ID: string; Status?: { State?: string } }>
      >,
    ]);
    const task = newestTasks(tasks).get(serviceId);
    const node = task?.NodeID ? (nodes.get(task.NodeID) ?? null) : null;
    const nodeState = task?.NodeID
      ? (rows.find((r) => r.ID === task.NodeID)?.Status?.State ?? 'unknown')
      : null;
    const state = task?.Status.State ?? 'new';
    const lost = nodeState !== null && nodeState !== 'ready';
    const where = node ? ` on node ${node.labels['peragus.lab-node'] ?? node.hostname} (${node.addr})` : '';
    let reason: string;
    if (lost)
      reason = `node${where ? where.slice(' on node'.length) : ''} is ${nodeState}: the experiment is lost; destroy it and create it again`;
    else if (state === 'running') reason = `running${where}`;
    else
      reason = `${state}${where}${task?.Status.Err ? `: ${task.Status.Err}` : task?.Status.Message ? `: ${task.Status.Message}` : ''}`;
    return {
      container_id: serviceId,
      experiment_id: experimentId || null,
      running: state === 'running' && !lost,
      status: state,
      lost,
      node,
      node_state: nodeState,
      reason,
    };
  }

  /**
   * Experiments whose task's node the manager no longer sees ready (its daemon
   * or machine gone), with a reason: three calls for the whole cluster.
   */
  async lost(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const services = await this.list();
    if (services.length === 0) return out;
    const rows = (await call(this.docker, () => this.docker.listNodes())) as Array<{
      ID: string;
      Status?: { State?: string };
    }>;
    const state = new Map(rows.map((r) => [r.ID, r.Status?.State ?? 'unknown']));
    for (const s of services) {
      if (!s.experiment_id || !s.node) continue;
      const st = state.get(s.node.id) ?? 'unknown';
      if (st !== 'ready') {
        const name = s.node.labels['peragus.lab-node'] ?? s.node.hostname;
        out.set(
          s.experiment_id,
          `node ${name} (${s.node.addr}) is ${st}: experiment ${s.experiment_id} is lost`,
        );
      }
    }
    return out;
  }

  async logs(id: string, options: LogsOptions = {}): Promise<LogsResult> {
    const { service } = await this.#own(id);
    const tail = Math.max(1, Math.min(options.tail ?? 200, 100_000));
    const data = (await call(this.docker, () =>
      service.logs({ stdout: true, stderr: true, tail, follow: false }),
    )) as unknown as Buffer;
    return demuxBuffer(data);
  }

  /** Idempotent: an unknown or already removed service resolves with removed=false. */
  async destroy(id: string): Promise<{ removed: boolean }> {
    let target: { service: Docker.Service; id: string; experimentId: string };
    try {
      target = await this.#own(id);
    } catch (err) {
      if (err instanceof ContainerRuntimeError && err.code === 'not_found') return { removed: false };
      throw err;
    }
    const removed = await removeService(this.docker, target.id);
    await removeNetwork(this.docker, networkName(target.experimentId));
    return { removed };
  }

  async list(labels: Record<string, string> = {}): Promise<SwarmServiceInfo[]> {
    const filters = [
      `${LABELS.createdBy}=${CREATED_BY}`,
      `${SWARM_LABEL}=swarm`,
      ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
    ];
    const services = (await call(this.docker, () =>
      this.docker.listServices({ filters: JSON.stringify({ label: filters }) }),
    )) as Array<{ ID: string; CreatedAt?: string; Spec: { Name?: string; Labels?: Record<string, string> } }>;
    if (services.length === 0) return [];
    const [nodes, tasks] = await Promise.all([listNodes(this.docker), listTasks(this.docker)]);
    const current = newestTasks(tasks);
    return services.map((s) => {
      const labelsOf = s.Spec.Labels ?? {};
      const task = current.get(s.ID);
      const state = task?.Status.State ?? 'new';
      return {
        container_id: s.ID,
        experiment_id: labelsOf[LABELS.experimentId] ?? null,
        name: s.Spec.Name ?? '',
        image: labelsOf[LABELS.image] ?? '',
        status: state,
        running: state === 'running',
        created_at: s.CreatedAt ?? '',
        labels: labelsOf,
        node: task?.NodeID ? (nodes.get(task.NodeID) ?? null) : null,
      };
    });
  }
}
