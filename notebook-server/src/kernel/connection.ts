// Jupyter connection files: ports that do not collide, a fresh HMAC key, and a
// 0600 file in a private runtime directory.
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { readSetting } from '../config/index.ts';
import { unlinkInside, writeInside } from '../confine/fs.ts';
import type { Owner } from '../confine/walk.ts';
import { isAlive } from '../proc/process.ts';

export type Transport = 'tcp' | 'ipc';

/** The fields of a Jupyter connection file. */
export interface ConnectionInfo {
  transport: Transport;
  /** tcp: an interface address; ipc: a path prefix (`${ip}-${port}` is the socket path). */
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: 'hmac-sha256';
  kernel_name: string;
}

export type ChannelName = 'shell' | 'iopub' | 'stdin' | 'control' | 'hb';

export function channelUrl(info: ConnectionInfo, channel: ChannelName): string {
  const port = info[`${channel}_port`];
  return info.transport === 'ipc' ? `ipc://${info.ip}-${port}` : `tcp://${info.ip}:${port}`;
}

/** Private per-user directory for connection files and ipc sockets. */
export function runtimeDir(): string {
  const own = readSetting('runtimeDir');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const dir = own ?? `${join(readSetting('xdgRuntimeDir'), 'peragus-kernels')}-${uid}`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

// Ports handed to kernels of this process that are still in use. The OS may hand
// a just-closed port out again, so probing alone cannot keep two of our own
// concurrent kernels apart; this set does. Kernels of other processes are kept
// apart by the probe plus a retry with fresh ports when the bind fails.
const reserved = new Set<number>();

function listenOnce(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => resolve(server));
  });
}

/** Five distinct free TCP ports on `host`, all probed open at the same time and reserved until released. */
export async function allocatePorts(host = '127.0.0.1', count = 5): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    // Holding every probe socket open until all are chosen guarantees distinct ports.
    for (let attempts = 0; ports.length < count; attempts++) {
      if (attempts > count * 20) throw new Error('could not find free ports');
      const server = await listenOnce(host);
      held.push(server);
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      if (port > 0 && !reserved.has(port)) {
        // Reserve before the probe closes, or a concurrent caller could probe the same port.
        reserved.add(port);
        ports.push(port);
      }
    }
  } catch (err) {
    for (const p of ports) reserved.delete(p);
    throw err;
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
  return ports;
}

export function releasePorts(info: ConnectionInfo): void {
  if (info.transport !== 'tcp') return;
  for (const ch of ['shell', 'iopub', 'stdin', 'control', 'hb'] as const) reserved.delete(info[`${ch}_port`]);
}

export interface ConnectionFile {
  info: ConnectionInfo;
  path: string;
  /** Releases the ports and deletes the file (and ipc sockets). Idempotent. */
  dispose(): void;
}

export interface CreateConnectionOptions {
  transport?: Transport;
  ip?: string;
  key?: string;
  kernelName?: string;
  dir?: string;
  inside?: ConnectionInside;
}

/**
 * A connection file and its ipc sockets in a directory the kernel can write: its work dir, at the
 * same path in its sandbox, for a host that serves the session itself. The file is written and
 * removed without following a link there, owned by the kernel's user; the sockets' paths are
 * relative to `root`, the kernel's cwd when it binds them (short whatever the work dir's path).
 */
export interface ConnectionInside {
  /** The kernel's work dir (its cwd when it starts). */
  root: string;
  /** Where the file and the sockets go, relative to root. */
  dir: string;
  /** The kernel's user: it reads the file and binds the sockets. */
  owner?: Owner;
}

const IN_WORK_DIR = { where: "the kernel's work dir" };

/** A connection's fields: its sockets, and a fresh 256-bit key unless one is given. */
function connectionInfo(
  transport: Transport,
  ip: string,
  ports: number[],
  options: CreateConnectionOptions,
): ConnectionInfo {
  return {
    transport,
    ip,
    ...portFields(ports),
    key: options.key ?? randomBytes(32).toString('hex'),
    signature_scheme: 'hmac-sha256',
    kernel_name: options.kernelName ?? 'peragus-pysd',
  };
}

function createInside(inside: ConnectionInside, options: CreateConnectionOptions): ConnectionFile {
  const id = randomBytes(6).toString('hex');
  const ports = [1, 2, 3, 4, 5];
  const info = connectionInfo('ipc', `${inside.dir}/${id}`, ports, options);
  const name = `${inside.dir}/kernel-${id}.json`;
  const { path } = writeInside(inside.root, name, `${JSON.stringify(info, null, 2)}\n`, {
    ...IN_WORK_DIR,
    mode: 0o600,
    ...(inside.owner ? { owner: inside.owner } : {}),
  });
  let disposed = false;
  return {
    info,
    path,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const rel of [name, ...ports.map((p) => `${info.ip}-${p}`)]) {
        try {
          unlinkInside(inside.root, rel, IN_WORK_DIR);
        } catch {
          // a link or a directory the kernel put there: not ours to remove
        }
      }
    },
  };
}

/** Writes a new connection file (0600) with fresh ports and a fresh 256-bit key. */
export async function createConnectionFile(options: CreateConnectionOptions = {}): Promise<ConnectionFile> {
  if (options.inside) return createInside(options.inside, options);
  const dir = options.dir ?? runtimeDir();
  sweepOnce(dir);
  // Our pid in the name lets a later process remove what a killed one left behind.
  const id = `${process.pid}-${randomUUID().slice(0, 18)}`;
  const transport = options.transport ?? 'tcp';
  let ip: string;
  let ports: number[];
  if (transport === 'ipc') {
    // Unique path prefix per kernel: no shared namespace, so nothing can collide.
    // Kept short because Unix socket paths are limited to ~107 bytes.
    ip = join(dir, id);
    ports = [1, 2, 3, 4, 5];
  } else {
    ip = options.ip ?? '127.0.0.1';
    ports = await allocatePorts(ip);
  }
  const info = connectionInfo(transport, ip, ports, options);
  const path = join(dir, `kernel-${id}.json`);
  writeConnectionFile(path, info);
  let disposed = false;
  return {
    info,
    path,
    dispose() {
      if (disposed) return;
      disposed = true;
      releasePorts(info);
      rmSync(path, { force: true });
      if (transport === 'ipc') for (const p of ports) rmSync(`${ip}-${p}`, { force: true });
    },
  };
}

export function writeConnectionFile(path: string, info: ConnectionInfo): void {
  // The key authenticates every message; nobody else may read it.
  writeFileSync(path, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Same connection, new TCP ports (after a bind collision with another process). */
export async function withFreshPorts(file: ConnectionFile): Promise<void> {
  const { info } = file;
  if (info.transport !== 'tcp') return;
  releasePorts(info);
  Object.assign(info, portFields(await allocatePorts(info.ip)));
  writeConnectionFile(file.path, info);
}

function portFields(ports: number[]): Pick<ConnectionInfo, `${ChannelName}_port`> {
  const [shell_port, iopub_port, stdin_port, control_port, hb_port] = ports as [
    number,
    number,
    number,
    number,
    number,
  ];
  return { shell_port, iopub_port, stdin_port, control_port, hb_port };
}

const swept = new Set<string>();

/** Removes connection files and ipc sockets of processes that no longer exist (killed with -9, say). */
function sweepOnce(dir: string): void {
  if (swept.has(dir)) return;
  swept.add(dir);
  for (const name of readdirSync(dir)) {
    const pid = Number(/^(?:kernel-)?(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    rmSync(join(dir, name), { force: true });
  }
}
