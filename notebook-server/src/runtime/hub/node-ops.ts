// What the node does for the host's requests over the hub: run a command, one
// stats sample from its own cgroup, and files in and out of its work dir,
// every path confined to it (no link followed) and every size bounded.
import { createHash } from 'node:crypto';
import { closeSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { kindInside, openFileInside, writeInside } from '../../confine/fs.ts';
import { runCommand } from '../local-process.ts';
import { inVolume, resolveExperimentPath, VOLUME } from '../paths.ts';
import { ContainerRuntimeError } from '../types.ts';
import { MAX_FILE_BYTES } from './link.ts';
import { type Body, CHUNK_BYTES } from './wire.ts';

const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096) {
    throw new ContainerRuntimeError('invalid_spec', `${what} must be a non-empty string`);
  }
  return v;
};
const num = (v: unknown, fallback: number, max: number): number =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.min(v, max) : fallback;

export async function execOp(
  workDir: string,
  args: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const cmd = args.cmd;
  if (!Array.isArray(cmd) || cmd.length === 0 || cmd.some((c) => typeof c !== 'string')) {
    throw new ContainerRuntimeError('exec_failed', 'exec needs a non-empty command array of strings');
  }
  let cwd = workDir;
  if (args.cwd !== undefined) {
    const rel = resolveExperimentPath(str(args.cwd, 'cwd'), 'cwd').relative;
    if (inVolume(() => kindInside(workDir, rel, { ...VOLUME, what: 'cwd' })) !== 'directory') {
      throw new ContainerRuntimeError(
        'invalid_path',
        `cwd "${String(args.cwd)}" is not a directory in /experiment`,
      );
    }
    cwd = join(workDir, rel);
  }
  const env = { ...process.env };
  if (args.env && typeof args.env === 'object') {
    for (const [k, v] of Object.entries(args.env as Record<string, unknown>)) {
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && typeof v === 'string') env[k] = v;
    }
  }
  const result = await runCommand(cmd as string[], {
    cwd,
    env,
    timeoutMs: num(args.timeout_ms, 60_000, 24 * 3600_000),
    maxOutputBytes: num(args.max_output_bytes, 2 ** 20, 16 * 2 ** 20),
  });
  return { ...result };
}

function readNumber(path: string): number | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (text === 'max') return null;
    const n = Number(text.split(/\s+/)[0]);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** CPU time (ns) used by this container's cgroup, v2 or v1. */
function cpuNanos(): number | null {
  try {
    const stat = readFileSync('/sys/fs/cgroup/cpu.stat', 'utf8');
    const usec = /usage_usec (\d+)/.exec(stat)?.[1];
    if (usec) return Number(usec) * 1000;
  } catch {
    // cgroup v1 below
  }
  return (
    readNumber('/sys/fs/cgroup/cpuacct/cpuacct.usage') ??
    readNumber('/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage')
  );
}

export async function statsOp(): Promise<Record<string, unknown>> {
  const a = cpuNanos();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, 250));
  const b = cpuNanos();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const v2 = readNumber('/sys/fs/cgroup/memory.current') !== null;
  const usage = v2
    ? readNumber('/sys/fs/cgroup/memory.current')
    : readNumber('/sys/fs/cgroup/memory/memory.usage_in_bytes');
  const limit = v2
    ? readNumber('/sys/fs/cgroup/memory.max')
    : readNumber('/sys/fs/cgroup/memory/memory.limit_in_bytes');
  const pids = readNumber(v2 ? '/sys/fs/cgroup/pids.current' : '/sys/fs/cgroup/pids/pids.current');
  const pidsMax = readNumber(v2 ? '/sys/fs/cgroup/pids.max' : '/sys/fs/cgroup/pids/pids.max');
  const memory = usage ?? 0;
  const cap = limit ?? 0;
  return {
    cpu_percent: a !== null && b !== null ? Math.max(0, ((b - a) / 1e9 / secs) * 100) : 0,
    memory_usage_bytes: memory,
    memory_limit_bytes: cap,
    memory_percent: cap > 0 ? (memory / cap) * 100 : 0,
    pids: pids ?? 0,
    pids_limit: pidsMax,
    read_at: new Date().toISOString(),
  };
}

/** Streams a file of the work dir as chunks then `end` with its sha256; refuses links, non-files and oversize. */
export function cpOutOp(
  workDir: string,
  id: number,
  args: Record<string, unknown>,
  send: (b: Body) => void,
): Record<string, unknown> {
  const rel = resolveExperimentPath(str(args.path, 'src'), 'src').relative;
  const max = num(args.max_bytes, MAX_FILE_BYTES, MAX_FILE_BYTES);
  const file = inVolume(() => openFileInside(workDir, rel, { ...VOLUME, what: 'src' }));
  try {
    if (file.stat.size > max) {
      throw new ContainerRuntimeError(
        'copy_failed',
        `${rel} is ${file.stat.size} bytes, over the ${max} byte cap`,
      );
    }
    const hash = createHash('sha256');
    const buf = Buffer.alloc(CHUNK_BYTES);
    let bytes = 0;
    for (;;) {
      const n = readSync(file.fd, buf, 0, buf.length, bytes);
      if (n === 0) break;
      bytes += n;
      if (bytes > max) throw new ContainerRuntimeError('copy_failed', `${rel} grew past the ${max} byte cap`);
      hash.update(buf.subarray(0, n));
      send({ t: 'chunk', id, d: buf.subarray(0, n).toString('base64') });
    }
    const sha256 = hash.digest('hex');
    send({ t: 'end', id, sha256, bytes });
    return { path: rel, sha256, bytes };
  } finally {
    closeSync(file.fd);
  }
}

/** An upload in progress: chunks gathered (bounded by the declared size) until `end`. */
export class Upload {
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  #over = false;
  readonly rel: string;
  readonly declared: number;
  readonly sha256: string;

  constructor(args: Record<string, unknown>) {
    this.rel = resolveExperimentPath(str(args.path, 'dest'), 'dest').relative;
    const bytes = args.bytes;
    if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 0 || bytes > MAX_FILE_BYTES) {
      throw new ContainerRuntimeError('copy_failed', `cp_in: bytes must be 0..${MAX_FILE_BYTES}`);
    }
    this.declared = bytes;
    this.sha256 = str(args.sha256, 'sha256');
  }

  add(data: Buffer): void {
    this.#bytes += data.length;
    if (this.#bytes > this.declared) this.#over = true;
    else this.#chunks.push(data);
  }

  /** Writes the file once size and sha256 agree with what was declared. */
  finish(workDir: string): Record<string, unknown> {
    const data = Buffer.concat(this.#chunks);
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (this.#over || data.length !== this.declared || sha256 !== this.sha256) {
      throw new ContainerRuntimeError(
        'copy_failed',
        `cp_in ${this.rel}: ${this.#bytes} bytes with sha256 ${sha256} arrived, ${this.declared} bytes with sha256 ${this.sha256} were declared: refused`,
      );
    }
    inVolume(() => writeInside(workDir, this.rel, data, { ...VOLUME, what: 'dest' }));
    return { path: this.rel, sha256, bytes: data.length };
  }
}
