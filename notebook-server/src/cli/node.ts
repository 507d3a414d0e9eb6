// `peragus node --socket PATH --work-dir DIR`: the notebook server inside a
// container (or a local child process). It serves the notebook and PySD MCP
// tools on a Unix socket; the host connects there and routes calls to it.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createNotebookServices } from '../app/notebook-services.ts';
import { createMcpServer } from '../mcp/server.ts';
import { listenSocket } from '../orchestrator/socket-transport.ts';
import { IDENTITY_ENV } from '../runtime/docker-claims.ts';
import { onParentDeath } from '../runtime/parent-watch.ts';
import { experimentIdentity } from './node-identity.ts';

export async function nodeCommand(argv: string[]): Promise<number | undefined> {
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
  onParentDeath(() => {
    process.stderr.write('peragus node: the host process is gone; stopping\n');
    process.kill(process.pid, 'SIGTERM');
  });
  const workDir = resolve(values['work-dir']);
  mkdirSync(workDir, { recursive: true });
  process.chdir(workDir);
  const services = await createNotebookServices({
    root: workDir,
    // One experiment per node: one warm kernel, no refill burning CPU beside it.
    poolMaxStarts: Number(process.env.PERAGUS_POOL_MAX_STARTS ?? 1),
    ...(values['pool-size'] !== undefined ? { poolSize: Number(values['pool-size']) } : {}),
  });
  // A warm-pool node (told its experiment only at hand-over) serves once its
  // kernel is warm, so a pooled container that answers is ready for its first
  // cell (runtime/docker-pool-slots.ts waits for the endpoint). Bounded: a
  // kernel that cannot start then fails in the session, with its own error.
  if (process.env[IDENTITY_ENV] && !process.env.PERAGUS_EXPERIMENT_ID) {
    await Promise.race([services.pool.whenFull(), new Promise((r) => setTimeout(r, 45_000).unref())]);
  }
  const identity = experimentIdentity();
  const ctx = {
    role: 'node' as const,
    sessions: services.sessions,
    events: services.events,
    workDir,
    // A getter: a warm-pool node learns its experiment at hand-over (node-identity.ts).
    get defaultExperimentId(): string | undefined {
      return identity();
    },
  };
  const server = await listenSocket(resolve(values.socket), async (transport) => {
    const mcp = createMcpServer(ctx);
    await mcp.connect(transport);
  });
  process.stderr.write(`peragus node: serving MCP on ${values.socket} (work dir ${workDir})\n`);

  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  server.close();
  await services.close();
  return 0;
}
