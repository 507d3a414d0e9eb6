// `peragus mcp` as a bridge: MCP messages from a desktop client on stdio go to
// the running host's Streamable HTTP endpoint (/mcp) and everything the host
// sends (results, progress, logging, elicitation requests) comes back, so the
// agent works on the same sessions, events and catalog as the browser. The
// stdio side is any Transport (the SDK's stdio transport by default), so a
// stricter line reader can be plugged in. When the host goes away the bridge
// says so on stderr and exits non-zero; the client sees its stdout close.
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { goneReason, type HostAddress } from './address.ts';

export interface BridgeOptions {
  /** The client side (default: stdin/stdout). */
  downstream?: Transport;
  log: (message: string) => void;
  /** How often the host's liveness is checked besides transport errors (default 2 s). */
  checkEveryMs?: number;
}

const isRequest = (m: JSONRPCMessage): m is JSONRPCMessage & { id: string | number; method: string } =>
  'method' in m && 'id' in m && m.id !== undefined;

/** Resolves with the exit code: 0 when the client closed stdin, 1 when the host went away. */
export function runBridge(address: HostAddress, options: BridgeOptions): Promise<number> {
  const up = new StreamableHTTPClientTransport(new URL('mcp', address.url), {
    requestInit: { headers: { authorization: `Bearer ${address.token}` } },
    reconnectionOptions: {
      initialReconnectionDelay: 500,
      maxReconnectionDelay: 5000,
      reconnectionDelayGrowFactor: 2,
      maxRetries: 3,
    },
  });
  const down = options.downstream ?? new StdioServerTransport();
  const { log } = options;

  return new Promise<number>((resolve) => {
    let finished = false;
    let checking = false;
    const finish = async (code: number, message?: string) => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      if (message) log(message);
      if (code === 0) await up.terminateSession().catch(() => undefined);
      await up.close().catch(() => undefined);
      await down.close().catch(() => undefined);
      resolve(code);
    };
    // A transport error may be a blip; the host is gone only if it no longer answers.
    const checkHost = async () => {
      if (checking || finished) return;
      checking = true;
      try {
        const reason = await goneReason(address);
        if (reason !== null) {
          await finish(1, `peragus mcp: the host ${address.url} stopped (${reason}); closing the connection`);
        }
      } finally {
        checking = false;
      }
    };
    const timer = setInterval(() => void checkHost(), options.checkEveryMs ?? 2000);
    timer.unref();

    up.onmessage = (message) => {
      down
        .send(message)
        .catch((err: Error) => log(`peragus mcp: could not write to the client: ${err.message}`));
    };
    up.onerror = (err) => {
      log(`peragus mcp: host connection: ${err.message}`);
      void checkHost();
    };
    down.onmessage = (message: JSONRPCMessage) => {
      up.send(message).catch(async (err: Error) => {
        // The client must not wait forever for an answer that will not come.
        if (isRequest(message)) {
          await down
            .send({
              jsonrpc: '2.0',
              id: message.id,
              error: {
                code: -32000,
                message: `the Peragus host ${address.url} did not take it: ${err.message}`,
              },
            })
            .catch(() => undefined);
        }
        await checkHost();
      });
    };
    down.onclose = () => void finish(0);
    down.onerror = (err) => log(`peragus mcp: client stream: ${err.message}`);
    if (!options.downstream) process.stdin.once('end', () => void finish(0));

    Promise.all([up.start(), down.start()]).catch((err: Error) =>
      finish(1, `peragus mcp: could not connect to ${address.url}: ${err.message}`),
    );
  });
}
