// `peragus mcp`: MCP on stdio for desktop clients. With a host running on the
// home, a bridge to its MCP endpoint; with none, this process becomes the
// home's host (embedded: browser UI, /api, /mcp and the address file, for as
// long as the client stays connected). Either way the agent shares sessions,
// events and the catalog with the browser. Diagnostics go to stderr only:
// stdout carries the protocol.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CatalogLockedError } from '../catalog/errors.ts';
import { findHost, type HostAddress } from '../hostlink/address.ts';
import { runBridge } from '../hostlink/bridge.ts';
import { HostRunningError, startServing } from '../hostlink/serving.ts';
import { logFn } from '../log/index.ts';
import { serveStdio } from '../mcp/stdio.ts';
import type { CliContext } from './context.ts';

/** A host another starter is bringing up right now (it holds the catalog): its address once it answers. */
async function awaitRacer(home: string, ms = 30_000): Promise<HostAddress | null> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const found = await findHost(home);
    if (found.kind === 'live') return found.address;
    await new Promise((r) => setTimeout(r, 500));
  }
  return null;
}

/** Whether the catalog's lock holder is a Peragus host starting up (serve or mcp), worth waiting for. */
function lockedByStartingHost(err: unknown): boolean {
  if (!(err instanceof CatalogLockedError) || err.pid === undefined) return false;
  try {
    const argv = readFileSync(`/proc/${err.pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => a.includes('peragus')) && argv.some((a) => a === 'serve' || a === 'mcp');
  } catch {
    return false;
  }
}

async function bridge(home: string, address: HostAddress, log: (m: string) => void): Promise<never> {
  log(`peragus mcp: using the host of ${home} (pid ${address.pid}); browser: ${address.url}`);
  process.exit(await runBridge(address, { log }));
}

export async function mcpCommand(argv: string[], cli: CliContext): Promise<number | undefined> {
  parseArgs({ args: argv, options: {} });
  const log = logFn(cli.log);
  const home = cli.config.home;
  const found = await findHost(home);
  if (found.kind === 'live') return bridge(home, found.address, log);
  let serving: Awaited<ReturnType<typeof startServing>>;
  try {
    serving = await startServing({
      home,
      port: 0,
      log,
      config: cli.config,
      logger: cli.log,
      uiInBackground: true,
    });
  } catch (err) {
    if (err instanceof HostRunningError) return bridge(home, err.address, log);
    // Another `peragus mcp`/`serve` won the race for the catalog: use it once it answers.
    // Anything else (a corrupt catalog, a lock held by another program) fails at once.
    if (!lockedByStartingHost(err)) throw err;
    const racer = await awaitRacer(home);
    if (racer) return bridge(home, racer, log);
    throw err;
  }
  log(
    `peragus mcp: no host was running on ${home}, so this process is its host until the client disconnects; ` +
      `browser: ${serving.server.browserUrl}`,
  );
  await serveStdio(serving.host.makeMcpServer(), undefined, cli.log);
  await serving.close();
  // Kernels and sockets may still hold the event loop; the protocol is over.
  process.exit(0);
}
