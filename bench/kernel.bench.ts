// Kernel bridge benchmark: trivial-cell round trip through our KernelClient vs
// Python jupyter_client (BlockingKernelClient) against the same kind of
// ipykernel, in the same run, plus session-ready time warm (pool) vs cold.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import {
  defaultKernelSpecPath,
  KernelPool,
  resolvePython,
  startKernel,
} from '../notebook-server/src/kernel/index.ts';
import { type BenchFigure, type BenchSuite, median, percentile } from './lib.ts';

const ROUNDS = 10;
const PER_ROUND = 100;
const WARMUP = 50;
const WARM_SAMPLES = 12;
const COLD_SAMPLES = 5;

// The peer: jupyter_client's KernelManager + BlockingKernelClient, the way a
// Python program would use them. Waits for execute_reply, then the iopub idle
// of the same request (the same completion rule as ours). Driven over stdin so
// both clients can be measured in interleaved rounds.
const PEER = `
import json, sys, time
from jupyter_client.manager import KernelManager

def start():
    km = KernelManager(kernel_name="peragus-pysd")
    km.start_kernel(cwd=sys.argv[1])
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    return km, kc

def once(kc, code):
    t0 = time.perf_counter()
    msg_id = kc.execute(code)
    while kc.get_shell_msg(timeout=60)["parent_header"].get("msg_id") != msg_id:
        pass
    while True:
        m = kc.get_iopub_msg(timeout=60)
        if (m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "status"
                and m["content"]["execution_state"] == "idle"):
            break
    return (time.perf_counter() - t0) * 1000

km, kc = start()
print(json.dumps("ready"), flush=True)
for line in sys.stdin:
    cmd, n = line.split()
    if cmd == "run":
        out = [once(kc, "1+1") for _ in range(int(n))]
    elif cmd == "cold":
        out = []
        for _ in range(int(n)):
            t0 = time.perf_counter()
            k2, c2 = start()
            out.append((time.perf_counter() - t0) * 1000)
            c2.stop_channels()
            k2.shutdown_kernel(now=True)
    else:
        break
    print(json.dumps(out), flush=True)
kc.stop_channels()
km.shutdown_kernel(now=True)
`;

class Peer {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly pending: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private stderr = '';

  constructor(workDir: string, jupyterPath: string) {
    this.proc = spawn(resolvePython(), ['-c', PEER, workDir], {
      env: { ...process.env, JUPYTER_PATH: jupyterPath },
    });
    this.proc.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.lines = createInterface({ input: this.proc.stdout });
    this.lines.on('line', (l) => this.pending.shift()?.resolve(l));
    this.proc.on('exit', () => {
      for (const p of this.pending.splice(0)) p.reject(new Error(`peer exited:\n${this.stderr}`));
    });
  }

  private next(): Promise<string> {
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  ready(): Promise<string> {
    return this.next();
  }

  async command(cmd: string, n: number): Promise<number[]> {
    const reply = this.next();
    this.proc.stdin.write(`${cmd} ${n}\n`);
    return JSON.parse(await reply) as number[];
  }

  async close(): Promise<void> {
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stdin.end('quit 0\n');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    this.proc.kill('SIGKILL');
  }
}

/** Our kernelspec with {python} resolved, installed where jupyter_client looks (JUPYTER_PATH). */
function peerKernelspec(root: string): string {
  const spec = JSON.parse(readFileSync(defaultKernelSpecPath(), 'utf8')) as { argv: string[] };
  spec.argv = spec.argv.map((a) => (a === '{python}' ? resolvePython() : a));
  const dir = join(root, 'jupyter', 'kernels', 'peragus-pysd');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'kernel.json'), JSON.stringify(spec));
  return join(root, 'jupyter');
}

const ms = (t0: number) => performance.now() - t0;
const round3 = (v: number) => Math.round(v * 1000) / 1000;

export const suite: BenchSuite = async () => {
  const root = mkdtempSync(join(tmpdir(), 'peragus-bench-kernel-'));
  const workDir = join(root, 'work');
  mkdirSync(workDir);
  const figures: BenchFigure[] = [];
  const peer = new Peer(workDir, peerKernelspec(root));
  const ours = await startKernel({ workDir });
  try {
    await peer.ready();

    // Round trip, interleaved in rounds so machine noise hits both alike.
    const oursRun = async (n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await ours.execute('1+1');
        out.push(ms(t0));
      }
      return out;
    };
    await oursRun(WARMUP);
    await peer.command('run', WARMUP);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      a.push(...(await oursRun(PER_ROUND)));
      b.push(...(await peer.command('run', PER_ROUND)));
    }
    for (const p of [50, 99]) {
      const v = percentile(a, p);
      const pv = percentile(b, p);
      figures.push({
        name: `execute_roundtrip_p${p}`,
        value: round3(v),
        unit: 'ms',
        peer: 'jupyter_client',
        peer_value: round3(pv),
        ratio: round3(v / pv),
        goal: '<= 1.0',
      });
    }
    await ours.shutdown();

    // Warm: a full pool, acquire() into a work dir (chdir included).
    const pool = new KernelPool({ size: 2 });
    const warm: number[] = [];
    try {
      for (let i = 0; i < WARM_SAMPLES; i++) {
        await pool.whenFull();
        const t0 = performance.now();
        const k = await pool.acquire({ workDir });
        warm.push(ms(t0));
        await k.shutdown();
      }
    } finally {
      await pool.shutdown();
    }
    figures.push({
      name: 'warm_session_ready_p50',
      value: round3(median(warm)),
      unit: 'ms',
      goal: '<= 50 ms',
    });

    // Cold: a fresh process until ready, ours vs jupyter_client's KernelManager.
    // Alternating, like the round trips, so load from elsewhere hits both alike.
    const cold: number[] = [];
    const peerCold: number[] = [];
    for (let i = 0; i < COLD_SAMPLES; i++) {
      const t0 = performance.now();
      const k = await startKernel({ workDir });
      cold.push(ms(t0));
      await k.shutdown();
      peerCold.push(...(await peer.command('cold', 1)));
    }
    const c = median(cold);
    const pc = median(peerCold);
    figures.push({
      name: 'cold_session_ready_p50',
      value: round3(c),
      unit: 'ms',
      peer: 'jupyter_client',
      peer_value: round3(pc),
      ratio: round3(c / pc),
    });
  } finally {
    await ours.shutdown();
    await peer.close();
    rmSync(root, { recursive: true, force: true });
  }
  return figures;
};
