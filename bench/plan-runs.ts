// One measured run of a plan (`ours`: a fresh `peragus run` and home) or of a peer script
// (`peer`: EMA Workbench, papermill, Prefect from bench/peers), wall time and the CPU of every
// process it started; the plans the suites share (24 teacups, the same points for the peers).
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { asUser, unprivilegedPython } from '../tests/helpers/unprivileged.ts';
import { ContainerCpu } from './docker-cpu.ts';

const REPO = resolve(import.meta.dirname, '..');
export const KERNEL_PY = join(REPO, 'kernels/pysd/.venv/bin/python');
export const PEERS_PY = join(REPO, 'bench/peers/.venv/bin/python');
const models = process.env.PERAGUS_SD_TEST_MODELS ?? resolve(REPO, '..', 'shared', 'sd-test-models');
export const TEACUP = join(models, 'samples/teacup/teacup.mdl');
export const SIR = join(REPO, 'notebooks/models/sir.mdl');
const CT = [5, 7.5, 10, 12.5, 15, 17.5];
const RT = [60, 70, 80, 90];

export interface Measured {
  wall_s: number;
  cpu_s: number;
  /** "cgroup" (every process of the command) or "rusage" (only those reaped transitively). */
  cpu_source?: string;
  out: string;
  /** Docker only: the containers' cgroup CPU and dockerd/containerd's, inside cpu_s. */
  containers_s?: number;
  daemons_s?: number;
  /** Docker only: how many containers the run made (a warm pool's unused ones included). */
  containers_n?: number;
}

// Runs a command under a tiny Python parent that reports wall time and the CPU
// of every process the command started. Where the bench may make a cgroup (root,
// cgroup v1 cpuacct or v2), the command runs in one of its own and its usage
// counts every descendant, even those re-parented away (sandboxed node roles
// whose bubblewrap ended first, kernels forked by the zygote); otherwise
// RUSAGE_CHILDREN (only what was reaped transitively: an undercount).
const TIMER = String.raw`
import json, os, resource, subprocess, sys, time
cg = None
for base, stat in (("/sys/fs/cgroup/cpuacct", "cpuacct.usage"), ("/sys/fs/cgroup", "cpu.stat")):
    if cg is None and os.path.exists(os.path.join(base, "cgroup.procs")):
        try:
            d = os.path.join(base, "peragus-bench-%d" % os.getpid())
            os.mkdir(d)
            cg = (d, stat)
        except OSError:
            pass
def enter():
    if cg:
        with open(os.path.join(cg[0], "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
def usage():
    text = open(os.path.join(cg[0], cg[1])).read()
    if cg[1] == "cpuacct.usage":
        return int(text) / 1e9
    return int(dict(l.split() for l in text.splitlines())["usage_usec"]) / 1e6
t = time.perf_counter()
with open(sys.argv[1], "w") as out:
    code = subprocess.run(sys.argv[2:], stdout=out, preexec_fn=enter).returncode
wall = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu, source = r.ru_utime + r.ru_stime, "rusage"
if cg:
    time.sleep(0.5)  # let processes of the plan that were still ending go
    cpu, source = usage(), "cgroup"
    for _ in range(20):
        try:
            os.rmdir(cg[0])
            break
        except OSError:
            time.sleep(0.25)
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "cpu_source": source, "code": code}))
`;

function timed(cmd: string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs?: number): Promise<Measured> {
  const outFile = join(cwd, `out-${Date.now()}-${Math.random().toString(16).slice(2)}.txt`);
  return new Promise((ok, fail) => {
    const child = spawn(KERNEL_PY, ['-c', TIMER, outFile, ...cmd], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let timedOut = false;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            try {
              process.kill(-(child.pid as number), 'SIGKILL'); // the timer, the command and its workers
            } catch {
              // gone
            }
          }, timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.on('error', fail);
    child.on('close', () => {
      clearTimeout(timer);
      if (timedOut)
        return fail(new PeerTimeout(`${cmd.slice(0, 2).join(' ')} hung: killed after ${timeoutMs} ms`));
      try {
        const r = JSON.parse(stdout.trim().split('\n').pop() ?? '') as Measured & { code: number };
        const out = existsSync(outFile) ? readFileSync(outFile, 'utf8') : '';
        // `peragus run` exits 1 when an experiment failed; its JSON summary says which.
        const summary = r.code === 1 && out.trimStart().startsWith('{');
        if (r.code !== 0 && !summary) {
          return fail(new Error(`${cmd.join(' ')} exited ${r.code}: ${stderr} ${out.slice(-1000)}`));
        }
        ok({ wall_s: r.wall_s, cpu_s: r.cpu_s, cpu_source: r.cpu_source, out });
      } catch {
        fail(new Error(`timer failed: ${stdout} ${stderr}`));
      }
    });
  });
}

export interface PlanSummary {
  finished: number;
  total: number;
  wall_ms: number;
  experiments: { status: string; error?: string; compute_ms?: number }[];
}

/**
 * One `peragus run` of `plan`; with `uid`, as that user (a host that is not root, through setpriv;
 * its Peragus home and HOME a folder of its own, its Python one it can run).
 */
export async function ours(
  plan: Record<string, unknown>,
  runtime: 'local' | 'docker',
  { uid }: { uid?: number } = {},
): Promise<Measured & { summary: PlanSummary }> {
  const home = mkdtempSync(join(tmpdir(), 'pb-'));
  const file = join(home, 'plan.json');
  writeFileSync(file, JSON.stringify({ ...plan, runtime }));
  const cpu = runtime === 'docker' ? new ContainerCpu(home) : undefined;
  cpu?.start();
  const command = [process.execPath, join(REPO, 'bin/peragus.js'), 'run', file, '--json'];
  let env: NodeJS.ProcessEnv = { PERAGUS_HOME: home, PERAGUS_RUNTIME: runtime };
  if (uid !== undefined) {
    const own = join(home, 'user');
    mkdirSync(own);
    chownSync(own, uid, uid);
    chmodSync(home, 0o755);
    env = { ...env, HOME: own, PERAGUS_HOME: join(own, 'home'), PERAGUS_PYTHON: unprivilegedPython() };
  }
  try {
    const m = await timed(uid === undefined ? command : asUser(uid, command), env, home);
    const summary = JSON.parse(m.out) as PlanSummary;
    if (summary.finished !== summary.total) {
      const errors = [...new Set(summary.experiments.map((e) => e.error).filter(Boolean))];
      process.stderr.write(
        `[bench] plan (${runtime}): only ${summary.finished}/${summary.total} finished: ${errors.join(' | ').slice(0, 600)}\n`,
      );
    }
    const extra = cpu?.stop();
    return {
      ...m,
      cpu_s: m.cpu_s + (extra ? extra.containers + extra.daemons : 0),
      summary,
      ...(extra
        ? { containers_s: extra.containers, daemons_s: extra.daemons, containers_n: extra.count }
        : {}),
    };
  } finally {
    cpu?.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

class PeerTimeout extends Error {}

/** How long a peer run may take before it counts as hung (PERAGUS_BENCH_PEER_TIMEOUT_S, default 300). */
const PEER_TIMEOUT_MS = Number(process.env.PERAGUS_BENCH_PEER_TIMEOUT_S ?? 300) * 1000;
// EMA's runs take 2–15 s here, so its hang (below) is known after 2 minutes: one hung run in six
// used to hold a bench up for the full 5.
const EMA_TIMEOUT_MS = Math.min(PEER_TIMEOUT_MS, 120_000);

/**
 * Runs a peer once, or twice if the first run hangs: EMA Workbench's workers each translate the
 * model into the same .py beside it, and now and then one imports the other's half-written file
 * (`NameError: Component '__pysd_version__' not found`), after which its pool never returns.
 */
export async function peer(
  script: string,
  args: Record<string, unknown>,
  dir: string,
  {
    python = PEERS_PY,
    timeoutMs = script === 'ema_plan.py' ? EMA_TIMEOUT_MS : PEER_TIMEOUT_MS,
  }: { python?: string; timeoutMs?: number } = {},
): Promise<Measured> {
  const cmd = [python, join(REPO, 'bench/peers', script), JSON.stringify(args)];
  try {
    return await timed(cmd, {}, dir, timeoutMs);
  } catch (err) {
    if (!(err instanceof PeerTimeout)) throw err;
    process.stderr.write(`[bench] ${script}: ${err.message}; running it again\n`);
    return timed(cmd, {}, dir, timeoutMs);
  }
}

export const teacupPlan = (n = 24) => {
  const rt = RT.slice(0, Math.max(1, Math.min(RT.length, Math.ceil(n / CT.length))));
  const ct = Array.from(
    { length: Math.ceil(n / rt.length) },
    (_, i) => CT[i % CT.length]! + Math.floor(i / CT.length),
  );
  return {
    model: { source: TEACUP },
    experiment: { type: 'single', seed: 1, return_columns: ['Teacup Temperature'] },
    grid: { 'Characteristic Time': ct, 'Room Temperature': rt },
    parallel_limit: 2,
  };
};

export const points24 = CT.flatMap((c) => RT.map((r) => ({ characteristic_time: c, room_temperature: r })));

/** The 24 teacup points as EMA Workbench's peer script takes them (PySD's Python names). */
export const emaTeacup24 = { model: TEACUP, processes: 2, outcome: 'teacup_temperature', points: points24 };
/** The same as a notebook-per-point peer (papermill, Prefect) takes them (the model's names). */
export const notebookTeacup24 = {
  model: TEACUP,
  processes: 2,
  outcome: 'Teacup Temperature',
  points: points24,
};
