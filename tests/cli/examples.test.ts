// The example notebooks in notebooks/ replay with `peragus rerun`: every
// artifact checksum recorded beside them comes out the same.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = resolve('.');
const home = mkdtempSync(join(tmpdir(), 'peragus-examples-'));
const examples = readdirSync(join(REPO, 'notebooks')).filter((f) => f.endsWith('.src.md'));

describe('example notebooks', () => {
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('ship the teacup sweep and the SIR sensitivity study, models by path and sha256', () => {
    expect(examples.sort()).toEqual(['sir-sensitivity.src.md', 'teacup-sweep.src.md']);
    for (const f of examples) {
      const text = readFileSync(join(REPO, 'notebooks', f), 'utf8');
      expect(text).toMatch(/load_model\(\s*source="models\/\w+\.mdl",\s*sha256="[0-9a-f]{64}"/);
      expect(text).not.toContain('json.loads');
    }
  });

  it.each(examples)(
    '%s reruns with matching checksums',
    async (file) => {
      const { stdout } = await run(
        process.execPath,
        [join(REPO, 'bin/peragus.js'), 'rerun', join('notebooks', file), '--json'],
        {
          cwd: REPO,
          env: { ...process.env, PERAGUS_HOME: home },
          timeout: 300_000,
        },
      );
      const report = JSON.parse(stdout) as { match: boolean; artifacts: { path: string; match: boolean }[] };
      expect(report.match).toBe(true);
      expect(report.artifacts.length).toBeGreaterThanOrEqual(3);
    },
    300_000,
  );
});
