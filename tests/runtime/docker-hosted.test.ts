// A Docker experiment whose sessions the host serves (PERAGUS_DOCKER_SESSIONS=host, the default),
// its kernel forked by the shared zygote into the container (PERAGUS_DOCKER_ZYGOTE=shared, the
// default) or by the container's own zygote ("container"): no node role in the container; the
// kernel has the container's user, namespaces, cgroups and seccomp filter, and no capabilities;
// interrupts and restarts reach it; a link planted at the container's zygote socket is refused.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host } from '../../notebook-server/src/app/host.ts';
import { containerProcesses, dockerTestsEnabled } from '../helpers/docker.ts';
import { startTestHost, type TestHost } from '../helpers/host.ts';

const withDocker = dockerTestsEnabled();

let t: TestHost;

/** The command lines of the container's processes, as the host's ps sees them. */
function processesOf(containerId: string): string[] {
  return containerProcesses(containerId).map((p) => p.args);
}

/** The running shared zygote container of the host whose home is `home`. */
function sharedZygoteOf(home: string): string | undefined {
  return execFileSync('docker', ['ps', '-q', '--no-trunc', '--filter', 'label=peragus.role=zygote'], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean)
    .find((id) =>
      execFileSync('docker', ['inspect', '-f', '{{index .Config.Labels "peragus.work_dir"}}', id], {
        encoding: 'utf8',
      }).startsWith(`${home}/`),
    );
}

/** The host pids of the container's processes. */
function processPids(containerId: string): number[] {
  return containerProcesses(containerId).map((p) => p.pid);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

type Run = { status: string; outputs: { text?: string; ename?: string }[] };

async function cell(sid: string, source: string, timeoutMs?: number): Promise<Run> {
  const added = await t.call('cell_add', { session_id: sid, source });
  const executed = await t.call('cell_execute', {
    session_id: sid,
    cell_id: added.cell_id,
    ...(timeoutMs ? { timeout_ms: timeoutMs } : {}),
  });
  const runs = (executed.runs ?? [executed.run ?? executed]) as Run[];
  return runs[0] as Run;
}

const text = (run: Run) => run.outputs.map((o) => o.text ?? o.ename ?? '').join('');

// The shared zygote needs a root host (elsewhere the runtime gives each container its own).
const ways = process.getuid?.() === 0 ? (['shared', 'container'] as const) : (['container'] as const);

describe.runIf(withDocker).each(ways)('Docker sessions served by the host (zygote: %s)', (zygote) => {
  let cid: string;
  let sid: string;
  let saved: string | undefined;

  beforeAll(async () => {
    // Read when the host makes its Docker runtime (at the first create); restored in afterAll.
    saved = process.env.PERAGUS_DOCKER_ZYGOTE;
    process.env.PERAGUS_DOCKER_ZYGOTE = zygote;
    t = await startTestHost({ runtime: 'docker' });
  });

  afterAll(async () => {
    await t?.close();
    if (saved === undefined) delete process.env.PERAGUS_DOCKER_ZYGOTE;
    else process.env.PERAGUS_DOCKER_ZYGOTE = saved;
  });

  it('runs the kernel in the container as its user, with its caps and filters, and no node role', async () => {
    const created = await t.call('container_create', {
      runtime: 'docker',
      experiment_id: `hosted-${zygote}`,
    });
    cid = created.container_id as string;
    const nb = await t.call('notebook_create', { name: 'hosted', container_id: cid });
    sid = nb.session_id as string;
    // The session is this host's, on the volume's host path.
    expect(nb.work_dir).toBe(created.work_dir);
    const run = await cell(
      sid,
      [
        'import os, socket',
        'status = dict(l.split(":\\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\\t" in l)',
        'print(os.getcwd(), os.getuid(), os.getgid(), os.environ["PERAGUS_EXPERIMENT_ID"])',
        'print(status["CapEff"].strip(), status["CapBnd"].strip(), status["NoNewPrivs"].strip(), status["Seccomp"].strip())',
        'print([n for _, n in socket.if_nameindex()])',
        'import ctypes, subprocess',
        // What Docker's default profile refuses in any experiment container, joined kernels too:
        // a user namespace (a fresh process: a threaded one may not make one at all), and clone3.
        'userns = subprocess.run(["unshare", "-U", "true"], capture_output=True, text=True)',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'print(userns.returncode, "Operation not permitted" in userns.stderr, libc.syscall(435, 0, 0), ctypes.get_errno())',
        'print(open("/proc/self/cgroup").read())',
      ].join('\n'),
    );
    expect(run.status, JSON.stringify(run)).toBe('ok');
    const [where, caps, ifaces, refused, ...cgroups] = text(run).trim().split('\n');
    // A user namespace is refused (EPERM), and clone3 (ENOSYS, so the C library uses clone).
    expect(refused).toBe('1 True -1 38');
    expect(where).toBe(`/experiment 10001 10001 hosted-${zygote}`);
    // No capabilities at all, no new privileges, Docker's seccomp filter (mode 2).
    expect(caps).toBe('0000000000000000 0000000000000000 1 2');
    expect(ifaces).toBe("['lo']");
    // The container's own cgroups: its memory, CPU and pids caps hold for the kernel.
    const memory = cgroups.find((l) => /:memory:|^0::/.test(l));
    expect(memory).toContain(cid);
    const procs = processesOf(cid);
    // Joined: tini, sleep and the kernel; own zygote: tini, the zygote and its kernel (a fork).
    const kernels = procs.filter((p) => p.startsWith('python -m peragus_pysd.zygote'));
    expect(kernels).toHaveLength(zygote === 'shared' ? 1 : 2);
    const holder = zygote === 'shared' ? ['sleep infinity'] : [];
    expect(procs.filter((p) => !kernels.includes(p) && !p.startsWith('/usr/bin/tini'))).toEqual(holder);
    expect(procs.filter((p) => /(^|\/)node\b/.test(p))).toEqual([]);
    const health = await t.call('container_health', { container_id: cid });
    expect(health.endpoint_reachable).toBe(true);
  }, 300_000);

  it('interrupts a running cell (the signal crosses the pid namespace) and restarts the kernel', async () => {
    const pid = text(await cell(sid, 'import os\nprint(os.getpid())')).trim();
    const started = Date.now();
    const slow = await cell(sid, 'import time\nfor _ in range(600):\n    time.sleep(0.1)', 1500);
    expect(slow.status).toBe('error');
    expect(text(slow)).toContain('KeyboardInterrupt');
    expect(Date.now() - started).toBeLessThan(30_000);
    // The same kernel goes on: interrupted, not killed.
    expect(text(await cell(sid, 'import os\nprint(os.getpid())')).trim()).toBe(pid);
    const restarted = await t.call('notebook_restart', { session_id: sid });
    expect(restarted.restarted).toBe(true);
    const after = text(await cell(sid, 'import os\nprint(os.getpid())')).trim();
    expect(after).toMatch(/^\d+$/);
    expect(after).not.toBe(pid);
  }, 300_000);

  // This way only.
  if (zygote === 'container') {
    it('refuses a link the container plants at its zygote socket: the host connects nowhere else', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'peragus-bait-'));
      const bait = join(dir, 'bait.sock');
      let connections = 0;
      const server: Server = createServer((s) => {
        connections += 1;
        s.destroy();
      });
      await new Promise<void>((r) => server.listen(bait, r));
      try {
        const planted = await t.call('container_exec', {
          container_id: cid,
          cmd: [
            'sh',
            '-c',
            `rm /experiment/.peragus/zygote.sock && ln -s ${bait} /experiment/.peragus/zygote.sock`,
          ],
        });
        expect(planted.exit_code).toBe(0);
        const refused = await t.callError('notebook_restart', { session_id: sid });
        expect(refused).toMatch(/zygote socket|link/i);
        expect(connections).toBe(0);
      } finally {
        server.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 300_000);
  }

  // This way only.
  if (zygote === 'shared') {
    it('keeps the shared zygote out of every tool: not listed, not reached, not destroyed', async () => {
      const zid = sharedZygoteOf(t.home);
      expect(zid).toBeDefined();
      const listed = (await t.call('container_list', {})).containers as { container_id: string }[];
      expect(listed.map((c) => c.container_id)).not.toContain(zid);
      // A root shell there would be a root shell on the host: refused as an unknown container.
      for (const id of [zid!, zid!.slice(0, 12)]) {
        const exec = await t.callError('container_exec', { container_id: id, cmd: ['id'] });
        expect(exec).toMatch(/no Peragus container|no container/);
        expect(await t.callError('container_cp_out', { container_id: id, src: 'x' })).toMatch(
          /no .*container/,
        );
        const destroyed = await t.client.callTool({
          name: 'container_destroy',
          arguments: { container_id: id },
        });
        expect(JSON.stringify(destroyed)).not.toContain('"removed":true');
      }
      expect(
        execFileSync('docker', ['inspect', '-f', '{{.State.Running}}', zid!], { encoding: 'utf8' }).trim(),
      ).toBe('true');
    }, 300_000);
  }

  // This way only.
  if (zygote === 'shared') {
    it('starts another shared zygote when its container is killed, for a restart and a new experiment', async () => {
      const before = sharedZygoteOf(t.home);
      expect(before).toBeDefined();
      execFileSync('docker', ['rm', '-f', before!]);
      // The kernels it forked die with it: the running session says so, in the cell's run, or by
      // refusing the cell when it saw the death first (a save between add and execute yields).
      const dead = await cell(sid, '1 + 1').then(
        (run) => run.status,
        (err: Error) => err.message,
      );
      expect(dead).toMatch(
        /^error$|the kernel of session \\?"[\w-]+\\?" died; call restart\(\) before executing/,
      );
      // A restart of that experiment's kernel starts another zygote and registers the container
      // there first: the kernel runs in the same container again.
      expect((await t.call('notebook_restart', { session_id: sid })).restarted).toBe(true);
      const again = await cell(sid, 'import os\nprint(6 * 7, os.getuid())');
      expect(again.status, JSON.stringify(again)).toBe('ok');
      expect(text(again).trim()).toBe('42 10001');
      const replaced = sharedZygoteOf(t.home);
      expect(replaced).toBeDefined();
      expect(replaced).not.toBe(before);
      expect(processesOf(cid).filter((p) => p.startsWith('python -m peragus_pysd.zygote'))).toHaveLength(1);
      // The next experiment gets the new zygote too, and its kernel runs.
      const other = await t.call('container_create', {
        runtime: 'docker',
        experiment_id: 'hosted-after-kill',
      });
      const nb = await t.call('notebook_create', { name: 'after', container_id: other.container_id });
      const ok = await t.call('cell_add', {
        session_id: nb.session_id,
        source: 'print(6 * 7)',
        execute: true,
      });
      expect(JSON.stringify(ok.run)).toContain('42');
      expect(sharedZygoteOf(t.home)).toBe(replaced);
      expect((await t.call('container_destroy', { container_id: other.container_id })).removed).toBe(true);
    }, 300_000);
  }

  it('destroys the container and its kernel', async () => {
    const pids = processPids(cid);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    expect((await t.call('container_destroy', { container_id: cid })).removed).toBe(true);
    expect(pids.filter(alive)).toEqual([]);
  }, 300_000);
});

describe.runIf(withDocker)('a host restarted on the same home', () => {
  const home = mkdtempSync(join(tmpdir(), 'peragus-adopt-'));
  const hosts: Host[] = [];

  async function connect(): Promise<{
    host: Host;
    call: (name: string, args: object) => Promise<Record<string, unknown>>;
  }> {
    const host = await createHost({ home, poolSize: 0, resumePlans: false, runtime: 'docker' });
    hosts.push(host);
    const [a, b] = InMemoryTransport.createLinkedPair();
    await host.makeMcpServer().connect(a);
    const client = new Client({ name: 'adopt-test', version: '1' });
    await client.connect(b);
    return {
      host,
      call: async (name, args) => {
        const r = await client.callTool({ name, arguments: args as Record<string, unknown> });
        if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
        return r.structuredContent as Record<string, unknown>;
      },
    };
  }

  afterAll(async () => {
    // A failed run leaves its container: the last host removes it (and releases its volume).
    const last = hosts.at(-1);
    for (const c of (await last?.containers.list(undefined, 'docker').catch(() => [])) ?? []) {
      await last?.containers.destroy(c.container_id).catch(() => undefined);
    }
    for (const h of hosts) await h.close().catch(() => undefined);
    execFileSync('sh', [
      '-c',
      `docker rm -f $(docker ps -aq --filter label=peragus.work_dir=${home}/experiments/adopt-a/work) 2>/dev/null || true`,
    ]);
    rmSync(home, { recursive: true, force: true });
  });

  it("serves a running container's sessions again: completed outputs kept, a new kernel", async () => {
    const first = await connect();
    const created = await first.call('container_create', { experiment_id: 'adopt-a' });
    const cid = created.container_id as string;
    const nb = await first.call('notebook_create', { name: 'kept', container_id: cid });
    const sid = nb.session_id as string;
    const ran = await first.call('cell_add', {
      session_id: sid,
      source: 'x = 6 * 7\nprint(x)',
      execute: true,
    });
    expect(JSON.stringify(ran.run)).toContain('42');
    // The first host goes away (as a crash or a restart would): the container keeps running.
    await first.host.close();
    expect((await first.host.containers.list(undefined, 'docker')).map((c) => c.container_id)).toContain(cid);

    const second = await connect();
    const listed = await second.call('notebook_list', { container_id: cid });
    const sessions = listed.sessions as { session_id: string }[];
    expect(sessions.map((x) => x.session_id)).toContain(sid);
    const again = await second.call('cell_add', {
      session_id: sid,
      container_id: cid,
      source: "print('x' in globals())",
      execute: true,
    });
    // The session and its saved output came back; the kernel is a new one (x is gone).
    expect(JSON.stringify(again.run)).toContain('False');
    const exported = await second.call('notebook_export', {
      session_id: sid,
      container_id: cid,
      format: 'srcmd',
      inline: true,
    });
    expect(exported.content as string).toContain('x = 6 * 7');
    expect((await second.call('container_destroy', { container_id: cid })).removed).toBe(true);
  }, 300_000);
});
