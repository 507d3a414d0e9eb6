// `peragus node --socket PATH --work-dir DIR [--scratch]`: the notebook server inside a
// container (or a local child process). It serves the notebook and PySD MCP
// tools on a Unix socket; the host connects there and routes calls to it.
// `peragus node --hub URL --work-dir DIR` (a swarm experiment on another
// machine): the node connects OUT to the host's hub with the token in
// PERAGUS_HUB_TOKEN and serves the same tools over that connection.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createNotebookServices } from '../app/notebook-services.ts';
import { createMcpServer } from '../mcp/server.ts';
import { listenSocket } from '../orchestrator/socket-transport.ts';
import { onParentDeath } from '../runtime/parent-watch.ts';
import type { CliContext } from './context.ts';
import { experimentIdentity } from './node-identity.ts';

/** How this process was started, for its log: `peragus node` or the node role's startup snapshot. */
export type NodeEntry = 'cli' | 'snapshot';

export async function nodeCommand(
  argv: string[],
  cli: CliContext,
  entry: NodeEntry = 'cli',
): Promise<number | undefined> {
  const { config, log } = cli;
  const { values } = parseArgs({
    args: argv,
    options: {
      socket: { type: 'string' },
      hub: { type: 'string' },
      'work-dir': { type: 'string' },
      'pool-size': { type: 'string' },
      // A plan's experiment (ContainerSpec.scratch): its sessions do not flush each write.
      scratch: { type: 'boolean' },
    },
  });
  if ((!values.socket && !values.hub) || !values['work-dir']) {
    throw new Error('peragus node needs --socket PATH (or --hub URL) and --work-dir DIR');
  }
  // The token authenticates this node to the hub; the experiment's own code never sees it.
  const hubToken = config.hubToken;
  delete process.env.PERAGUS_HUB_TOKEN;
  if (values.hub && (!hubToken || !config.experimentId)) {
    throw new Error(
      'peragus node --hub needs PERAGUS_HUB_TOKEN and PERAGUS_EXPERIMENT_ID in its environment',
    );
  }
  // A local node dies with its host (kill -9 of `peragus run` leaves no orphan),
  // from the first moment on: SIGTERM stops it gracefully once it serves, and
  // ends it at once before that (its kernels watch it and follow).
  onParentDeath(
    () => {
      log.warn('peragus node: the host process is gone; stopping');
      process.kill(process.pid, 'SIGTERM');
    },
    { hostPid: config.hostPid, hostPidns: config.hostPidns, hostLifeline: config.hostLifeline },
  );
  const workDir = resolve(values['work-dir']);
  mkdirSync(workDir, { recursive: true });
  process.chdir(workDir);
  const identity = experimentIdentity(config, { scratch: values.scratch === true });
  const services = await createNotebookServices({
    root: workDir,
    workDir,
    // One experiment per node: one warm kernel, no refill burning CPU beside it.
    poolMaxStarts: config.poolMaxStarts,
    poolSize: values['pool-size'] !== undefined ? Number(values['pool-size']) : config.poolSize,
    // Asked at each session's creation: a warm-pool node learns it at hand-over.
    flush: () => !identity.scratch(),
    log,
  });
  // A warm-pool node (told its experiment only at hand-over) serves once its
  // kernel is warm, so a pooled container that answers is ready for its first
  // cell (runtime/docker-pool-slots.ts waits for the endpoint). Bounded: a
  // kernel that cannot start then fails in the session, with its own error.
  if (config.experimentIdFile && !config.experimentId) {
    await Promise.race([services.pool.whenFull(), new Promise((r) => setTimeout(r, 45_000).unref())]);
  }
  const ctx = {
    role: 'node' as const,
    sessions: services.sessions,
    events: services.events,
    workDir,
    // A getter: a warm-pool node learns its experiment at hand-over (node-identity.ts).
    get defaultExperimentId(): string | undefined {
      return identity.id();
    },
  };
  const serve = async (transport: Parameters<ReturnType<typeof createMcpServer>['connect']>[0]) => {
    const mcp = createMcpServer(ctx);
    await mcp.connect(transport);
  };
  let server: { close(): void };
  if (values.hub) {
    // Imported only here: the hub client brings `ws`, which a socket-serving node never needs (≈ 0.03 CPU-s per start).
    const { NodeHubClient } = await import('../runtime/hub/node-client.ts');
    const client = new NodeHubClient({
      url: values.hub,
      experimentId: config.experimentId as string,
      token: hubToken as string,
      workDir,
      serveMcp: serve,
      ...(config.hubCa ? { ca: config.hubCa } : {}),
      log: (line) => log.info(`peragus node: ${line}`),
    });
    client.start();
    server = { close: () => client.stop() };
    log.info(`peragus node: serving MCP over the hub ${values.hub} (work dir ${workDir})`);
  } else {
    server = await listenSocket(resolve(values.socket as string), serve);
    const from = entry === 'snapshot' ? ', started from the startup snapshot' : '';
    log.info(`peragus node: serving MCP on ${values.socket} (work dir ${workDir}${from})`);
  }

  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  server.close();
  await services.close();
  return 0;
}
