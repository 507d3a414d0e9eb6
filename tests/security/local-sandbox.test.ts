// Breach 3, local half: container_exec and kernels ran as the host user with
// PERAGUS_TOKEN in their environment, cp_in wrote through a planted
// "<dest>.peragus-tmp" link and cp_in src followed links in the inbox. Now
// every experiment process runs under bubblewrap (no network, read-only
// system, only its work dir writable, private /tmp, own pid/IPC namespaces)
// with an allow-listed environment. Attacks run for real from the sandbox.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bwrapArgs, localIsolation, sandboxOwner } from '../../notebook-server/src/sandbox/bwrap.ts';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';

const check = localIsolation();
if (check.isolation !== 'bubblewrap') {
  const msg = `bubblewrap cannot sandbox here (${check.reason})`;
  if (process.env.CI) throw new Error(`the sandbox tests must run in CI, but ${msg}`);
  process.stderr.write(`\n!!! local sandbox tests SKIPPED: ${msg} !!!\n\n`);
}
const enabled = check.isolation === 'bubblewrap';
const TOKEN = `token-${randomBytes(8).toString('hex')}`;
const SECRET = `host-secret-${randomBytes(8).toString('hex')}`;

describe.skipIf(!enabled)('the local runtime sandbox (bubblewrap)', () => {
  let t: TestHost;
  let cid = '';
  let workDir = '';
  let server: Server;
  let port = 0;
  let connections = 0;
  const outside = mkdtempSync(join(tmpdir(), 'peragus-outside-'));
  const secretFile = join(outside, 'secret.txt');
  const savedToken = process.env.PERAGUS_TOKEN;
  const sh = async (script: string) =>
    (await t.call('container_exec', { container_id: cid, cmd: ['sh', '-c', script] })) as {
      exit_code: number;
      stdout: string;
      stderr: string;
    };

  beforeAll(async () => {
    writeFileSync(secretFile, SECRET);
    server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    process.env.PERAGUS_TOKEN = TOKEN;
    t = await startTestHost({ runtime: 'local' });
    writeFileSync(join(t.home, 'catalog-secret.txt'), SECRET);
    const created = await t.call('container_create', { experiment_id: 'sandboxed' });
    expect(created.isolation).toBe('bubblewrap');
    cid = created.container_id as string;
    workDir = created.work_dir as string;
  }, 300_000);

  afterAll(async () => {
    if (savedToken === undefined) delete process.env.PERAGUS_TOKEN;
    else process.env.PERAGUS_TOKEN = savedToken;
    await t?.close();
    server?.close();
    rmSync(outside, { recursive: true, force: true });
  });

  it('exec sees no token or host secret, cannot read or list host files, cannot write outside', async () => {
    const r = await sh(
      `env; cat ${secretFile}; ls ${outside}; cat ${t.home}/catalog-secret.txt; ls ${t.home}; ` +
        `echo pwned > ${outside}/written; echo pwned > /etc/peragus-pwned; echo inside > ok.txt; id -u`,
    );
    const all = r.stdout + r.stderr;
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain(SECRET);
    expect(r.stdout).not.toMatch(/secret\.txt|catalog-secret/);
    expect(existsSync(join(outside, 'written'))).toBe(false);
    expect(existsSync('/etc/peragus-pwned')).toBe(false);
    expect(readFileSync(join(workDir, 'ok.txt'), 'utf8')).toBe('inside\n');
    if (process.getuid?.() === 0) expect(r.stdout.trim().split('\n').at(-1)).toBe('10001');
  });

  it('has no network, its own pids and a private /tmp', async () => {
    writeFileSync(join(tmpdir(), `peragus-host-tmp-${process.pid}`), SECRET);
    const r = await sh(
      `python3 -c "import socket; socket.create_connection(('127.0.0.1', ${port}), 3)" 2>&1 | tail -1; ` +
        `test -e /proc/${process.pid} && echo host-pid-visible; ls /tmp; cat /tmp/peragus-host-tmp-${process.pid}`,
    );
    expect(r.stdout).toMatch(/Errno|refused|unreachable/i);
    expect(connections).toBe(0);
    expect(r.stdout).not.toContain('host-pid-visible');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    rmSync(join(tmpdir(), `peragus-host-tmp-${process.pid}`), { force: true });
  });

  it('kernels in the container and in host sessions see no token', async () => {
    const code = "import os\nprint(repr(os.environ.get('PERAGUS_TOKEN')))";
    const inside = await t.call('notebook_create', { name: 'sandboxed', container_id: cid });
    const host = await t.call('notebook_create', { name: 'host-session' });
    for (const nb of [inside, host]) {
      const cell = await t.call('cell_add', { session_id: nb.session_id, source: code, execute: true });
      const run = cell.run as { status: string; outputs: { text?: string }[] };
      expect(run.status).toBe('ok');
      expect(run.outputs[0]?.text?.trim()).toBe('None');
    }
  }, 300_000);

  it('cp_in replaces planted links at the destination and its temp name, never writing through', async () => {
    const planted = await sh(
      `mkdir -p models && ln -s ${secretFile} models/m.mdl.peragus-tmp && ln -s ${secretFile} models/direct.mdl`,
    );
    expect(planted.exit_code).toBe(0);
    for (const dest of ['models/m.mdl', 'models/direct.mdl']) {
      const r = await t.call('container_cp_in', { container_id: cid, dest, content: 'agent text' });
      expect(r.path).toBe(dest);
      expect(lstatSync(join(workDir, dest)).isFile()).toBe(true);
    }
    expect(readFileSync(secretFile, 'utf8')).toBe(SECRET);
  });

  it('cp_in src refuses links and escapes in the inbox with a clear error', async () => {
    const inbox = join(t.home, 'inbox');
    mkdirSync(inbox, { recursive: true });
    symlinkSync(secretFile, join(inbox, 'evil.mdl'));
    symlinkSync(outside, join(inbox, 'evil-dir'));
    const cases: [string, RegExp][] = [
      ['evil.mdl', /"evil\.mdl" is a symbolic link/],
      ['evil-dir/secret.txt', /"evil-dir" is a symbolic link/],
      ['../catalog-secret.txt', /escapes .*inbox through "\.\."/],
      [secretFile, /is absolute/],
    ];
    for (const [src, message] of cases) {
      const err = await t.callError('container_cp_in', { container_id: cid, src, dest: 'stolen.txt' });
      expect(err).toMatch(message);
    }
    expect(existsSync(join(workDir, 'stolen.txt'))).toBe(false);
    // A real inbox file still goes in.
    writeFileSync(join(inbox, 'good.mdl'), 'a model');
    const ok = (await t.call('container_cp_in', {
      container_id: cid,
      src: 'good.mdl',
      dest: 'good.mdl',
    })) as Json;
    expect(ok.bytes).toBe(7);
  });
});

// A checkout under a hidden folder (~, /tmp) is shown to the sandbox read-only (its code runs
// there). A Peragus home kept inside that checkout (PERAGUS_HOME=.peragus: .gitignore lists it)
// was then seen through that bind: every experiment could read the catalog and the others' files.
describe.skipIf(!enabled)('a home inside a folder the sandbox shows', () => {
  it('stays hidden: the sandbox sees the code, and of the home only its own work dir', () => {
    const root = mkdtempSync(join(tmpdir(), 'peragus-checkout-')); // under /tmp: hidden
    try {
      chmodSync(root, 0o755);
      const checkout = join(root, 'peragus');
      const home = join(checkout, '.peragus');
      const work = join(home, 'experiments', 'mine', 'work');
      mkdirSync(work, { recursive: true });
      mkdirSync(join(home, 'experiments', 'theirs', 'work'), { recursive: true });
      writeFileSync(join(checkout, 'code.ts'), 'the code');
      writeFileSync(join(home, 'catalog.duckdb'), 'every result');
      writeFileSync(join(home, 'experiments', 'theirs', 'work', 'data.csv'), 'their data');
      const owner = sandboxOwner();
      if (owner) chownSync(work, owner.uid, owner.gid);
      const script = [
        `cat ${checkout}/code.ts; echo`,
        `cat ${home}/catalog.duckdb ${home}/experiments/theirs/work/data.csv`,
        `ls -A ${home} ${home}/experiments`,
        'echo mine > out.txt',
      ].join('; ');
      const r = spawnSync('bwrap', bwrapArgs(['sh', '-c', script], { workDir: work, home }, [checkout]), {
        encoding: 'utf8',
      });
      expect(r.stdout).toContain('the code');
      expect(r.stdout).not.toMatch(/every result|their data|theirs|catalog/);
      expect(r.stderr).toMatch(/catalog\.duckdb: No such file/);
      expect(readFileSync(join(work, 'out.txt'), 'utf8')).toBe('mine\n');
      // The checkout itself as the home can be neither shown nor hidden: refused, with the fix.
      expect(() => bwrapArgs(['true'], { workDir: work, home: checkout }, [checkout])).toThrow(
        /PERAGUS_HOME .* is the folder of Peragus's own code.*set PERAGUS_HOME to a folder of its own/,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
