// MCP over a Unix domain socket, framed like the SDK's stdio transport
// (newline-delimited JSON-RPC). The host reaches each experiment's node
// server this way, whether the node is a local child process or runs inside a
// container whose volume holds the socket.
import { chmodSync, closeSync, existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { relative } from 'node:path';
import { serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { openSocketInside } from '../confine/socket.ts';
import { JsonLineReader } from '../jsonrpc/line-reader.ts';

export class SocketTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  // A line over the cap or not JSON-RPC (a hostile container) is dropped and
  // reported; it never ends the connection or throws into the host.
  readonly #buffer = new JsonLineReader({
    onMessage: (m) => this.onmessage?.(m),
    onRejected: (r) => this.onerror?.(new Error(r.message)),
  });
  #closed = false;

  readonly #socket: Socket;
  constructor(socket: Socket) {
    this.#socket = socket;
  }

  async start(): Promise<void> {
    this.#socket.on('data', (chunk: Buffer) => {
      try {
        this.#buffer.push(chunk);
      } catch (err) {
        this.onerror?.(err as Error);
      }
    });
    this.#socket.on('error', (err) => this.onerror?.(err));
    this.#socket.on('close', () => this.#finish());
    // A listening side's socket was paused after its first bytes (listenSocket).
    this.#socket.resume();
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error('MCP socket is closed'));
        return;
      }
      this.#socket.write(serializeMessage(message), (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.#socket.end();
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffer.clear();
    this.onclose?.();
  }
}

/**
 * Connects to an MCP endpoint socket; rejects with a message naming the path.
 * With `volume` (the experiment's work dir, which its code can write), the
 * socket is pinned there first: a link planted in its place is refused.
 */
export function connectSocketTransport(
  path: string,
  timeoutMs = 5000,
  volume?: { root: string; socket: string },
): Promise<SocketTransport> {
  const pinned = volume
    ? openSocketInside(volume.root, volume.socket, { what: 'the MCP endpoint' })
    : undefined;
  return new Promise<SocketTransport>((resolve, reject) => {
    const socket = connect(pinned?.pinned ?? path);
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
  }).finally(() => {
    if (pinned) closeSync(pinned.fd);
  });
}

/**
 * Listens on a Unix socket; every connection gets its own transport at its first bytes, handed to
 * `onConnection` (which typically connects a fresh McpServer to it).
 */
export async function listenSocket(
  path: string,
  onConnection: (transport: SocketTransport) => void | Promise<void>,
): Promise<Server> {
  if (existsSync(path)) unlinkSync(path); // stale socket from a previous run
  const server = createServer((socket) => {
    // A connection gets its transport (and so, typically, an McpServer: ≈ 8 ms of a node's
    // CPU) with its first bytes: the host's endpoint probe connects and closes, and costs none.
    const drop = () => socket.destroy();
    socket.once('error', drop);
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      socket.off('error', drop);
      void onConnection(new SocketTransport(socket));
    });
  });
  // sun_path holds 107 bytes: a deeper socket is bound by its path relative to
  // the cwd (the node role runs in its work dir), as the endpoint symlink of
  // runtime/paths.ts lets clients reach it.
  const rel = relative(process.cwd(), path);
  const bindPath = Buffer.byteLength(path) > 107 && Buffer.byteLength(rel) <= 107 ? rel : path;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bindPath, () => resolve());
  });
  // Only the owner (host user / container user) may talk to the node.
  chmodSync(path, 0o600);
  return server;
}
