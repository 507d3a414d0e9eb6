// A counting Unix-socket proxy in front of the Docker daemon's socket: every
// client connection opens exactly one upstream connection, so `open` is the
// number of docker.sock connections the client holds right now, and `peak`
// the most it ever held at once. Tests point DOCKER_HOST (or dockerode's
// socketPath) here to watch one process's connections, unaffected by any
// other client of the shared daemon.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SocketProxy {
  /** The proxy's socket path. */
  path: string;
  /** DOCKER_HOST value for a child process. */
  dockerHost: string;
  /** Client connections open now. */
  open(): number;
  /** Most client connections open at once since start (or the last resetPeak). */
  peak(): number;
  /** Connections accepted since start (keep-alive reuse makes this a loose count of anything). */
  total(): number;
  /** Requests seen since start whose line matches `pattern` (e.g. /POST \S*\/containers\/create/). */
  requests(pattern: RegExp): number;
  resetPeak(): void;
  /** Resolves when open() <= n, or rejects after timeoutMs naming the count. */
  waitOpenAtMost(n: number, timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

export function upstreamDockerSocket(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (host?.startsWith('unix://')) return host.slice('unix://'.length);
  return '/var/run/docker.sock';
}

export async function startSocketProxy(upstream = upstreamDockerSocket()): Promise<SocketProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'peragus-sockproxy-'));
  const path = join(dir, 'docker.sock');
  const clients = new Set<Socket>();
  let peak = 0;
  let total = 0;
  /** The request lines clients sent (a line split across two reads is missed: a lower bound). */
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const changed = () => {
    for (const w of [...waiters]) w();
  };

  const server: Server = createServer((client) => {
    total++;
    clients.add(client);
    peak = Math.max(peak, clients.size);
    const up = connect(upstream);
    client.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(/^[A-Z]+ \S+ HTTP\/1\.[01]\r$/gm)) lines.push(m[0]);
    });
    client.pipe(up);
    up.pipe(client);
    const end = () => {
      client.destroy();
      up.destroy();
      if (clients.delete(client)) changed();
    };
    client.once('close', end);
    up.once('close', end);
    client.on('error', end);
    up.on('error', end);
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(path, () => done());
  });

  return {
    path,
    dockerHost: `unix://${path}`,
    open: () => clients.size,
    peak: () => peak,
    total: () => total,
    requests: (pattern) => lines.filter((l) => pattern.test(l)).length,
    resetPeak: () => {
      peak = clients.size;
    },
    waitOpenAtMost(n, timeoutMs) {
      if (clients.size <= n) return Promise.resolve(clients.size);
      return new Promise((done, fail) => {
        const check = () => {
          if (clients.size > n) return;
          clearTimeout(timer);
          waiters.delete(check);
          done(clients.size);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          fail(
            new Error(
              `${clients.size} docker.sock connections still open after ${timeoutMs} ms (want ≤ ${n})`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
      });
    },
    async close() {
      for (const c of clients) c.destroy();
      await new Promise<void>((done) => server.close(() => done()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
