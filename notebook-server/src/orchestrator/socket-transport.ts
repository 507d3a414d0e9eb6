// MCP over a Unix domain socket, framed like the SDK's stdio transport
// (newline-delimited JSON-RPC). The host reaches each experiment's node
// server this way, whether the node is a local child process or runs inside a
// container whose volume holds the socket.
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export class SocketTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private readonly buffer = new ReadBuffer();
  private closed = false;

  constructor(private readonly socket: Socket) {}

  async start(): Promise<void> {
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer.append(chunk);
      for (;;) {
        let message: JSONRPCMessage | null;
        try {
          message = this.buffer.readMessage();
        } catch (err) {
          this.onerror?.(err as Error);
          continue;
        }
        if (message === null) break;
        this.onmessage?.(message);
      }
    });
    this.socket.on('error', (err) => this.onerror?.(err));
    this.socket.on('close', () => this.finish());
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error('MCP socket is closed'));
        return;
      }
      this.socket.write(serializeMessage(message), (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.socket.end();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.buffer.clear();
    this.onclose?.();
  }
}

/** Connects to an MCP endpoint socket; rejects with a message naming the path. */
export function connectSocketTransport(path: string, timeoutMs = 5000): Promise<SocketTransport> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out connecting to the MCP endpoint ${path}`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(new SocketTransport(socket));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot connect to the MCP endpoint ${path}: ${err.message}`));
    });
  });
}

/**
 * Listens on a Unix socket; every connection gets its own transport, handed to
 * `onConnection` (which typically connects a fresh McpServer to it).
 */
export async function listenSocket(
  path: string,
  onConnection: (transport: SocketTransport) => void | Promise<void>,
): Promise<Server> {
  if (existsSync(path)) unlinkSync(path); // stale socket from a previous run
  const server = createServer((socket) => {
    void onConnection(new SocketTransport(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  // Only the owner (host user / container user) may talk to the node.
  chmodSync(path, 0o600);
  return server;
}
