// Breach 2: an MCP client read any host file through a plan:
// experiment_plan_run {model: {source: "/etc/shadow"}} copied the host file
// into the experiment volume and into plans/*.json. Over MCP a plan's model
// now comes only from inline content, the inbox (no link followed) or the
// catalog; run for real against the Docker runtime.
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';

const withDocker = dockerTestsEnabled();
const SIR = readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8');

describe.skipIf(!withDocker)('plan models over MCP (Docker runtime)', () => {
  let t: TestHost;
  const hostFile = (name: string) => join(t.home, '..', name);
  let secretPath = '';
  const SECRET = `host-only ${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    t = await startTestHost({ runtime: 'docker' });
    // A host file beside PERAGUS_HOME, and inbox links pointing at it and at /etc/shadow.
    secretPath = hostFile(`peragus-plan-secret-${randomBytes(4).toString('hex')}.mdl`);
    writeFileSync(secretPath, SECRET);
    const inbox = join(t.home, 'inbox');
    mkdirSync(inbox, { recursive: true });
    symlinkSync('/etc/shadow', join(inbox, 'shadow.mdl'));
    symlinkSync(secretPath, join(inbox, 'secret.mdl'));
    writeFileSync(join(inbox, 'sir.mdl'), SIR);
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    if (secretPath) rmSync(secretPath, { force: true });
  });

  const plan = (source: string) => ({
    model: { source },
    experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
    runtime: 'docker',
    wait: false,
  });

  it.each([
    ['/etc/shadow', /is absolute/],
    ['../../../etc/hostname', /escapes .*inbox through "\.\."/],
    ['inbox/../../../../etc/hostname', /escapes .*inbox through "\.\."/],
    ['shadow.mdl', /"shadow\.mdl" is a symbolic link/],
    ['inbox/secret.mdl', /"secret\.mdl" is a symbolic link/],
    [`catalog:${'0'.repeat(64)}/x.mdl`, /no model with that sha256 in the catalog/],
  ])(
    'refuses model.source %j with a clear error; nothing is read, copied or started',
    async (source, message) => {
      const err = await t.callError('experiment_plan_run', plan(source));
      expect(err).toMatch(message);
      expect(err).toMatch(/Over MCP a plan's model comes from model\.content/);
      // No plan file (where the model text would be kept), no experiment volume, no container.
      const plans = join(t.home, 'plans');
      const files = existsSync(plans) ? readdirSync(plans) : [];
      for (const f of files) expect(readFileSync(join(plans, f), 'utf8')).not.toContain(SECRET);
      expect(files).toEqual([]);
      expect(existsSync(join(t.home, 'experiments'))).toBe(false);
      const list = await t.call('container_list', { runtime: 'docker' });
      expect((list.containers as Json[]).filter((c) => String(c.work_dir ?? '').startsWith(t.home))).toEqual(
        [],
      );
    },
  );

  it('runs a model from the inbox, then the same model again by its catalog sha256', async () => {
    const first = await t.call('experiment_plan_run', { ...plan('inbox/sir.mdl'), wait: true });
    expect(first.finished).toBe(1);
    const sha = createHash('sha256').update(SIR).digest('hex');
    const again = await t.call('experiment_plan_run', { ...plan(`catalog:${sha}/sir.mdl`), wait: true });
    expect(again.finished).toBe(1);
  }, 600_000);
});
