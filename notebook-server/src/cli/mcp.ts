// `peragus mcp`: MCP on stdio for desktop clients, bridged to this home's
// host (started in the background when none runs), so the agent shares the
// browser's sessions, events and catalog. Diagnostics go to stderr only:
// stdout carries the protocol.
import { parseArgs } from 'node:util';
import { browserUrl } from '../hostlink/address.ts';
import { runBridge } from '../hostlink/bridge.ts';
import { ensureHost } from '../hostlink/launch.ts';
import { peragusHome } from '../runtime/paths.ts';

const log = (message: string) => process.stderr.write(`${message}\n`);

export async function mcpCommand(argv: string[]): Promise<number | undefined> {
  parseArgs({ args: argv, options: {} });
  const home = peragusHome();
  const { address, started } = await ensureHost(home, { log });
  log(
    `peragus mcp: ${started ? 'started' : 'using'} the host of ${home} (pid ${address.pid}); ` +
      `browser: ${browserUrl(address)}`,
  );
  const code = await runBridge(address, { log });
  // stdin may still hold the event loop open; the protocol is over either way.
  process.exit(code);
}
