// Docker Engine API failures mapped to ContainerRuntimeError: the API's own
// message for refusals, and daemon_unavailable (with a fix) for transport errors.
import type Docker from 'dockerode';
import { ContainerRuntimeError } from './types.ts';

/** The fields dockerode and the socket layer put on a failure. */
export interface DockerError {
  statusCode?: number;
  code?: string;
  syscall?: string;
  address?: string;
  json?: { message?: string } | string | null;
  reason?: string;
  message?: string;
}

export function apiMessage(err: unknown): string {
  const e = err as DockerError;
  if (e?.json && typeof e.json === 'object' && typeof e.json.message === 'string') return e.json.message;
  if (typeof e?.json === 'string' && e.json) return e.json;
  return e?.message ?? String(err);
}

/** The HTTP status of an API refusal; undefined for transport failures. */
export function statusOf(err: unknown): number | undefined {
  return (err as DockerError)?.statusCode;
}

/** Where the client talks to the daemon, for error messages. */
function daemonAddress(docker: Docker, err?: DockerError): string {
  if (err?.address) return err.address;
  const modem = (docker as unknown as { modem?: { socketPath?: unknown; host?: string; port?: number } })
    .modem;
  if (typeof modem?.socketPath === 'string') return modem.socketPath;
  if (modem?.host) return `${modem.host}${modem.port ? `:${modem.port}` : ''}`;
  // dockerode resolves the default socket lazily (~/.docker/run/docker.sock, else this one).
  return '/var/run/docker.sock';
}

/** Maps transport failures to a daemon_unavailable error; passes anything else through. */
export function fail(docker: Docker, err: unknown): never {
  if (err instanceof ContainerRuntimeError) throw err;
  const e = err as DockerError;
  if (
    e?.code &&
    ['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(e.code)
  ) {
    const where = daemonAddress(docker, e);
    const hint =
      e.code === 'EACCES'
        ? 'permission denied: run as root or add this user to the "docker" group'
        : 'start it (e.g. `dockerd >/var/log/dockerd.log 2>&1 &`, or `systemctl start docker`) or point DOCKER_HOST at a running daemon; PERAGUS_RUNTIME=local needs no Docker';
    throw new ContainerRuntimeError(
      'daemon_unavailable',
      `Docker daemon not reachable at ${where} (${e.code}): ${hint}`,
      {
        cause: err,
      },
    );
  }
  throw err;
}

/** Runs one API call, mapping its transport failures through `fail`. */
export async function call<T>(docker: Docker, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    fail(docker, err);
  }
}
