// The host's side of one experiment's channel: MCP streams for the router,
// requests (exec, stats) and files in both directions, streamed in chunks and
// checked by sha256 on arrival (a sender's sha256 that does not match the
// bytes is refused, as is a file over the size cap).
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ContainerRuntimeError, type RuntimeErrorCode } from '../types.ts';
import type { Channel } from './channel.ts';
import { routeStreamFrame, StreamTransport } from './mcp-stream.ts';
import { type Body, CHUNK_BYTES, type Op } from './wire.ts';

/** Largest file either way over the channel; a bigger one is refused before it is sent. */
export const MAX_FILE_BYTES = 512 * 2 ** 20;

interface Pending {
  resolve: (value: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  onChunk?: (data: Buffer) => void;
  onEnd?: (sha256: string, bytes: number) => void;
}

const CODES = new Set<RuntimeErrorCode>([
  'invalid_path',
  'not_found',
  'exec_failed',
  'copy_failed',
  'file_not_found',
  'invalid_spec',
]);

export class HubLink {
  readonly #streams = new Map<number, StreamTransport>();
  readonly #pending = new Map<number, Pending>();
  #nextStream = 1;
  #nextId = 1;
  #shutdown: string | undefined;

  constructor(
    readonly experimentId: string,
    readonly channel: Channel,
  ) {
    channel.onBody = (b) => this.#onBody(b);
    channel.onBroken = (reason) => this.shutdown(reason);
  }

  /** A new MCP stream to the node's server (one per host client). */
  openMcp(): StreamTransport {
    this.#alive();
    const s = this.#nextStream++;
    const t = new StreamTransport(s, (b) => this.channel.send(b), true);
    this.#streams.set(s, t);
    const ended = t.ended.bind(t);
    t.ended = () => {
      this.#streams.delete(s);
      ended();
    };
    return t;
  }

  /** One request to the node; its error comes back as a ContainerRuntimeError with the node's code. */
  request(op: Op, args: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
    return this.#start(op, args, timeoutMs).done;
  }

  /**
   * Copies a file of the node to `dest` on the host: chunks to a temp file beside
   * it, hashed on arrival; renamed into place only when size and sha256 agree.
   */
  async download(
    path: string,
    dest: string,
    timeoutMs: number,
    maxBytes = MAX_FILE_BYTES,
  ): Promise<{ sha256: string; bytes: number }> {
    mkdirSync(dirname(dest), { recursive: true });
    const partial = `${dest}.partial-${randomBytes(4).toString('hex')}`;
    const fd = openSync(partial, 'wx', 0o644);
    const hash = createHash('sha256');
    let bytes = 0;
    let failure: Error | undefined;
    let claimed: { sha256: string; bytes: number } | undefined;
    const req = this.#start('cp_out', { path, max_bytes: maxBytes }, timeoutMs, {
      onChunk: (data) => {
        if (failure) return;
        bytes += data.length;
        if (bytes > maxBytes) {
          failure = new ContainerRuntimeError(
            'copy_failed',
            `${path} is larger than ${maxBytes} bytes: refused`,
          );
          return;
        }
        hash.update(data);
        let off = 0;
        while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      },
      onEnd: (sha256, n) => {
        claimed = { sha256, bytes: n };
      },
    });
    try {
      await req.done;
      closeSync(fd);
      if (failure) throw failure;
      const sha256 = hash.digest('hex');
      if (!claimed || claimed.sha256 !== sha256 || claimed.bytes !== bytes) {
        throw new ContainerRuntimeError(
          'copy_failed',
          `${path} from ${this.experimentId}: the node says sha256 ${claimed?.sha256 ?? 'nothing'} (${claimed?.bytes ?? '?'} bytes) but ${bytes} bytes arrived with sha256 ${sha256}: refused`,
        );
      }
      renameSync(partial, dest);
      return { sha256, bytes };
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        // closed above
      }
      rmSync(partial, { force: true });
      throw err;
    }
  }

  /** Sends `data` to `path` on the node, which checks size and sha256 before writing it in place. */
  async upload(
    path: string,
    data: Buffer,
    timeoutMs: number,
  ): Promise<{ path: string; sha256: string; bytes: number }> {
    if (data.length > MAX_FILE_BYTES) {
      throw new ContainerRuntimeError(
        'copy_failed',
        `${path}: ${data.length} bytes is over the ${MAX_FILE_BYTES} byte cap`,
      );
    }
    const sha256 = createHash('sha256').update(data).digest('hex');
    const req = this.#start('cp_in', { path, bytes: data.length, sha256 }, timeoutMs);
    for (let off = 0; off < data.length; off += CHUNK_BYTES) {
      this.channel.send({
        t: 'chunk',
        id: req.id,
        d: data.subarray(off, off + CHUNK_BYTES).toString('base64'),
      });
    }
    this.channel.send({ t: 'end', id: req.id, sha256, bytes: data.length });
    const value = await req.done;
    return { path: String(value.path), sha256: String(value.sha256), bytes: Number(value.bytes) };
  }

  /** Ends every stream and request; the link is not used again. */
  shutdown(reason: string): void {
    if (this.#shutdown) return;
    this.#shutdown = reason;
    for (const t of [...this.#streams.values()]) t.ended();
    this.#streams.clear();
    for (const p of this.#pending.values()) p.reject(new ContainerRuntimeError('exec_failed', reason));
    this.#pending.clear();
    this.channel.close(4001, reason.slice(0, 120));
  }

  #alive(): void {
    if (this.#shutdown) throw new ContainerRuntimeError('not_found', this.#shutdown);
  }

  #start(
    op: Op,
    args: Record<string, unknown>,
    timeoutMs: number,
    handlers: Pick<Pending, 'onChunk' | 'onEnd'> = {},
  ): { id: number; done: Promise<Record<string, unknown>> } {
    this.#alive();
    const id = this.#nextId++;
    const done = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new ContainerRuntimeError(
            op === 'exec' ? 'exec_failed' : 'copy_failed',
            `${op} on ${this.experimentId} got no answer over the hub within ${Math.round(timeoutMs / 1000)} s`,
          ),
        );
      }, timeoutMs);
      this.#pending.set(id, {
        ...handlers,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
    this.channel.send({ t: 'req', id, op, args });
    return { id, done };
  }

  #onBody(b: Body): void {
    switch (b.t) {
      case 'mcp':
      case 'close':
        routeStreamFrame(this.#streams, b);
        return;
      case 'chunk':
        this.#pending.get(b.id)?.onChunk?.(Buffer.from(b.d, 'base64'));
        return;
      case 'end':
        this.#pending.get(b.id)?.onEnd?.(b.sha256, b.bytes);
        return;
      case 'res': {
        const p = this.#pending.get(b.id);
        if (!p) return;
        this.#pending.delete(b.id);
        if (b.ok) p.resolve(b.value);
        else {
          const code = CODES.has(b.code as RuntimeErrorCode) ? (b.code as RuntimeErrorCode) : 'exec_failed';
          p.reject(new ContainerRuntimeError(code, b.message.slice(0, 4000)));
        }
        return;
      }
      default:
        // open/req come only from the host's side: a node that sends them is ignored.
        return;
    }
  }
}
