// Item 11 (disk): a Docker experiment's volume is capped (resources.disk,
// default 2 GiB): writing past it fails inside the experiment with ENOSPC and
// the host never holds more than the cap; after destroy the files stay in the
// work dir as the record, and a re-created container of the experiment sees
// them again under a fresh cap.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isMountPoint } from '../../notebook-server/src/runtime/volume-cap.ts';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { hostAt } from './helpers.ts';

const home = mkdtempSync(join(tmpdir(), 'peragus-rel11d-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe.runIf(dockerTestsEnabled())('experiment volume size cap (Docker)', () => {
  it('refuses writes past resources.disk and keeps the record after destroy', async () => {
    const t = await hostAt(home, { runtime: 'docker' });
    const containers = t.host.containers;
    const create = (experiment_id: string, disk?: string) =>
      containers.create(
        { experiment_id, command: ['sleep', 'infinity'], ...(disk ? { resources: { disk } } : {}) },
        'docker',
      );
    const sh = (id: string, script: string) => containers.runtimeOf(id).exec(id, ['sh', '-c', script]);
    try {
      const c = await create('disk-cap', '64m');
      const cid = c.container_id;
      const workDir = c.work_dir;
      expect(isMountPoint(workDir)).toBe(true);
      const r = await sh(cid, 'dd if=/dev/zero of=/experiment/big bs=1M count=200 2>&1; echo "rc=$?"');
      expect(r.stdout).toMatch(/No space left on device/);
      expect(r.stdout).toMatch(/rc=1/);
      expect(statSync(join(workDir, 'big')).size).toBeLessThanOrEqual(64 * 1024 * 1024);

      const d = await create('disk-default');
      const df = await sh(d.container_id, 'df -k /experiment | tail -1');
      const sizeKiB = Number(String(df.stdout).trim().split(/\s+/)[1]);
      expect(sizeKiB * 1024).toBeGreaterThan(1.8 * 2 ** 30);
      expect(sizeKiB * 1024).toBeLessThanOrEqual(2 * 2 ** 30);

      await containers.destroy(cid);
      expect(isMountPoint(workDir)).toBe(false);
      expect(existsSync(join(workDir, 'big'))).toBe(true);
      expect(existsSync(join(workDir, '..', 'volume.ext4'))).toBe(false);

      const again = await create('disk-cap', '128m');
      expect(isMountPoint(workDir)).toBe(true);
      const ls = await sh(again.container_id, 'ls /experiment/big && df -k /experiment | tail -1');
      expect(ls.exit_code, ls.stderr).toBe(0);
      expect(Number(ls.stdout.split('\n')[1]?.trim().split(/\s+/)[1]) * 1024).toBeLessThanOrEqual(
        128 * 2 ** 20,
      );
      await containers.destroy(again.container_id);
      await containers.destroy(d.container_id);
      expect(isMountPoint(workDir)).toBe(false);
    } finally {
      await t.close();
    }
  }, 300_000);
});
