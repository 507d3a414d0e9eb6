// Breach 3, Docker half: cp_in src followed links placed in the inbox, and the
// host's token could reach experiment processes. A Docker experiment reports
// isolation "docker", sees no host token, and an inbox link is refused
// before any byte of its target is read.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { startTestHost, type TestHost } from '../helpers/host.ts';

const withDocker = dockerTestsEnabled();
const TOKEN = `token-${randomBytes(8).toString('hex')}`;
const SECRET = `host-secret-${randomBytes(8).toString('hex')}`;

describe.skipIf(!withDocker)('Docker experiments and the inbox', () => {
  let t: TestHost;
  let cid = '';
  const outside = mkdtempSync(join(tmpdir(), 'peragus-outside-'));
  const saved = process.env.PERAGUS_TOKEN;

  beforeAll(async () => {
    writeFileSync(join(outside, 'secret.txt'), SECRET);
    process.env.PERAGUS_TOKEN = TOKEN;
    t = await startTestHost({ runtime: 'docker' });
    const inbox = join(t.home, 'inbox');
    mkdirSync(inbox, { recursive: true });
    symlinkSync(join(outside, 'secret.txt'), join(inbox, 'evil.mdl'));
    symlinkSync(outside, join(inbox, 'evil-dir'));
    const created = await t.call('container_create', {
      experiment_id: `inbox-${randomBytes(3).toString('hex')}`,
    });
    expect(created.isolation).toBe('docker');
    cid = created.container_id as string;
  }, 300_000);

  afterAll(async () => {
    if (saved === undefined) delete process.env.PERAGUS_TOKEN;
    else process.env.PERAGUS_TOKEN = saved;
    await t?.close();
    rmSync(outside, { recursive: true, force: true });
  });

  it('refuses inbox links with a clear error; the target never reaches the container', async () => {
    for (const [src, message] of [
      ['evil.mdl', /"evil\.mdl" is a symbolic link/],
      ['evil-dir/secret.txt', /"evil-dir" is a symbolic link/],
    ] as const) {
      expect(await t.callError('container_cp_in', { container_id: cid, src, dest: 'stolen.txt' })).toMatch(
        message,
      );
    }
    const r = await t.call('container_exec', {
      container_id: cid,
      cmd: ['sh', '-c', 'cat /experiment/stolen.txt; env'],
    });
    expect(String(r.stdout) + String(r.stderr)).not.toContain(SECRET);
    expect(String(r.stdout)).not.toContain(TOKEN);
    expect(String(r.stderr)).toMatch(/No such file/);
  });
});
