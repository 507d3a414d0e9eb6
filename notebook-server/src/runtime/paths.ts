// Path rules shared by both runtimes: client paths name files inside the
// experiment volume and must never reach outside it, and the on-host layout
// of an experiment (work dir, endpoint socket, copied-out files).
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readSetting } from '../config/index.ts';
import { chownInside, kindInside, mkdirInside, unlinkInside } from '../confine/fs.ts';
import { confineRelative, PathError, type RelativeOptions } from '../confine/relative.ts';
import type { Owner } from '../confine/walk.ts';
import { ContainerRuntimeError, ENDPOINT_RELATIVE_PATH, EXPERIMENT_MOUNT } from './types.ts';

export interface ExperimentPath {
  /** Normalised, relative to the experiment root, never empty, never starting with `..`. */
  relative: string;
  /** The same file as seen inside a container. */
  container: string;
}

/** The confinement rule for experiment volumes (client paths may also name /experiment/...). */
export const VOLUME: RelativeOptions = { mount: EXPERIMENT_MOUNT, where: EXPERIMENT_MOUNT };

/** Runs a confined file operation, reporting refusals as runtime errors (invalid_path / file_not_found). */
export function inVolume<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw asRuntimeError(err);
  }
}

export function asRuntimeError(err: unknown): unknown {
  if (!(err instanceof PathError)) return err;
  const code = err.code === 'not_found' ? 'file_not_found' : 'invalid_path';
  return new ContainerRuntimeError(code, err.message, { cause: err });
}

/**
 * Resolves a client-supplied path against the experiment root. Accepts
 * `a/b.csv`, `./a/b.csv` and `/experiment/a/b.csv`; rejects other absolute
 * paths, anything that normalises outside the root, the root itself, and NUL bytes.
 */
export function resolveExperimentPath(input: string, what = 'path'): ExperimentPath {
  const relative = inVolume(() => confineRelative(input, { ...VOLUME, what }));
  return { relative, container: `${EXPERIMENT_MOUNT}/${relative}` };
}

/** A client's working directory in a volume on this host: an existing directory, reached without links. */
export function volumeDirectory(workDir: string, cwd: string): string {
  return inVolume(() => {
    if (kindInside(workDir, cwd, { ...VOLUME, what: 'cwd' }) !== 'directory') {
      throw new ContainerRuntimeError('invalid_path', `cwd "${cwd}" is not a directory in /experiment`);
    }
    return join(workDir, resolveExperimentPath(cwd, 'cwd').relative);
  });
}

export function peragusHome(env: NodeJS.ProcessEnv = process.env): string {
  return readSetting('home', env);
}

export interface ExperimentLayout {
  /** <home>/experiments/<id> */
  root: string;
  /** The experiment volume: /experiment in a container. */
  workDir: string;
  /** Default destination of cpOut (outside the volume, so the container cannot alter copies). */
  outDir: string;
  /** Where the node role creates its socket (host path). */
  socketPath: string;
}

export function experimentLayout(home: string, experimentId: string): ExperimentLayout {
  const root = join(home, 'experiments', experimentId);
  const workDir = join(root, 'work');
  return { root, workDir, outDir: join(root, 'out'), socketPath: join(workDir, ENDPOINT_RELATIVE_PATH) };
}

/**
 * Readies an experiment volume for a (re)created container: `.peragus` made
 * and, when `owner` is given, the volume root and `.peragus` (only those, never
 * recursively) handed to the container's user; a socket left by an earlier
 * container removed. A link planted by an earlier container anywhere on these
 * paths makes this fail with invalid_path; the host follows none of them.
 */
export function prepareVolume(
  workDir: string,
  owner?: Owner,
  what: RelativeOptions = { ...VOLUME, what: 'the endpoint directory' },
): void {
  mkdirSync(workDir, { recursive: true });
  inVolume(() => {
    mkdirInside(workDir, '.peragus', { ...what, ...(owner ? { owner } : {}) });
    if (owner) {
      chownInside(workDir, '.', owner, what);
      chownInside(workDir, '.peragus', owner, what);
    }
    // A socket left by an earlier container would look like a dead endpoint.
    unlinkInside(workDir, ENDPOINT_RELATIVE_PATH, what);
  });
}

/**
 * The shared PySD translation cache (one translation per model sha256 and PySD
 * version, written by the host's plan check, read-only to experiments).
 */
export const pysdCacheDir = (home: string): string => join(home, 'pysd-cache');
/**
 * The PERAGUS_PYSD_SHARED_CACHE value for experiments: the cache, or "0" when the host turned it
 * off. The folder is made here (0755: experiments read it): a sandbox or container binds it only
 * when it exists, and a session's model may be translated into it after the experiment started.
 */
export const sharedCacheEnv = (
  home: string,
  env: NodeJS.ProcessEnv = process.env,
  on: boolean = readSetting('pysdSharedCache', env),
): string => {
  if (!on) return '0';
  const cache = pysdCacheDir(home);
  try {
    mkdirSync(cache, { recursive: true, mode: 0o755 });
  } catch {
    // A home that cannot hold it: experiments translate for themselves (their mounts skip it).
  }
  return cache;
};
/** Where Docker experiments see the shared translation cache (mounted read-only). */
export const PYSD_CACHE_MOUNT = '/opt/peragus/pysd-cache';

// sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH = 107;

/**
 * The path clients should connect to. Deep PERAGUS_HOME paths can exceed the
 * Unix socket path limit; then a short symlink in the temp dir points at the
 * real socket (connect() follows symlinks), created before the socket exists.
 */
export function endpointFor(socketPath: string): string {
  if (Buffer.byteLength(socketPath) <= MAX_SOCKET_PATH) return socketPath;
  const link = join(
    tmpdir(),
    `peragus-${createHash('sha256').update(socketPath).digest('hex').slice(0, 16)}.sock`,
  );
  try {
    if (lstatSync(link).isSymbolicLink() && readlinkSync(link) === socketPath) return link;
    unlinkSync(link);
  } catch {
    // not there yet
  }
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(socketPath, link);
  return link;
}

/** Removes the short symlink made by endpointFor, if any. */
export function releaseEndpoint(endpoint: string, socketPath: string): void {
  if (endpoint === socketPath) return;
  try {
    if (lstatSync(endpoint).isSymbolicLink()) unlinkSync(endpoint);
  } catch {
    // already gone
  }
}

/** Resolves true if something accepts a connection on the Unix socket. */
export function probeSocket(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(path);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      done(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/**
 * Waits until the endpoint accepts connections. `stillAlive` is polled so a
 * server that died during start-up fails fast with its own reason.
 */
export async function waitForEndpoint(
  endpoint: string,
  timeoutMs: number,
  stillAlive: () => Promise<string | null>,
): Promise<void> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (;;) {
    if (await probeSocket(endpoint, 500)) return;
    const deadReason = await stillAlive();
    if (deadReason !== null) {
      throw new ContainerRuntimeError(
        'create_failed',
        `the node role exited before serving ${endpoint}: ${deadReason}`,
      );
    }
    if (Date.now() >= deadline) {
      throw new ContainerRuntimeError(
        'endpoint_timeout',
        `the MCP endpoint ${endpoint} did not accept connections within ${timeoutMs} ms`,
      );
    }
    // A node role is up within a second or two: poll finely then (a missing
    // socket fails at once, so a probe costs next to nothing), then back off.
    await new Promise((r) => setTimeout(r, Date.now() - started < 3_000 ? 20 : 250));
  }
}
