// Execute round trip of a trivial cell through @jupyterlab/services: our host
// server vs Jupyter Server (from the kernel venv), same kernel (same kernelspec
// argv), same client, same run. Ours is the host's own /api kernel as a user gets
// it: in a sandbox of its own (app/session-kernels.ts), reached over ipc sockets.
// Figure: jupyterlab_services_execute_p50.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelManager, ServerConnection } from '@jupyterlab/services';
import WebSocket from 'ws';
import { createHost } from '../notebook-server/src/app/host.ts';
import { startHostServer } from '../notebook-server/src/http/server.ts';
import { loadKernelSpec, resolvePython } from '../notebook-server/src/kernel/launcher.ts';
import { type BenchFigure, type BenchSuite, percentile, versus } from './lib.ts';

const WARMUP = 10;
const ROUNDS = Number(process.env.PERAGUS_BENCH_JUPYTER_ROUNDS ?? 200);

function settings(base: string, token: string): ServerConnection.ISettings {
  return ServerConnection.makeSettings({
    baseUrl: base,
    wsUrl: base.replace(/^http/, 'ws'),
    token,
    appendToken: true,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
  });
}

/** p50 / p90 of execute → reply+idle (future.done) for `1+1`, after warm-up. */
async function measure(base: string, token: string, kernelName: string): Promise<number[]> {
  const manager = new KernelManager({ serverSettings: settings(base, token) });
  const kernel = await manager.startNew({ name: kernelName });
  try {
    await kernel.info;
    const times: number[] = [];
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const t0 = performance.now();
      const reply = await kernel.requestExecute({ code: '1+1', store_history: false }).done;
      const dt = performance.now() - t0;
      if (reply.content.status !== 'ok') throw new Error(`execute failed: ${JSON.stringify(reply.content)}`);
      if (i >= WARMUP) times.push(dt);
    }
    return times;
  } finally {
    await kernel.shutdown().catch(() => {});
    manager.dispose();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

async function waitUp(url: string, proc: ChildProcess, log: () => string): Promise<void> {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`jupyter_server exited (${proc.exitCode}):\n${log()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`jupyter_server did not start within 60 s:\n${log()}`);
}

/** Jupyter Server with one kernelspec: ours, argv and env unchanged. */
async function startJupyterServer(dir: string, token: string) {
  const spec = loadKernelSpec();
  const python = resolvePython();
  const specDir = join(dir, 'data', 'kernels', 'peragus-pysd');
  mkdirSync(specDir, { recursive: true });
  writeFileSync(
    join(specDir, 'kernel.json'),
    JSON.stringify({
      argv: spec.argv.map((a) => (a === '{python}' ? python : a)),
      display_name: spec.display_name,
      language: spec.language,
      interrupt_mode: spec.interrupt_mode,
      env: spec.env,
    }),
  );
  mkdirSync(join(dir, 'root'), { recursive: true });
  const port = await freePort();
  let output = '';
  const proc = spawn(
    python,
    [
      '-m',
      'jupyter_server',
      `--IdentityProvider.token=${token}`,
      `--ServerApp.port=${port}`,
      '--ServerApp.ip=127.0.0.1',
      '--ServerApp.open_browser=False',
      `--ServerApp.root_dir=${join(dir, 'root')}`,
      '--ServerApp.port_retries=0',
      '--no-browser',
      // CI and these dev machines run as root; the flag only silences Jupyter's refusal.
      ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
    ],
    {
      env: {
        ...process.env,
        JUPYTER_PATH: join(dir, 'data'),
        JUPYTER_DATA_DIR: join(dir, 'data'),
        JUPYTER_CONFIG_DIR: join(dir, 'config'),
        JUPYTER_RUNTIME_DIR: join(dir, 'runtime'),
        JUPYTER_PLATFORM_DIRS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-8000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const base = `http://127.0.0.1:${port}/`;
  await waitUp(`${base}api`, proc, () => output);
  return {
    base,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          proc.kill('SIGKILL');
          r(undefined);
        }, 5000);
        proc.once('exit', () => {
          clearTimeout(t);
          r(undefined);
        });
      });
    },
  };
}

export const suite: BenchSuite = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'peragus-bench-jupyter-'));
  const token = randomBytes(16).toString('hex');
  // The host's own kernel service: its /api kernels run in sandboxes of their own, as a user's do.
  const host = await createHost({
    home: join(dir, 'home'),
    poolSize: 0,
    resumePlans: false,
    runtime: 'local',
  });
  const ours = await startHostServer({
    port: 0,
    token,
    home: host.home,
    sessions: host.notebook.sessions,
    events: host.notebook.events,
    kernels: host.kernels,
    buildUi: false,
    log: () => {},
  });
  const theirs = await startJupyterServer(join(dir, 'jupyter'), token);
  try {
    // Alternate the order so warm caches / CPU frequency favour neither side.
    const oursFirst = await measure(ours.url, token, 'peragus-pysd');
    const theirsTimes = await measure(theirs.base, token, 'peragus-pysd');
    const oursSecond = await measure(ours.url, token, 'peragus-pysd');
    const oursTimes = [...oursFirst, ...oursSecond];
    const p50 = percentile(oursTimes, 50);
    const peer50 = percentile(theirsTimes, 50);
    const figures: BenchFigure[] = [
      versus('jupyterlab_services_execute_p50', 'ms', p50, 'jupyter_server', peer50, { goal: '<= 0.5' }),
      versus(
        'jupyterlab_services_execute_p90',
        'ms',
        percentile(oursTimes, 90),
        'jupyter_server',
        percentile(theirsTimes, 90),
      ),
    ];
    return figures;
  } finally {
    await theirs.stop();
    await ours.close();
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  }
};
