// `peragus node --socket PATH --work-dir DIR`: the notebook server inside a
// container (or a local child process). It serves the notebook and PySD MCP
// tools on a Unix socket; the host connects there and routes calls to it.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createNotebookServices } from '../app/notebook-services.ts';
import { createMcpServer } from '../mcp/server.ts';
import { listenSocket } from '../orchestrator/socket-transport.ts';
import { onParentDeath } from '../runtime/parent-watch.ts';
import type { CliContext } from './context.ts';

export async function nodeCommand(argv: string[], cli: CliContext): Promise<number | undefined> {
  const { config, log } = cli;
  const { values } = parseArgs({
    args: argv,
    options: { socket: { type: 'string' }, 'work-dir': { type: 'string' }, 'pool-size': { type: 'string' } },
  });
  if (!values.socket || !values['work-dir']) {
    throw new Error('peragus node needs --socket PATH and --work-dir DIR');
  }
  // A local node dies with its host (kill -9 of `peragus run` leaves no orphan),
  // from the first moment on: SIGTERM stops it gracefully once it serves, and
  // ends it at once before that (its kernels watch it and follow).
  onParentDeath(
    () => {
      log.warn('peragus node: the host process is gone; stopping');
      process.kill(process.pid, 'SIGTERM');
    },
    { hostPid: config.hostPid, hostPidns: config.hostPidns },
  );
  const workDir = resolve(values['work-dir']);
  mkdirSync(workDir, { recursive: true });
  process.chdir(workDir);
  const services = await createNotebookServices({
    root: workDir,
    // One experiment per node: one warm kernel, no refill burning CPU beside it.
    poolMaxStarts: config.poolMaxStarts,
    poolSize: values['pool-size'] !== undefined ? Number(values['pool-size']) : config.poolSize,
    log,
  });
  const ctx = {
    role: 'node' as const,
    sessions: services.sessions,
    events: services.events,
    workDir,
    ...(config.experimentId ? { defaultExperimentId: config.experimentId } : {}),
  };
  const server = await listenSocket(resolve(values.socket), async (transport) => {
    const mcp = createMcpServer(ctx);
    await mcp.connect(transport);
  });
  log.info(`peragus node: serving MCP on ${values.socket} (work dir ${workDir})`);

  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  server.close();
  await services.close();
  return 0;
}
