// The kernel zygote under the local sandbox (issue 10): each experiment's
// kernel is forked by the host's zygote and joins that experiment's
// bubblewrap sandbox (pid, mount, net, IPC, UTS namespaces; uid 10001, no
// capabilities, no_new_privs) before any experiment code runs. The zygote
// serves each sandbox on a socket of its own; the attacks below run for
// real from inside experiment A against experiment B and the host.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelProcess } from '../../notebook-server/src/kernel/launcher.ts';
import { startKernel } from '../../notebook-server/src/kernel/start.ts';
import {
  launchFromZygote,
  startZygote,
  type ZygoteRegistry,
} from '../../notebook-server/src/kernel/zygote.ts';
import { isAlive } from '../../notebook-server/src/proc/process.ts';
import { processTree, sandboxProcesses } from '../../notebook-server/src/runtime/local-process.ts';
import {
  EXPERIMENT_UID,
  localIsolation,
  ZYGOTE_SOCKET_INSIDE,
} from '../../notebook-server/src/sandbox/bwrap.ts';
import { startTestHost, type TestHost } from '../helpers/host.ts';
import { askZygote } from '../helpers/zygote.ts';

const check = localIsolation();
const root = process.getuid?.() === 0;
const why =
  check.isolation !== 'bubblewrap'
    ? `bubblewrap cannot sandbox here (${check.reason})`
    : root
      ? null
      : 'the zygote joins sandboxes only under a root host (a non-root host starts sandboxed kernels cold)';
if (why) {
  if (process.env.CI) throw new Error(`the zygote sandbox tests must run in CI, but ${why}`);
  process.stderr.write(`\n!!! zygote sandbox tests SKIPPED: ${why} !!!\n\n`);
}
const TOKEN = `token-${randomBytes(8).toString('hex')}`;

/** The live processes of the zygote's tree that run as `uid` (its forked kernels). */
function zygoteKernels(zygotePid: number, uid: number): number[] {
  return processTree(zygotePid).filter((pid) => {
    try {
      return /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] === String(uid);
    } catch {
      return false; // exited
    }
  });
}

// A client of the zygote protocol, run by experiment A's own kernel: one request, every answer line.
const client = (request: unknown) =>
  [
    'import json, socket',
    'c = socket.socket(socket.AF_UNIX)',
    `c.connect(${JSON.stringify(ZYGOTE_SOCKET_INSIDE)})`,
    `c.sendall(${JSON.stringify(JSON.stringify(request))}.encode() + b"\\n")`,
    'c.settimeout(60)',
    'buf = b""',
    'while True:',
    '    d = c.recv(65536)',
    '    if not d: break',
    '    buf += d',
    'print(buf.decode())',
  ].join('\n');

describe.skipIf(why !== null)('kernels forked by the zygote into the bubblewrap sandbox', () => {
  let t: TestHost;
  const a = { cid: '', work: '' };
  const b = { cid: '', work: '' };
  const savedToken = process.env.PERAGUS_TOKEN;
  const sh = async (cid: string, script: string) =>
    (await t.call('container_exec', { container_id: cid, cmd: ['sh', '-c', script] })) as {
      exit_code: number;
      stdout: string;
      stderr: string;
    };
  let aSession = '';
  /** One zygote request sent from inside experiment A (by its kernel); the answer lines. */
  const runInA = async (source: string) => {
    if (!aSession) {
      aSession = (await t.call('notebook_create', { name: 'attacker', container_id: a.cid }))
        .session_id as string;
    }
    const cell = await t.call('cell_add', { session_id: aSession, source, execute: true });
    const run = cell.run as { status: string; outputs: { text?: string }[] };
    expect(run.status, JSON.stringify(run.outputs)).toBe('ok');
    return run.outputs[0]?.text ?? '';
  };
  const askFromA = async (request: unknown) => {
    return (await runInA(client(request)))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { pid?: number; out?: string; exit?: number; error?: string });
  };

  const savedSessions = process.env.PERAGUS_LOCAL_SESSIONS;
  beforeAll(async () => {
    process.env.PERAGUS_TOKEN = TOKEN;
    // A node process in each sandbox serves the sessions here (the zygote's experiment sockets are
    // theirs); sessions the host serves itself are the last describe's.
    process.env.PERAGUS_LOCAL_SESSIONS = 'node';
    t = await startTestHost({ runtime: 'local' });
    for (const [x, id] of [
      [a, 'zyg-a'],
      [b, 'zyg-b'],
    ] as const) {
      const created = await t.call('container_create', { experiment_id: id });
      expect(created.isolation).toBe('bubblewrap');
      x.cid = created.container_id as string;
      x.work = created.work_dir as string;
    }
  }, 300_000);

  afterAll(async () => {
    if (savedToken === undefined) delete process.env.PERAGUS_TOKEN;
    else process.env.PERAGUS_TOKEN = savedToken;
    if (savedSessions === undefined) delete process.env.PERAGUS_LOCAL_SESSIONS;
    else process.env.PERAGUS_LOCAL_SESSIONS = savedSessions;
    await t?.close();
  });

  it('a notebook kernel is a zygote fork inside the sandbox: experiment user, no capabilities, no host view', async () => {
    writeFileSync(join(b.work, 'b-secret.txt'), 'B only');
    const code = [
      'import json, os, socket',
      "st = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)",
      "env = open('/proc/self/environ', 'rb').read().decode('latin-1')",
      'def tcp():',
      '    try:',
      "        socket.create_connection(('1.1.1.1', 53), 2); return 'connected'",
      '    except OSError as e:',
      '        return type(e).__name__',
      'def write_etc():',
      '    try:',
      "        open('/etc/peragus-zygote-pwned', 'w'); return 'written'",
      '    except OSError as e:',
      '        return type(e).__name__',
      `print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups(), 'caps': [st[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')], 'nnp': st['NoNewPrivs'].strip(), 'host': socket.gethostname(), 'b': os.path.exists(${JSON.stringify(b.work)}), 'hostpid': os.path.exists('/proc/${process.pid}'), 'token': '${TOKEN}' in env or '${TOKEN}' in json.dumps(dict(os.environ)), 'tcp': tcp(), 'etc': write_etc(), 'cwd': os.getcwd()}))`,
    ].join('\n');
    const nb = await t.call('notebook_create', { name: 'in-a', container_id: a.cid });
    const cell = await t.call('cell_add', { session_id: nb.session_id, source: code, execute: true });
    const run = cell.run as { status: string; outputs: { text?: string }[] };
    expect(run.status, JSON.stringify(run.outputs)).toBe('ok');
    const seen = JSON.parse(run.outputs[0]?.text ?? '{}');
    expect(seen).toMatchObject({
      uid: EXPERIMENT_UID,
      gid: EXPERIMENT_UID,
      groups: [],
      caps: [
        '0000000000000000',
        '0000000000000000',
        '0000000000000000',
        '0000000000000000',
        '0000000000000000',
      ],
      nnp: '1',
      host: 'peragus-experiment',
      b: false,
      hostpid: false,
      token: false,
      etc: expect.stringMatching(/OSError|PermissionError/),
      cwd: a.work,
    });
    expect(seen.tcp).not.toBe('connected');
    expect(existsSync('/etc/peragus-zygote-pwned')).toBe(false);
    // The kernel is the zygote's (not a cold process of the node), running as the experiment user.
    const local = t.host.containers.localRuntime();
    const zygote = await local.zygotePid();
    expect(zygote).toBeGreaterThan(0);
    const kernels = zygoteKernels(zygote as number, EXPERIMENT_UID);
    expect(kernels.length).toBeGreaterThan(0);
    // container_stats counts each forked kernel with its own sandbox (it is no descendant of the node):
    // A's notebook kernel with A, and none with both.
    const inSandbox = (x: { cid: string }) => {
      const record = JSON.parse(readFileSync(join(t.home, 'local-containers', `${x.cid}.json`), 'utf8'));
      return new Set(sandboxProcesses(record.pid as number));
    };
    const [ofA, ofB] = [inSandbox(a), inSandbox(b)];
    expect(kernels.filter((k) => ofA.has(k)).length).toBeGreaterThan(0);
    expect(kernels.filter((k) => ofA.has(k) === ofB.has(k))).toEqual([]);
  }, 300_000);

  it("refuses what the experiment's socket does not serve, and the host's own socket is not there", async () => {
    for (const request of [
      { task: 'plancheck', input: {} },
      { op: 'register', id: 'zyg-b', uid: 0, gid: 0 },
      { op: 'revoke', id: 'zyg-b' },
      // The host's own kernel request: from inside, not for A, not for B.
      { op: 'fork', id: b.cid, argv: [], cwd: '/' },
      { op: 'fork', id: a.cid, argv: [], cwd: '/' },
    ]) {
      const [answer] = await askFromA(request);
      expect(answer?.error).toMatch(/serves kernels only/);
    }
    const local = t.host.containers.localRuntime();
    const main = await local.zygoteSocket();
    expect(main).toBeTruthy();
    const seen = await runInA(
      `import os; print([os.path.exists(p) for p in ${JSON.stringify([main, `${main}.d`])}], os.listdir('/run/peragus'))`,
    );
    expect(seen.trim()).toBe("[False, False] ['kernel.sock']");
  }, 120_000);

  it("the host's own kernel for A is forked into A's sandbox, answers with its host pid and talks over ipc in A's work dir", async () => {
    const local = t.host.containers.localRuntime();
    const main = (await local.zygoteSocket()) as string;
    const record = JSON.parse(readFileSync(join(t.home, 'local-containers', `${a.cid}.json`), 'utf8'));
    const request = { argv: ['-f', '/tmp/none.json'], cwd: a.work, env: { PATH: '/usr/bin:/bin' } };
    // Only a registered experiment's sandbox, and only for kernels.
    for (const [bad, why] of [
      [{ op: 'fork', id: 'zyg-nobody', ...request }, /no experiment 'zyg-nobody' is registered for kernels/],
      [{ op: 'fork', id: a.cid, check: {}, ...request }, /forked only into a sandbox registered for it/],
    ] as const) {
      expect(await askZygote(main, bad)).toMatch(why);
    }
    // What a session the host serves does (app/hosted-sessions.ts): the connection file and the
    // ipc sockets in the work dir, the kernel forked on the host's request.
    let forked: KernelProcess | undefined;
    const kernel = await startKernel({
      workDir: a.work,
      heartbeat: false,
      inSandbox: {
        connection: { dir: '.host-kernel', owner: { uid: EXPERIMENT_UID, gid: EXPERIMENT_UID } },
        fork: (r) => {
          forked = launchFromZygote(main, { op: 'fork', id: a.cid, ...r });
          return forked;
        },
      },
    });
    try {
      const pid = forked?.pid as number;
      // The pid this host got is the kernel's here: a process of A's sandbox, as the experiment user.
      expect(sandboxProcesses(record.pid as number)).toContain(pid);
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(EXPERIMENT_UID));
      expect(/^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/)).toHaveLength(2);
      const seen = await kernel.execute(
        `import os, socket; print(os.getuid(), socket.gethostname(), os.path.exists('/proc/${process.pid}'), os.path.exists(${JSON.stringify(b.work)}), 'PERAGUS_TOKEN' in os.environ)`,
      );
      expect(seen.status).toBe('ok');
      expect(JSON.stringify(seen.outputs)).toContain(
        `${EXPERIMENT_UID} peragus-experiment False False False`,
      );
      // Its connection file is the experiment user's, readable by no one else.
      const file = kernel.connectionFile as string;
      expect(statSync(file).uid).toBe(EXPERIMENT_UID);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      await kernel.shutdown();
    }
    expect(forked?.hasExited).toBe(true);
  }, 120_000);

  it("a kernel asked for with B's work dir, a .. path or a link to B gets A's sandbox and never B's dir", async () => {
    await sh(a.cid, `ln -sfn ${b.work} link-to-b`);
    const before = readdirSync(b.work).sort();
    for (const cwd of [b.work, `${a.work}/../../zyg-b/work`, `${a.work}/link-to-b`]) {
      const answers = await askFromA({
        argv: ['-f', '/tmp/none.json'],
        cwd,
        env: { PATH: '/usr/bin:/bin', PERAGUS_WORK_DIR: b.work },
        // Fields a request might use to pick a sandbox: ignored.
        id: 'zyg-b',
        work_dir: b.work,
        uid: 0,
      });
      const out = answers.map((x) => x.out ?? '').join('');
      expect(answers[0]?.pid).toBeGreaterThan(0);
      expect(out, JSON.stringify(answers)).toMatch(/FileNotFoundError|No such file/);
      expect(answers.at(-1)?.exit).toBe(1);
    }
    expect(readdirSync(b.work).sort()).toEqual(before);
  }, 120_000);

  it("a kernel killed outright (the OOM killer's SIGKILL) takes no other experiment's kernel, nor the zygote, down", async () => {
    const local = t.host.containers.localRuntime();
    const zygote = (await local.zygotePid()) as number;
    const kernelOf = async (x: { cid: string }, name: string) => {
      const nb = await t.call('notebook_create', { name, container_id: x.cid });
      const cell = await t.call('cell_add', {
        session_id: nb.session_id,
        source: 'import os; print(os.getpid())',
        execute: true,
      });
      expect((cell.run as { status: string }).status).toBe('ok');
      const record = JSON.parse(readFileSync(join(t.home, 'local-containers', `${x.cid}.json`), 'utf8'));
      const mine = new Set(sandboxProcesses(record.pid as number));
      return {
        session: nb.session_id as string,
        pids: zygoteKernels(zygote, EXPERIMENT_UID).filter((k) => mine.has(k)),
      };
    };
    const victim = await kernelOf(a, 'victim');
    const bystander = await kernelOf(b, 'bystander');
    expect(victim.pids.length).toBeGreaterThan(0);
    expect(bystander.pids.length).toBeGreaterThan(0);
    // Each kills, over and over: a race between the kernel's death and its waiter was enough.
    for (const pid of victim.pids) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));

    // B's kernel is the same live process and still runs B's cells.
    expect(bystander.pids.filter((p) => existsSync(`/proc/${p}`))).toEqual(bystander.pids);
    const again = await t.call('cell_add', { session_id: bystander.session, source: '6 * 7', execute: true });
    expect((again.run as { status: string }).status).toBe('ok');
    expect(JSON.stringify(again.run)).toContain('42');
    // Kernels are forked while the zygote's children go to a sandbox's pid namespace: that is
    // undone after each fork (a kernel forked next must not land in A's or B's).
    expect(readlinkSync(`/proc/${zygote}/ns/pid_for_children`)).toBe(readlinkSync(`/proc/${zygote}/ns/pid`));
    // The zygote still serves: its socket is there, and a new experiment gets a forked kernel.
    const main = (await local.zygoteSocket()) as string;
    expect(existsSync(main)).toBe(true);
    const c = await t.call('container_create', { experiment_id: 'zyg-c' });
    try {
      const third = await kernelOf({ cid: c.container_id as string }, 'after');
      expect(third.pids.length).toBeGreaterThan(0);
    } finally {
      await t.call('container_destroy', { container_id: c.container_id, remove_work_dir: true });
    }
    // A's notebook says its kernel died (and how), rather than hanging.
    const dead = await t.client.callTool({
      name: 'cell_add',
      arguments: { session_id: victim.session, source: '1 + 1', execute: true },
    });
    expect(dead.isError).toBe(true);
    expect(JSON.stringify(dead.content)).toMatch(/kernel of session .* died; call restart\(\)/);
  }, 300_000);
});

describe.skipIf(why !== null)("the zygote's experiment sockets", () => {
  it('serve no one outside the sandbox, and nothing after revoke', async () => {
    const zygote = await startZygote();
    try {
      const owner = { uid: EXPERIMENT_UID, gid: EXPERIMENT_UID };
      const sock = await zygote.register('x', owner);
      await expect(zygote.register('x', owner)).rejects.toThrow(/already registered/);
      // Attached to a process that is no sandbox (this test process's parent): refused.
      await zygote.attach('x', process.ppid);
      expect(await askZygote(sock, { argv: [], cwd: '/' })).toMatch(/not a sandbox|no process inside/);
      await zygote.revoke('x');
      expect(existsSync(sock)).toBe(false);
      expect(await askZygote(sock, { argv: [], cwd: '/' })).toMatch(/^error: .*(ENOENT|ECONNREFUSED)/);
      await expect(zygote.attach('x', process.pid)).rejects.toThrow(/attach/);
    } finally {
      await zygote.close();
    }
  }, 180_000);

  it('the check server forks model checks only, and goes with its zygote, even one killed outright', async () => {
    const owner = { uid: EXPERIMENT_UID, gid: EXPERIMENT_UID };
    for (const end of ['close', 'SIGKILL'] as const) {
      let checks: ZygoteRegistry | undefined;
      const zygote = await startZygote({ onChecks: (c) => (checks = c) });
      const server = `${zygote.socketPath}.check`;
      try {
        expect(checks).toBeDefined();
        // A kernel's sandbox, or a kernel on its own socket: refused (the host's own socket, mode 0600).
        await expect(checks?.register('k', owner, 'kernel')).rejects.toThrow(
          /check sandboxes only, not 'kernel'/,
        );
        expect(await askZygote(server, { argv: [], cwd: '/' })).toMatch(
          /forks model checks only, never a kernel/,
        );
        expect(statSync(server).mode & 0o077).toBe(0); // its owner (the host) alone
        const sock = await checks?.register('c', owner, 'check');
        expect(statSync(sock as string).uid).toBe(EXPERIMENT_UID);
        // The check's socket outside a sandbox: nothing is forked.
        await checks?.attach('c', process.ppid);
        expect(await askZygote(sock as string, { check: {} })).toMatch(/not a sandbox|no process inside/);
      } finally {
        const served = processTree(zygote.pid).filter((pid) => pid !== zygote.pid);
        expect(served.length).toBe(1); // the check server, a child of the zygote
        if (end === 'SIGKILL') process.kill(zygote.pid, 'SIGKILL');
        else await zygote.close();
        const deadline = performance.now() + 10_000;
        while (served.some(isAlive) && performance.now() < deadline)
          await new Promise((r) => setTimeout(r, 50));
        expect(served.filter(isAlive), `the check server outlived its zygote (${end})`).toEqual([]);
        if (end === 'close') expect(existsSync(server)).toBe(false);
      }
    }
  }, 180_000);
});

describe.skipIf(why !== null)('an experiment whose sessions the host serves itself (the default)', () => {
  let t: TestHost;
  beforeAll(async () => {
    t = await startTestHost({ runtime: 'local' });
  }, 300_000);
  afterAll(async () => {
    await t?.close();
  });

  it("its sandbox holds the kernel alone: no node process, no zygote socket, its files the experiment user's", async () => {
    const created = await t.call('container_create', { experiment_id: 'hosted-a' });
    expect(created.isolation).toBe('bubblewrap');
    const cid = created.container_id as string;
    const work = created.work_dir as string;
    const nb = await t.call('notebook_create', { name: 'hosted', container_id: cid });
    const code = [
      'import json, os',
      "pids = [p for p in os.listdir('/proc') if p.isdigit()]",
      "cmds = sorted(open(f'/proc/{p}/cmdline', 'rb').read().split(b'\\0')[0].decode().rsplit('/', 1)[-1] for p in pids)",
      "print(json.dumps({'cmds': cmds, 'run': os.path.exists('/run/peragus'), 'uid': os.getuid(), 'zyg': [k for k in os.environ if 'ZYGOTE' in k], 'cwd': os.getcwd()}))",
    ].join('\n');
    const cell = await t.call('cell_add', { session_id: nb.session_id, source: code, execute: true });
    const run = cell.run as { status: string; outputs: { text?: string }[] };
    expect(run.status, JSON.stringify(run.outputs)).toBe('ok');
    const seen = JSON.parse(run.outputs[0]?.text ?? '{}');
    // bubblewrap's init, the holder (cat) and the kernel (python): nothing else, no node.
    expect(seen.cmds.filter((c: string) => c !== 'bwrap')).toEqual(['cat', 'python']);
    expect(seen).toMatchObject({ run: false, uid: EXPERIMENT_UID, zyg: [], cwd: work });
    // What the host wrote for the session is the experiment user's, as a node would have made it.
    for (const f of readdirSync(work).filter((n) => n.endsWith('.src.md') || n.endsWith('.outputs.json'))) {
      expect(statSync(join(work, f)).uid, f).toBe(EXPERIMENT_UID);
    }
    expect(statSync(join(work, '.peragus', 'sessions')).uid).toBe(EXPERIMENT_UID);
    // The container's health says its sessions are served (no endpoint socket to probe).
    const health = await t.call('container_health', { container_id: cid });
    expect(health).toMatchObject({ running: true, endpoint_reachable: true });
    await t.call('container_destroy', { container_id: cid, remove_work_dir: true });
    expect(existsSync(work)).toBe(false);
  }, 180_000);
});
