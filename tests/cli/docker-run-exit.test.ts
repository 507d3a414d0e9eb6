// `peragus run` on the Docker runtime exits promptly after its summary: a
// plan of 3 experiments, each copying its artifacts out through the archive
// API, leaves no docker.sock connection open. The child's DOCKER_HOST points
// at a counting proxy in front of the daemon's socket, so the count is exactly
// this process's connections, whatever else uses the shared daemon.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { REPO } from '../helpers/sd-models.ts';
import { startSocketProxy } from '../helpers/socket-proxy.ts';

const enabled = dockerTestsEnabled();
const home = mkdtempSync(join(tmpdir(), 'peragus-run-exit-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe.skipIf(!enabled)('peragus run on Docker (real Docker)', () => {
  it('exits within 5 s of its summary and leaves no docker.sock connection open', async () => {
    const proxy = await startSocketProxy();
    try {
      const run = randomBytes(3).toString('hex');
      const planFile = join(home, 'plan.json');
      writeFileSync(
        planFile,
        JSON.stringify({
          model: { source: join(REPO, 'notebooks/models/sir.mdl') },
          experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
          targets: [{ 'Contact Rate': 4 }, { 'Contact Rate': 6 }, { 'Contact Rate': 8 }],
          parallel_limit: 3,
          name: `exit-${run}`,
        }),
      );
      const before = proxy.open();
      const child = spawn(process.execPath, [join(REPO, 'bin/peragus.js'), 'run', planFile], {
        env: {
          ...process.env,
          PERAGUS_HOME: join(home, 'state'),
          PERAGUS_RUNTIME: 'docker',
          PERAGUS_POOL_SIZE: '0',
          DOCKER_HOST: proxy.dockerHost,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let summaryAt = 0;
      let openAtSummary = -1;
      child.stdout.on('data', (c: Buffer) => {
        stdout += c;
        if (!summaryAt && /\d+\/\d+ finished, \d+ failed/.test(stdout)) {
          summaryAt = performance.now();
          openAtSummary = proxy.open();
        }
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr += c;
      });
      const code = await new Promise<number | null>((done, fail) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          fail(new Error(`peragus run did not exit in 10 min\n${stdout}\n${stderr.slice(-4000)}`));
        }, 600_000);
        child.once('exit', (c) => {
          clearTimeout(timer);
          done(c);
        });
      });
      const exitedAt = performance.now();
      expect(stdout, stderr.slice(-4000)).toMatch(/3\/3 finished, 0 failed/);
      expect(code).toBe(0);
      expect(summaryAt).toBeGreaterThan(0);
      // Whatever was open at the summary (teardown in flight) was closed quickly.
      expect(openAtSummary).toBeGreaterThanOrEqual(0);
      expect(exitedAt - summaryAt).toBeLessThan(5000);
      expect(await proxy.waitOpenAtMost(before, 5000)).toBe(before);
      // The plan really went through the proxied daemon: its three containers were created there.
      expect(proxy.requests(/^POST \S*\/containers\/create\b/)).toBeGreaterThanOrEqual(3);
    } finally {
      await proxy.close();
    }
  }, 660_000);
});
