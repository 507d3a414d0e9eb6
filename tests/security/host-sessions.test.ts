// The kernels a host serves itself, outside any container: a notebook session made without
// container_id (an agent's, the browser's, the workbench's examples) and a Jupyter /api kernel.
// They ran a client's code as the host's own user (root here): it read and wrote the home and
// /etc, and reached the network. Each now runs in a sandbox of its own (app/session-kernels.ts)
// with an experiment's walls. The attacks run for real from the kernels.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHostServer } from '../../notebook-server/src/http/server.ts';
import { localIsolation, sandboxOwner } from '../../notebook-server/src/sandbox/bwrap.ts';
import { breakoutAttempt } from '../helpers/code-model.ts';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';
import { type Served, startServe } from '../helpers/serve.ts';
import { NOBODY, nobodyCanSandbox, unprivilegedPython } from '../helpers/unprivileged.ts';

const check = localIsolation();
const enabled = check.isolation === 'bubblewrap' && sandboxOwner() !== undefined;
if (!enabled) {
  const msg = `host kernels are sandboxed only by a root host where bubblewrap runs (${check.reason ?? 'not root'})`;
  if (process.env.CI) throw new Error(`the host-kernel sandbox tests must run in CI, but ${msg}`);
  process.stderr.write(`\n!!! host kernel sandbox tests SKIPPED: ${msg} !!!\n\n`);
}

const SECRET = `host-secret-${randomBytes(8).toString('hex')}`;

/** Python that tries to break out and prints what it managed, as one JSON line. */
function probe(targets: { write: string[]; read: string[] }): string {
  return [
    ...breakoutAttempt(targets.write),
    'import json',
    `read = [p for p in ${JSON.stringify(targets.read)} if os.access(p, os.R_OK)]`,
    `secret = any(${JSON.stringify(SECRET)} in v for v in os.environ.values())`,
    'print(json.dumps({"uid": os.getuid(), "wrote": wrote, "read": read, "net": net == "yes", "secret": secret, "cwd": os.getcwd()}))',
  ].join('\n');
}

/** Processes whose working directory is `dir` (the kernel and its sandbox's holder). */
function processesIn(dir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readlinkSync(`/proc/${p}/cwd`) === dir;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe.skipIf(!enabled)('the kernels a host serves itself run sandboxed', () => {
  let t: TestHost;
  let targets: { write: string[]; read: string[] };
  let otherWorkDir = '';

  beforeAll(async () => {
    process.env.PERAGUS_TEST_HOST_SECRET = SECRET;
    t = await startTestHost();
    const other = await t.call('notebook_create', { name: 'other', experiment_id: 'other-exp' });
    otherWorkDir = other.work_dir as string;
    writeFileSync(join(otherWorkDir, 'private.csv'), 'a,b\n1,2\n');
    const planted = `peragus-planted-${randomBytes(4).toString('hex')}`;
    targets = {
      write: [t.home, otherWorkDir, REPO, '/etc', '/root'].map((dir) => join(dir, planted)),
      read: [join(t.home, 'catalog.duckdb'), join(otherWorkDir, 'private.csv'), '/etc/shadow'],
    };
  }, 120_000);

  afterAll(async () => {
    delete process.env.PERAGUS_TEST_HOST_SECRET;
    await t?.close();
  });

  async function run(sessionId: string, code: string): Promise<Json> {
    const cell = await t.call('cell_add', { session_id: sessionId, source: code, execute: true });
    const out = cell.run as { status: string; outputs: { text?: string }[] };
    expect(out.status).toBe('ok');
    return JSON.parse(
      out.outputs
        .map((o) => o.text ?? '')
        .join('')
        .trim(),
    ) as Json;
  }

  it("an agent's notebook without a container: the sandbox user, its own folder only, no network", async () => {
    const nb = await t.call('notebook_create', { name: 'agent', experiment_id: 'agent-exp' });
    const workDir = nb.work_dir as string;
    const seen = await run(
      nb.session_id as string,
      probe({ ...targets, write: [...targets.write, 'mine.txt'] }),
    );
    expect(seen).toEqual({
      uid: sandboxOwner()?.uid,
      wrote: ['mine.txt'],
      read: [],
      net: false,
      secret: false,
      cwd: workDir,
    });
    // What it may write is its work dir, where the host finds it.
    expect(existsSync(join(workDir, 'mine.txt'))).toBe(true);
    for (const p of targets.write) expect(existsSync(p)).toBe(false);
  }, 180_000);

  it('a restarted kernel comes back in the sandbox; deleting the session ends the sandbox', async () => {
    const nb = await t.call('notebook_create', { name: 'restart', experiment_id: 'restart-exp' });
    const sid = nb.session_id as string;
    const workDir = nb.work_dir as string;
    await run(sid, 'print("{}")');
    expect(processesIn(workDir).length).toBeGreaterThanOrEqual(2); // the holder and the kernel
    await t.call('notebook_restart', { session_id: sid });
    const seen = await run(sid, probe(targets));
    expect(seen).toMatchObject({ uid: sandboxOwner()?.uid, wrote: [], read: [], net: false });
    await t.call('notebook_delete', { session_id: sid });
    const deadline = Date.now() + 10_000;
    while (processesIn(workDir).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(processesIn(workDir)).toEqual([]);
  }, 180_000);

  it("a link planted at the work dir's .peragus is refused at the next start, never chowned or written through", async () => {
    const victim = mkdtempSync(join(tmpdir(), 'peragus-victim-'));
    writeFileSync(join(victim, 'keep'), 'host file\n');
    const before = statSync(victim);
    const nb = await t.call('notebook_create', { name: 'planter', experiment_id: 'planter-exp' });
    const sid = nb.session_id as string;
    const workDir = nb.work_dir as string;
    await run(sid, 'print("{}")');
    // The link's target need not exist inside the sandbox: the host is what it would fool.
    const planted = await t.callError('cell_add', {
      session_id: sid,
      source: `import shutil, os\nshutil.rmtree('.peragus/kernels', ignore_errors=True)\nos.rename('.peragus', 'old')\nos.symlink(${JSON.stringify(victim)}, '.peragus')\nprint('{}')`,
      execute: true,
    });
    // The cell ran; its save refused the link (and names the fix).
    expect(planted).toMatch(/"\.peragus" is a symbolic link, and the host never follows links/);
    const restarted = await t.callError('notebook_restart', { session_id: sid });
    expect(restarted).toMatch(
      /the folder of its kernel files ".peragus": ".peragus" is a symbolic link, and the host never follows links in the session.s work dir; remove the link/,
    );
    const after = statSync(victim);
    expect({ uid: after.uid, gid: after.gid, mode: after.mode }).toEqual({
      uid: before.uid,
      gid: before.gid,
      mode: before.mode,
    });
    expect(readdirSync(victim)).toEqual(['keep']);
    expect(readlinkSync(join(workDir, '.peragus'))).toBe(victim);
    rmSync(victim, { recursive: true, force: true });
  }, 180_000);

  it('a Jupyter /api kernel of its own is sandboxed the same way', async () => {
    const info = await t.host.kernels.start();
    try {
      const kernel = await t.host.kernels.ensure(info.id);
      const result = await kernel.execute(probe(targets));
      expect(result.status).toBe('ok');
      const text = result.outputs.map((o) => ('text' in o ? String(o.text) : '')).join('');
      expect(JSON.parse(text.trim())).toMatchObject({
        uid: sandboxOwner()?.uid,
        wrote: [],
        read: [],
        net: false,
        secret: false,
        cwd: join(t.home, 'jupyter'),
      });
    } finally {
      await t.host.kernels.shutdown(info.id);
    }
    for (const p of targets.write) expect(existsSync(p)).toBe(false);
    expect(readFileSync(join(otherWorkDir, 'private.csv'), 'utf8')).toBe('a,b\n1,2\n');
  }, 180_000);

  it('`peragus rerun` without a host replays a notebook in a sandbox of its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peragus-rerun-probe-'));
    const home = mkdtempSync(join(tmpdir(), 'peragus-rerun-probe-home-'));
    try {
      const code = `${probe(targets).replace(/print\((json\.dumps\(.*\))\)$/, "open('probe.json', 'w').write($1)")}`;
      const nb = join(dir, 'probe.src.md');
      const fence = '```';
      writeFileSync(
        nb,
        `<!-- srcbook:{"language":"python"} -->\n\n# Probe\n\n<!-- cell:{"id":"probe"} -->\n###### probe.py\n\n${fence}python\n${code}\n${fence}\n`,
      );
      const res = spawnSync(
        process.execPath,
        [join(REPO, 'bin/peragus.js'), 'rerun', nb, '--keep', '--json'],
        {
          env: { ...process.env, PERAGUS_HOME: home },
          encoding: 'utf8',
          timeout: 300_000,
        },
      );
      // Nothing to compare (no artifact), so the exit is 1; what matters is where the code ran.
      const report = JSON.parse(res.stdout) as { where: string };
      const seen = JSON.parse(readFileSync(join(report.where, 'probe.json'), 'utf8')) as Json;
      rmSync(report.where, { recursive: true, force: true });
      expect(seen).toMatchObject({
        uid: sandboxOwner()?.uid,
        wrote: [],
        read: [],
        net: false,
        secret: false,
      });
      expect(res.stderr).not.toContain('unsandboxed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
    for (const p of targets.write) expect(existsSync(p)).toBe(false);
  }, 300_000);

  it('with the kernel zygote off, a kernel starts cold in a sandbox of its own, as the sandbox user', async () => {
    process.env.PERAGUS_KERNEL_ZYGOTE = '0';
    const cold = await startTestHost();
    try {
      const nb = await cold.call('notebook_create', { name: 'cold', experiment_id: 'cold-exp' });
      const sid = nb.session_id as string;
      const cell = await cold.call('cell_add', { session_id: sid, source: probe(targets), execute: true });
      const out = cell.run as { status: string; outputs: { text?: string }[] };
      expect(JSON.parse(out.outputs.map((o) => o.text ?? '').join(''))).toMatchObject({
        uid: sandboxOwner()?.uid,
        wrote: [],
        read: [],
        net: false,
      });
      // Cold: no zygote was started for it.
      expect(await cold.host.containers.localRuntime().zygotePid()).toBeUndefined();
    } finally {
      delete process.env.PERAGUS_KERNEL_ZYGOTE;
      await cold.close();
    }
  }, 180_000);

  it("the browser's example notebook runs in its sandbox, its models the sandbox user's", async () => {
    const token = randomBytes(8).toString('hex');
    const server = await startHostServer({
      sessions: t.host.notebook.sessions,
      events: t.host.notebook.events,
      token,
      home: t.home,
      port: 0,
      buildUi: false,
      log: () => {},
    });
    try {
      const res = await fetch(new URL('/ui-api/examples/notebooks/teacup-sweep.src.md/open', server.url), {
        method: 'POST',
        headers: { Authorization: `token ${token}` },
      });
      expect(res.status).toBe(201);
      const { session_id } = (await res.json()) as { session_id: string };
      const ran = await t.call('cell_execute', { session_id, cell_id: 'all' });
      const runs = ran.runs as { cell_id: string; status: string; error?: { evalue?: string } }[];
      expect(runs.filter((r) => r.status !== 'ok')).toEqual([]);
      expect(runs.length).toBeGreaterThanOrEqual(3);
      const seen = await run(session_id, probe({ ...targets, write: [...targets.write, 'models/mine.mdl'] }));
      expect(seen).toMatchObject({
        uid: sandboxOwner()?.uid,
        wrote: ['models/mine.mdl'],
        read: [],
        net: false,
      });
    } finally {
      await server.close();
    }
  }, 300_000);
});

// A host that is not root: its kernels run as its user, in the sandbox's user namespaces.
const nobodyBwrap = nobodyCanSandbox();
if (enabled && !nobodyBwrap) {
  const msg = 'bubblewrap does not run for an unprivileged user here (user namespaces)';
  if (process.env.CI) throw new Error(`the non-root host-kernel test must run in CI, but ${msg}`);
  process.stderr.write(`\n!!! non-root host kernel test SKIPPED: ${msg} !!!\n\n`);
}

describe.skipIf(!nobodyBwrap)('the kernels of a host that is not root', () => {
  let served: Served;
  let client: Client;
  beforeAll(async () => {
    served = await startServe(
      { PERAGUS_POOL_SIZE: '0', PERAGUS_PYTHON: unprivilegedPython() },
      { uid: NOBODY },
    );
    client = new Client({ name: 'nonroot', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(served.mcpUrl), {
        requestInit: { headers: { Authorization: `Bearer ${served.token}` } },
      }),
    );
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    await served?.stop();
  });

  async function call(name: string, args: Json): Promise<Json> {
    const r = await client.callTool({ name, arguments: args }, undefined, { timeout: 300_000 });
    if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
    return r.structuredContent as Json;
  }

  it('run sandboxed as the host user: its own folder only, no network; an interrupt stops a cell, not the kernel', async () => {
    const other = await call('notebook_create', { name: 'other', experiment_id: 'other-exp' });
    const nb = await call('notebook_create', { name: 'nonroot', experiment_id: 'nonroot-exp' });
    const sid = nb.session_id as string;
    const planted = `peragus-planted-${randomBytes(4).toString('hex')}`;
    const write = [other.work_dir as string, REPO, '/etc'].map((d) => join(d, planted));
    // The host's /tmp and the home (where the host user may write) are the sandbox's own tmpfs
    // mounts there: a write lands in the sandbox, so only the host's side tells.
    const privateTmp = [served.home, '/tmp'].map((d) => join(d, planted));
    const cell = await call('cell_add', {
      session_id: sid,
      source: probe({
        write: [...write, ...privateTmp, 'mine.txt'],
        read: [join(served.home, 'home/catalog.duckdb')],
      }),
      execute: true,
    });
    const out = cell.run as { status: string; outputs: { text?: string }[] };
    expect(out.status).toBe('ok');
    const seen = JSON.parse(
      out.outputs
        .map((o) => o.text ?? '')
        .join('')
        .trim(),
    ) as Json & { wrote: string[] };
    expect({ ...seen, wrote: seen.wrote.filter((p) => !privateTmp.includes(p)) }).toEqual({
      uid: NOBODY,
      wrote: ['mine.txt'],
      read: [],
      net: false,
      secret: false,
      cwd: nb.work_dir,
    });
    expect(existsSync(join(nb.work_dir as string, 'mine.txt'))).toBe(true);
    for (const p of privateTmp) expect(existsSync(p)).toBe(false);
    for (const p of write) expect(existsSync(p)).toBe(false);
    // Forked by the host's zygote (outside the sandbox's pid namespace: its parent reads as 0), with
    // no capability left from the user namespaces it joined: it cannot undo the sandbox's mounts.
    const forked = await call('cell_add', {
      session_id: sid,
      source: [
        'import ctypes, json, os',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)',
        'caps = {k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")}',
        'undone = [p for p in ("/home", "/root", "/tmp") if libc.umount2(p.encode(), 2) == 0]',
        'remounted = libc.mount(b"none", b"/", None, 0x20 | 0x1000, None) == 0', // MS_REMOUNT|MS_BIND, rw
        'print(json.dumps({"ppid": os.getppid(), "caps": caps, "undone": undone, "remounted": remounted}))',
      ].join('\n'),
      execute: true,
    });
    const inside = JSON.parse(
      (forked.run as { outputs: { text?: string }[] }).outputs.map((o) => o.text ?? '').join(''),
    ) as Json;
    const none = '0000000000000000';
    expect(inside).toEqual({
      ppid: 0,
      caps: { CapInh: none, CapPrm: none, CapEff: none, CapBnd: none, CapAmb: none, NoNewPrivs: '1' },
      undone: [],
      remounted: false,
    });
    // Only root makes cgroups: the host says at start that its experiments' caps are not enforced.
    expect(served.stderr()).toMatch(/CPU, memory and pids caps are not enforced \(the host is not root/);

    // Interrupted, the sleeping cell ends with KeyboardInterrupt and the same kernel runs on.
    const pid = await call('cell_add', { session_id: sid, source: 'import os\nos.getpid()', execute: true });
    const before = (pid.run as { outputs: { text?: string }[] }).outputs[0]?.text;
    const sleeping = await call('cell_add', { session_id: sid, source: 'import time\ntime.sleep(120)' });
    const running = client.callTool(
      { name: 'cell_execute', arguments: { session_id: sid, cell_id: sleeping.cell_id } },
      undefined,
      { timeout: 300_000 },
    );
    await new Promise((r) => setTimeout(r, 1_500));
    await call('cell_interrupt', { session_id: sid });
    const ended = (await running).structuredContent as {
      runs: { status: string; error?: { ename: string } }[];
    };
    expect(ended.runs[0]).toMatchObject({ status: 'error', error: { ename: 'KeyboardInterrupt' } });
    const again = await call('cell_add', { session_id: sid, source: 'os.getpid()', execute: true });
    expect((again.run as { outputs: { text?: string }[] }).outputs[0]?.text).toBe(before);
  }, 300_000);

  it("an experiment's kernel is forked into its own sandbox too: the host user, its volume only, no capability", async () => {
    const made = await call('container_create', { experiment_id: 'nonroot-box' });
    expect(made).toMatchObject({ isolation: 'bubblewrap', caps: { enforced: false } });
    const other = await call('notebook_create', { name: 'neighbour', experiment_id: 'nonroot-other' });
    const nb = await call('notebook_create', { name: 'boxed', container_id: made.container_id });
    const planted = `peragus-planted-${randomBytes(4).toString('hex')}`;
    const write = [other.work_dir as string, REPO, '/etc'].map((d) => join(d, planted));
    const cell = await call('cell_add', {
      session_id: nb.session_id,
      source: [
        probe({ write: [...write, 'mine.txt'], read: [join(served.home, 'home/catalog.duckdb')] }),
        'status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)',
        'print(json.dumps({"ppid": os.getppid(), "eff": status["CapEff"].strip(), "bnd": status["CapBnd"].strip()}))',
      ].join('\n'),
      execute: true,
    });
    const out = cell.run as { status: string; outputs: { text?: string }[] };
    expect(out.status).toBe('ok');
    const [seen, proc] = out.outputs
      .map((o) => o.text ?? '')
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json);
    expect(seen).toMatchObject({ uid: NOBODY, wrote: ['mine.txt'], read: [], net: false, secret: false });
    expect(proc).toEqual({ ppid: 0, eff: '0000000000000000', bnd: '0000000000000000' });
    for (const p of write) expect(existsSync(p)).toBe(false);
    await call('container_destroy', { container_id: made.container_id });
  }, 300_000);

  it("runs a plan: its model check and its two experiments, each in a sandbox of the host user's", async () => {
    const content = readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8');
    const done = await call('experiment_plan_run', {
      model: { source: 'sir.mdl', content },
      experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
      targets: [{ 'Contact Rate': 4 }, { 'Contact Rate': 8 }],
      parallel_limit: 2,
      runtime: 'local',
      wait: true,
    });
    expect(done).toMatchObject({ finished: 2, total: 2 });
  }, 300_000);
});
