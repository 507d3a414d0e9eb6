// Kernel bridge benchmark: trivial-cell round trip through our KernelClient vs
// Python jupyter_client (BlockingKernelClient) against the same kind of
// ipykernel, in the same run, plus session-ready time warm (pool) vs cold.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { KernelClient } from '../notebook-server/src/kernel/client.ts';
import { createConnectionFile } from '../notebook-server/src/kernel/connection.ts';
import { defaultKernelSpecPath, resolvePython } from '../notebook-server/src/kernel/launcher.ts';
import { KernelPool } from '../notebook-server/src/kernel/pool.ts';
import { startKernel } from '../notebook-server/src/kernel/start.ts';
import { type BenchFigure, type BenchSuite, median, percentile, r3, versus } from './lib.ts';

const ROUNDS = 50;
const PER_ROUND = 20;
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
stub = None
print(json.dumps("ready"), flush=True)
for line in sys.stdin:
    cmd, n, *rest = line.split()
    if cmd == "run":
        out = [once(kc, "1+1") for _ in range(int(n))]
    elif cmd == "stub":
        if stub is None:
            from jupyter_client.blocking import BlockingKernelClient
            stub = BlockingKernelClient(connection_file=rest[0])
            stub.load_connection_file()
            stub.start_channels()
            time.sleep(0.5)
        out = [once(stub, "1+1") for _ in range(int(n))]
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

// A stand-in kernel that answers at once (busy, execute_input, execute_result,
// execute_reply, idle), so a round trip against it is client overhead only.
const STUB_KERNEL = `
import json, sys, zmq
from jupyter_client.session import Session
cfg = json.load(open(sys.argv[1]))
ctx = zmq.Context()
session = Session(key=cfg["key"].encode())
def bind(kind, port):
    sock = ctx.socket(kind)
    sock.bind("tcp://127.0.0.1:%d" % port)
    return sock
shell, iopub, hb = bind(zmq.ROUTER, cfg["shell_port"]), bind(zmq.PUB, cfg["iopub_port"]), bind(zmq.REP, cfg["hb_port"])
control, stdin = bind(zmq.ROUTER, cfg["control_port"]), bind(zmq.ROUTER, cfg["stdin_port"])
poller = zmq.Poller()
for sock in (shell, control, hb):
    poller.register(sock, zmq.POLLIN)
count = 0
while True:
    for sock, _ in poller.poll():
        if sock is hb:
            hb.send(hb.recv())
            continue
        idents, msg = session.recv(sock, copy=True)
        kind = msg["header"]["msg_type"]
        if kind == "shutdown_request":
            sys.exit(0)
        session.send(iopub, "status", {"execution_state": "busy"}, parent=msg)
        if kind == "kernel_info_request":
            info = {"status": "ok", "protocol_version": "5.3", "language_info": {"name": "python"}}
            session.send(sock, "kernel_info_reply", info, parent=msg, ident=idents)
        elif kind == "execute_request":
            count += 1
            session.send(iopub, "execute_input", {"code": msg["content"]["code"], "execution_count": count}, parent=msg)
            result = {"execution_count": count, "data": {"text/plain": "2"}, "metadata": {}}
            session.send(iopub, "execute_result", result, parent=msg)
            reply = {"status": "ok", "execution_count": count, "user_expressions": {}}
            session.send(sock, "execute_reply", reply, parent=msg, ident=idents)
        session.send(iopub, "status", {"execution_state": "idle"}, parent=msg)
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

  async command(cmd: string, n: number, arg = ''): Promise<number[]> {
    const reply = this.next();
    this.proc.stdin.write(`${cmd} ${n} ${arg}\n`);
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
      figures.push(versus(`execute_roundtrip_p${p}`, 'ms', v, 'jupyter_client', pv, { goal: '<= 1.0' }));
    }
    await ours.shutdown();

    // Client overhead alone: both clients against the stub kernel.
    const stubFile = await createConnectionFile();
    const stub = spawn(resolvePython(), ['-c', STUB_KERNEL, stubFile.path], { stdio: 'ignore' });
    const stubClient = new KernelClient({ connection: stubFile, heartbeat: false });
    try {
      await stubClient.waitReady(30_000);
      const stubRun = async (n: number) => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await stubClient.execute('1+1');
          out.push(ms(t0));
        }
        return out;
      };
      await stubRun(WARMUP);
      await peer.command('stub', WARMUP, stubFile.path);
      const sa: number[] = [];
      const sb: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        sa.push(...(await stubRun(PER_ROUND)));
        sb.push(...(await peer.command('stub', PER_ROUND, stubFile.path)));
      }
      const v = median(sa);
      const pv = median(sb);
      figures.push(versus('client_overhead_p50', 'ms', v, 'jupyter_client', pv, { goal: '<= 1.0' }));
    } finally {
      stub.kill('SIGKILL');
      await stubClient.shutdown();
    }

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
      value: r3(median(warm)),
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
    figures.push(versus('cold_session_ready_p50', 'ms', c, 'jupyter_client', pc));
  } finally {
    await ours.shutdown();
    await peer.close();
    rmSync(root, { recursive: true, force: true });
  }
  return figures;
};
