// PERAGUS_RUNTIME=swarm: experiments as Docker Swarm services (swarm-services.ts)
// whose node role connects OUT to this host's hub (hub/), so nothing needs the
// host to reach a node or see its filesystem. MCP, commands, stats and files
// all travel over the experiment's hub channel; the token that admits the node
// is minted at create and revoked at destroy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { readSetting } from '../config/index.ts';
import { newExperimentId } from '../ids/index.ts';
import { sourceBytes } from './copy-source.ts';
import { HubServer } from './hub/server.ts';
import { IMAGE_NODE_CMD } from './node-role-command.ts';
import { resolveExperimentPath } from './paths.ts';
import type { SwarmNode } from './swarm-cluster.ts';
import { SwarmServices, type SwarmServicesOptions } from './swarm-services.ts';
import {
  type ContainerInfo,
  type ContainerRuntime,
  ContainerRuntimeError,
  type ContainerSpec,
  type CopyInResult,
  type CopyOutResult,
  type CopySource,
  type CreateResult,
  EXPERIMENT_MOUNT,
  type ExecOptions,
  type ExecResult,
  type HealthResult,
  LABELS,
  type LogsOptions,
  type LogsResult,
  parseContainerSpec,
  type StatsResult,
} from './types.ts';

/** Ids this runtime hands out: `swarm-<service id>`, so a host can tell its runtimes apart by id. */
export const SWARM_ID_PREFIX = 'swarm-';
const COPY_TIMEOUT_MS = 300_000;

export interface SwarmRuntimeOptions extends SwarmServicesOptions {
  /** PERAGUS_HOME: copied-out files and the hub's token hashes live under it. */
  home: string;
  /** The hub (default: one listening on PERAGUS_SWARM_HUB_HOST, ports PERAGUS_SWARM_HUB_PORTS). */
  hub?: HubServer;
  /** How long create waits for the node to connect to the hub once its task runs. */
  connectTimeoutMs?: number;
  /** How often the manager is asked whether the nodes of connected experiments are still up. */
  lostCheckMs?: number;
}

export type SwarmCreateResult = CreateResult & { swarm_node: SwarmNode; service_name: string };

/**
 * The hub from the environment: PERAGUS_SWARM_HUB_HOST (an address of this
 * host the nodes reach), PERAGUS_SWARM_HUB_PORTS (a port or a range the nodes'
 * firewalls let through), and for wss:// PERAGUS_SWARM_HUB_TLS_CERT/_KEY (PEM
 * files; the certificate is handed to the nodes as the CA they pin).
 */
export function hubFromEnv(home: string, env: NodeJS.ProcessEnv = process.env): HubServer {
  const cert = readSetting('swarmHubTlsCert', env);
  const key = readSetting('swarmHubTlsKey', env);
  if ((cert && !key) || (key && !cert)) {
    throw new Error(
      'PERAGUS_SWARM_HUB_TLS_CERT and PERAGUS_SWARM_HUB_TLS_KEY go together: set both, or neither',
    );
  }
  return new HubServer({
    host: readSetting('swarmHubHost', env) ?? '127.0.0.1',
    ports: readSetting('swarmHubPorts', env) ?? 0,
    tokenFile: join(home, 'hub', 'tokens.json'),
    ...(cert && key ? { tls: { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') } } : {}),
  });
}

export const nodeLabel = (n: SwarmNode | null | undefined): string | null =>
  n ? (n.labels['peragus.lab-node'] ?? n.hostname ?? n.id) || n.id : null;

export class SwarmRuntime implements ContainerRuntime {
  readonly kind = 'swarm' as const;
  readonly services: SwarmServices;
  readonly hub: HubServer;
  readonly #home: string;
  readonly #connectTimeoutMs: number;
  readonly #hubGiven: boolean;
  readonly #watchMs: number;
  /** service id → experiment id, learnt at create and list (saves the manager three calls per copy). */
  readonly #experiments = new Map<string, string>();
  #watch: NodeJS.Timeout | undefined;
  #watching = false;

  constructor(options: SwarmRuntimeOptions) {
    this.services = new SwarmServices(options);
    this.#home = options.home;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 120_000;
    this.#watchMs = options.lostCheckMs ?? 2000;
    this.#hubGiven = options.hub !== undefined;
    this.hub = options.hub ?? hubFromEnv(options.home);
  }

  static serviceId(id: string): string {
    return typeof id === 'string' && id.startsWith(SWARM_ID_PREFIX) ? id.slice(SWARM_ID_PREFIX.length) : id;
  }

  #workDir(experimentId: string): string {
    return join(this.#home, 'experiments', experimentId, 'work');
  }

  async create(input: ContainerSpec = {}): Promise<SwarmCreateResult> {
    const spec = parseContainerSpec(input);
    const experimentId = spec.experiment_id ?? newExperimentId();
    if (!this.#hubGiven && !readSetting('swarmHubHost')) {
      throw new ContainerRuntimeError(
        'invalid_spec',
        'the swarm runtime needs PERAGUS_SWARM_HUB_HOST: an address of this host that the cluster nodes can reach (the lab writes it to /run/peragus-swarm-lab/env), and PERAGUS_SWARM_HUB_PORTS: the port(s) their firewall lets through',
      );
    }
    const url = await this.hub.listen();
    const token = this.hub.admit(experimentId);
    let serviceId: string | undefined;
    try {
      const created = await this.services.create(
        { ...spec, experiment_id: experimentId },
        {
          hostWorkDir: this.#workDir(experimentId),
          ...(spec.command
            ? {}
            : {
                node: {
                  cmd: [
                    ...IMAGE_NODE_CMD,
                    '--hub',
                    url,
                    '--work-dir',
                    EXPERIMENT_MOUNT,
                    ...(spec.scratch ? ['--scratch'] : []),
                  ],
                  env: { PERAGUS_HUB_TOKEN: token, ...(this.hub.ca ? { PERAGUS_HUB_CA: this.hub.ca } : {}) },
                },
              }),
        },
      );
      serviceId = created.container_id;
      this.#experiments.set(serviceId, experimentId);
      if (!spec.command) {
        await this.hub.waitConnected(experimentId, this.#connectTimeoutMs);
        this.#startWatch();
      }
      return {
        container_id: `${SWARM_ID_PREFIX}${created.container_id}`,
        experiment_id: experimentId,
        endpoint: `hub://${experimentId}`,
        work_dir: this.#workDir(experimentId),
        image: created.image,
        image_id: created.image,
        isolation: 'docker',
        node: nodeLabel(created.node) ?? created.node.id,
        swarm_node: created.node,
        service_name: created.service_name,
      };
    } catch (err) {
      // Nothing left behind: no service, no network, no token.
      this.hub.revoke(experimentId);
      if (serviceId) await this.services.destroy(serviceId).catch(() => undefined);
      if (err instanceof ContainerRuntimeError) throw err;
      throw new ContainerRuntimeError('endpoint_timeout', (err as Error).message, { cause: err });
    }
  }

  /** The MCP transport of a new stream to the experiment's node (the router's connection). */
  async mcpTransport(id: string): Promise<Transport> {
    return (await this.#link(id)).openMcp();
  }

  async #experimentOf(id: string): Promise<string> {
    const known = this.#experiments.get(SwarmRuntime.serviceId(id));
    if (known) return known;
    const found = await this.services
      .list({})
      .then((all) => all.find((s) => s.container_id === SwarmRuntime.serviceId(id) || s.name === id));
    if (!found?.experiment_id) {
      throw new ContainerRuntimeError(
        'not_found',
        `no swarm experiment "${id}": container_list shows the live ones`,
      );
    }
    return found.experiment_id;
  }

  async #link(id: string) {
    const experimentId = await this.#experimentOf(id);
    try {
      return await this.hub.waitConnected(experimentId, 30_000);
    } catch (err) {
      throw new ContainerRuntimeError(
        'not_found',
        `the node of ${experimentId} is not connected to the hub: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async exec(id: string, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (!Array.isArray(cmd) || cmd.length === 0 || cmd.some((c) => typeof c !== 'string')) {
      throw new ContainerRuntimeError('exec_failed', 'exec needs a non-empty command array of strings');
    }
    const timeoutMs = options.timeoutMs ?? 60_000;
    const link = await this.#link(id);
    const value = await link.request(
      'exec',
      {
        cmd,
        timeout_ms: timeoutMs,
        ...(options.cwd ? { cwd: options.cwd } : {}),
        ...(options.env ? { env: options.env } : {}),
        ...(options.maxOutputBytes ? { max_output_bytes: options.maxOutputBytes } : {}),
      },
      timeoutMs + 30_000,
    );
    return value as unknown as ExecResult;
  }

  async cpIn(id: string, dest: string, source: CopySource): Promise<CopyInResult> {
    const rel = resolveExperimentPath(dest, 'dest').relative;
    const data = sourceBytes(source);
    const link = await this.#link(id);
    const out = await link.upload(rel, data, COPY_TIMEOUT_MS);
    return { path: out.path, sha256: out.sha256, bytes: out.bytes };
  }

  async cpOut(id: string, src: string, destHostPath?: string): Promise<CopyOutResult> {
    const rel = resolveExperimentPath(src, 'src').relative;
    const link = await this.#link(id);
    const dest = destHostPath ?? join(this.#home, 'experiments', link.experimentId, 'out', rel);
    const out = await link.download(rel, dest, COPY_TIMEOUT_MS);
    return { path: dest, sha256: out.sha256, bytes: out.bytes };
  }

  logs(id: string, options?: LogsOptions): Promise<LogsResult> {
    return this.services.logs(SwarmRuntime.serviceId(id), options);
  }

  async stats(id: string): Promise<StatsResult & { node: string | null }> {
    const health = await this.services.health(SwarmRuntime.serviceId(id));
    const link = await this.#link(id);
    const value = await link.request('stats', {}, 30_000);
    return {
      ...(value as unknown as StatsResult),
      container_id: `${SWARM_ID_PREFIX}${health.container_id}`,
      node: nodeLabel(health.node),
    };
  }

  async health(id: string): Promise<HealthResult & { node: string | null; lost: boolean }> {
    const h = await this.services.health(SwarmRuntime.serviceId(id));
    const connected = h.experiment_id ? this.hub.connected(h.experiment_id) : false;
    return {
      container_id: `${SWARM_ID_PREFIX}${h.container_id}`,
      experiment_id: h.experiment_id,
      running: h.running,
      status: h.status,
      oom_killed: false,
      oom_kill_count: null,
      exit_code: null,
      reason: h.running && !connected ? `${h.reason}; its node is not connected to the hub` : h.reason,
      started_at: null,
      finished_at: null,
      endpoint_reachable: connected,
      node: nodeLabel(h.node),
      lost: h.lost,
    };
  }

  async destroy(id: string): Promise<{ removed: boolean }> {
    const serviceId = SwarmRuntime.serviceId(id);
    const found = (await this.services.list({})).find((s) => s.container_id === serviceId || s.name === id);
    if (found?.experiment_id) this.hub.revoke(found.experiment_id);
    this.#experiments.delete(serviceId);
    if (found) this.#experiments.delete(found.container_id);
    return this.services.destroy(serviceId);
  }

  async list(labels: Record<string, string> = {}): Promise<(ContainerInfo & { node: string | null })[]> {
    return (await this.services.list(labels)).map((s) => ({
      container_id: `${SWARM_ID_PREFIX}${s.container_id}`,
      experiment_id: s.experiment_id,
      name: s.name,
      image: s.image,
      status: s.status,
      running: s.running,
      created_at: s.created_at,
      labels: s.labels,
      endpoint: s.experiment_id ? `hub://${s.experiment_id}` : null,
      work_dir: s.labels[LABELS.workDir] ?? null,
      node: nodeLabel(s.node),
    }));
  }

  /**
   * While experiments are connected: a node the manager sees down loses its
   * experiments at once (their calls fail, the plan retries them on a node
   * that is up) instead of waiting on a machine that may never answer.
   */
  #startWatch(): void {
    if (this.#watch) return;
    this.#watch = setInterval(() => void this.#checkLost(), this.#watchMs);
    this.#watch.unref();
  }

  async #checkLost(): Promise<void> {
    if (this.#watching) return;
    this.#watching = true;
    try {
      if (this.hub.linked().length === 0) return;
      for (const [experimentId, reason] of await this.services.lost()) this.hub.drop(experimentId, reason);
    } catch {
      // the manager did not answer this time: ask again at the next tick
    } finally {
      this.#watching = false;
    }
  }

  async close(): Promise<void> {
    if (this.#watch) clearInterval(this.#watch);
    this.#watch = undefined;
    await this.hub.close();
  }
}
