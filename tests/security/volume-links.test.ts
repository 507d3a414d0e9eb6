// Breach 1: the host followed links that experiment code planted in its
// volume. Code in the experiment replaces /experiment/.peragus with a link to
// a host directory; on the next container_create the host (root) used to chown
// that directory to the experiment uid and unlink node.sock inside it. The same
// for copies: a link in the volume must never make the host read or write its
// target. Run for real in Docker and in the (bubblewrapped) local runtime.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';

const withDocker = dockerTestsEnabled();
const run = randomBytes(3).toString('hex');

/** A host directory the experiment must not be able to touch, and a fingerprint of it. */
function victimDir() {
  const dir = mkdtempSync(join(tmpdir(), 'peragus-victim-'));
  writeFileSync(join(dir, 'node.sock'), 'not a socket: host data');
  writeFileSync(join(dir, 'secret.txt'), `host secret ${run}`);
  const fingerprint = () => {
    const st = statSync(dir);
    return {
      owner: `${st.uid}:${st.gid}`,
      mode: st.mode,
      entries: readdirSync(dir)
        .filter((e) => e !== 'host.sock')
        .sort(),
      sock: readFileSync(join(dir, 'node.sock'), 'utf8'),
      secret: readFileSync(join(dir, 'secret.txt'), 'utf8'),
      secretOwner: `${statSync(join(dir, 'secret.txt')).uid}`,
    };
  };
  return { dir, fingerprint };
}

// Docker twice: sessions served by the host (the default) and by a node role in the container.
describe.each([
  ['docker', withDocker, 'host'],
  ['docker', withDocker, 'node'],
  ['local', true, 'host'],
] as const)('links planted in a %s experiment volume (sessions: %s)', (runtime, enabled, sessions) => {
  let t: TestHost;
  const victim = victimDir();
  const before = victim.fingerprint();
  const experimentId = `links-${runtime}-${run}`;
  let cid = '';
  let planted = false;
  let hostSocket: Server;
  let connections = 0;
  let savedSessions: string | undefined;
  const sh = (script: string) => t.call('container_exec', { container_id: cid, cmd: ['sh', '-c', script] });

  beforeAll(async () => {
    if (!enabled) return;
    // Read when the host makes its Docker runtime (at this create); restored in afterAll.
    savedSessions = process.env.PERAGUS_DOCKER_SESSIONS;
    process.env.PERAGUS_DOCKER_SESSIONS = sessions;
    t = await startTestHost({ runtime });
    const created = await t.call('container_create', { experiment_id: experimentId });
    cid = created.container_id as string;
    hostSocket = createServer((c) => {
      connections++;
      c.destroy();
    });
    await new Promise<void>((r) => hostSocket.listen(join(victim.dir, 'host.sock'), r));
  }, 300_000);

  /** The experiment's own code plants links to the host directory (a path it cannot see). */
  async function plant() {
    if (planted) return;
    planted = true;
    const r = await sh(
      `ln -s ${victim.dir}/secret.txt leak.txt && ln -s ${victim.dir} dirlink && ` +
        `rm -rf .peragus && ln -s ${victim.dir} .peragus && ls -la`,
    );
    expect(r.exit_code, String(r.stderr)).toBe(0);
  }

  // A node's endpoint (a hosted container's zygote socket: tests/runtime/docker-hosted.test.ts).
  it.runIf(enabled && runtime === 'docker' && sessions === 'node')(
    'the host never connects through a link planted at the endpoint socket',
    async () => {
      // Another socket on the host (another experiment's node, the Docker socket, …).
      const r = await sh(
        `mv .peragus/node.sock .peragus/real.sock && ln -s ${victim.dir}/host.sock .peragus/node.sock`,
      );
      expect(r.exit_code, String(r.stderr)).toBe(0);
      const err = await t.callError('notebook_create', { name: 'via-link', container_id: cid });
      expect(err).toMatch(/"\.peragus\/node\.sock" is a symbolic link/);
      expect(connections).toBe(0);
    },
  );

  // A hosted experiment's sessions are the host's (app/hosted-sessions.ts): its kernels' sockets
  // and connection files live in the volume, and the host runs as root.
  it.runIf(enabled && sessions === 'host')(
    "the host never writes or connects through a link planted for its kernels' directory",
    async () => {
      const first = await t.call('notebook_create', { name: 'warm', container_id: cid });
      const ok = await t.call('cell_add', { session_id: first.session_id, source: '1 + 1', execute: true });
      expect((ok.run as { status: string }).status).toBe('ok');
      const r = await sh(`rm -rf .peragus/kernels && ln -s ${victim.dir} .peragus/kernels`);
      expect(r.exit_code, String(r.stderr)).toBe(0);
      // The next kernel (a second notebook's) would put its connection file and sockets there.
      const second = await t.call('notebook_create', { name: 'via-link', container_id: cid });
      const res = await t.client.callTool({
        name: 'cell_add',
        arguments: { session_id: second.session_id, source: '1 + 1', execute: true },
      });
      expect(JSON.stringify(res)).toMatch(/symbolic link/);
      expect(connections).toBe(0);
      expect(victim.fingerprint()).toEqual(before);
      // The first kernel, connected before, still works.
      const again = await t.call('cell_add', {
        session_id: first.session_id,
        source: '6 * 7',
        execute: true,
      });
      expect(JSON.stringify(again.run)).toContain('42');
    },
  );

  afterAll(async () => {
    if (savedSessions === undefined) delete process.env.PERAGUS_DOCKER_SESSIONS;
    else process.env.PERAGUS_DOCKER_SESSIONS = savedSessions;
    if (t) await t.close();
    hostSocket?.close();
    rmSync(victim.dir, { recursive: true, force: true });
  });

  it.runIf(enabled)('cp_out of a link is refused; nothing of the host file is copied', async () => {
    await plant();
    const err = await t.callError('container_cp_out', { container_id: cid, src: 'leak.txt' });
    expect(err).toMatch(/symbolic link|symlink/);
    const out = join(t.home, 'experiments', experimentId, 'out');
    expect(existsSync(join(out, 'leak.txt'))).toBe(false);
    expect(victim.fingerprint()).toEqual(before);
  });

  it.runIf(enabled)('cp_in through a linked directory never writes into the host directory', async () => {
    await plant();
    const r = await t.client.callTool({
      name: 'container_cp_in',
      arguments: { container_id: cid, dest: 'dirlink/planted.txt', content: 'from the agent' },
    });
    // Docker resolves the link inside the container (where that path is not the host's); the
    // local runtime refuses it. Either way the host directory is untouched.
    if (runtime === 'local') expect(JSON.stringify(r.content)).toMatch(/symbolic link/);
    expect(existsSync(join(victim.dir, 'planted.txt'))).toBe(false);
    expect(victim.fingerprint()).toEqual(before);
  });

  it.runIf(enabled)(
    're-creating the experiment refuses the planted .peragus link: no chown, no unlink on the host',
    async () => {
      await plant();
      await t.call('container_destroy', { container_id: cid });
      const err = await t.callError('container_create', { experiment_id: experimentId });
      expect(err).toMatch(/"\.peragus" is a symbolic link/);
      expect(err).toMatch(/never follows links/);
      expect(victim.fingerprint()).toEqual(before);
      // Nothing half-made is left running for the experiment.
      const list = await t.call('container_list', { experiment_id: experimentId });
      expect((list.containers as Json[]).filter((c) => c.running)).toEqual([]);
    },
    300_000,
  );
});
