// Docker's stdout/stderr stream framing, shared by exec, logs and the OOM probe.
import type { Readable } from 'node:stream';
import type { LogsResult } from './types.ts';

/** Splits Docker's multiplexed stdout/stderr framing: [type, 0, 0, 0, size(u32 BE)] + payload. */
export class Demuxer {
  #pending: Buffer = Buffer.alloc(0);
  readonly #sink: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  constructor(sink: (stream: 'stdout' | 'stderr', chunk: Buffer) => void) {
    this.#sink = sink;
  }

  push(chunk: Buffer): void {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    while (this.#pending.length >= 8) {
      const type = this.#pending[0]!;
      const size = this.#pending.readUInt32BE(4);
      if (this.#pending.length < 8 + size) return;
      const payload = this.#pending.subarray(8, 8 + size);
      this.#pending = this.#pending.subarray(8 + size);
      this.#sink(type === 2 ? 'stderr' : 'stdout', payload);
    }
  }
}

/** Collects one output stream up to a byte cap. */
export class Capped {
  #parts: Buffer[] = [];
  #size = 0;
  truncated = false;
  readonly #cap: number;
  constructor(cap: number) {
    this.#cap = cap;
  }
  add(chunk: Buffer): void {
    const room = this.#cap - this.#size;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (part.length < chunk.length) this.truncated = true;
    this.#parts.push(Buffer.from(part));
    this.#size += part.length;
  }
  text(): string {
    return Buffer.concat(this.#parts).toString('utf8');
  }
}

/** Splits a whole (non-streamed) log buffer into stdout and stderr. */
export function demuxBuffer(data: Buffer | string): LogsResult {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  // A TTY container's log is not framed; treat it as plain stdout.
  if (buf.length >= 8 && (buf[0] === 1 || buf[0] === 2) && buf[1] === 0 && buf[2] === 0 && buf[3] === 0) {
    new Demuxer((s, c) => (s === 'stderr' ? err : out).push(Buffer.from(c))).push(buf);
  } else {
    out.push(buf);
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

export interface PumpOptions {
  timeoutMs: number;
  /** Called once when timeoutMs passes first; `finish` stops waiting at once. */
  onTimeout: (finish: () => void) => void;
  /** Whether a stream error ends the wait quietly (true) or rejects (false). */
  errorEnds: () => boolean;
}

/** Feeds a hijacked exec stream to `demux` until it ends, closes or times out; the stream is destroyed after. */
export function pumpExec(stream: Readable, demux: Demuxer, options: PumpOptions): Promise<void> {
  return new Promise<void>((done, reject) => {
    const timer = setTimeout(() => options.onTimeout(done), options.timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      done();
    };
    stream.on('data', (chunk: Buffer) => demux.push(chunk));
    stream.once('error', (err) => {
      clearTimeout(timer);
      if (options.errorEnds()) done();
      else reject(err);
    });
    stream.once('close', finish);
    stream.once('end', finish);
    // The hijacked connection is ours to close, whether the command ended, timed out or failed.
  }).finally(() => stream.destroy());
}
