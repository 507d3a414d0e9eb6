// Item 7: kill -9 of `peragus run plan.json` half-way, then the same command
// again on the same home: the same plan continues, every configuration ends
// with exactly one registered result, and nothing of the killed run is left
// running (its local experiment nodes and kernels die with it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { REPO } from '../helpers/sd-models.ts';
import { cli, processesUsing, until } from './helpers.ts';

const home = mkdtempSync(join(tmpdir(), 'peragus-rel7-'));
afterAll(() => {
  // Volumes of containers a watchdog removed stay mounted until the plan runs again.
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const target = line.split(' ')[1];
    if (target?.startsWith(`${home}/`)) execFileSync('umount', ['-l', target]);
  }
  rmSync(home, { recursive: true, force: true });
});
const env = { PERAGUS_HOME: home };
const RATES = [3, 4, 5, 6, 7];

async function finishedCount(): Promise<{ experiments: number; finished: number; plans: string[] }> {
  const q = cli(
    [
      'catalog',
      'query',
      "SELECT count(*) AS n, count(*) FILTER (WHERE status = 'finished') AS f FROM experiments",
      '--json',
    ],
    env,
  );
  const { code } = await q.exited;
  expect(code, q.stderr()).toBe(0);
  const row = (JSON.parse(q.stdout()) as { rows: (Record<string, unknown> | unknown[])[] }).rows[0]!;
  const [n, f] = Array.isArray(row) ? row : [row.n, row.f];
  const plans = readdirSync(join(home, 'plans')).filter((f) => f.endsWith('.json'));
  return { experiments: Number(n), finished: Number(f), plans };
}

describe('peragus run after kill -9', () => {
  it('continues the same plan: one result per configuration, no orphans', async () => {
    const planFile = join(home, 'plan.json');
    writeFileSync(
      planFile,
      JSON.stringify({
        model: { source: join(REPO, 'notebooks/models/sir.mdl') },
        experiment: { type: 'single', metrics: [{ variable: 'Infected', stat: 'max' }] },
        targets: RATES.map((r) => ({ 'Contact Rate': r })),
        parallel_limit: 2,
      }),
    );
    const first = cli(['run', planFile], env);
    // Kill it once one experiment is registered and others are in flight.
    await until(() => /finished/.test(first.stderr()), 300_000, 'the first finished experiment');
    const running = await until(
      () => {
        const p = processesUsing(home, [first.child.pid!]);
        return p.length > 0 ? p : undefined;
      },
      60_000,
      'experiment processes of the first run',
    );
    expect(running.length).toBeGreaterThan(0);
    first.child.kill('SIGKILL');
    await first.exited;
    // Its experiment nodes and kernels follow it.
    await until(() => processesUsing(home).length === 0, 20_000, 'the killed run’s processes to exit').catch(
      (err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(processesUsing(home))}`);
      },
    );

    const second = cli(['run', planFile], env);
    const done = await second.exited;
    expect(done.code, second.stderr()).toBe(0);
    expect(second.stderr()).toMatch(/\(continued\)/);
    expect(second.stdout()).toMatch(new RegExp(`${RATES.length}/${RATES.length} finished, 0 failed`));
    expect(second.stdout()).toMatch(/skipped/);
    const after = await finishedCount();
    expect(after).toEqual({ experiments: RATES.length, finished: RATES.length, plans: after.plans });
    expect(after.plans).toHaveLength(1);
    const state = JSON.parse(readFileSync(join(home, 'plans', after.plans[0]!), 'utf8')) as {
      status: string;
    };
    expect(state.status).toBe('finished');
    expect(processesUsing(home)).toEqual([]);

    // Once more: nothing runs again, nothing is registered twice.
    const third = cli(['run', planFile], env);
    expect((await third.exited).code, third.stderr()).toBe(0);
    expect(third.stdout().match(/skipped/g)).toHaveLength(RATES.length);
    expect(await finishedCount()).toEqual(after);
  }, 900_000);
});

describe.runIf(dockerTestsEnabled())('peragus run on Docker after kill -9', () => {
  it('removes the plan’s containers (they are not children of the CLI)', async () => {
    const planFile = join(home, 'docker-plan.json');
    writeFileSync(
      planFile,
      JSON.stringify({
        model: { source: join(REPO, 'notebooks/models/sir.mdl') },
        experiment: { type: 'single' },
        targets: [{ 'Contact Rate': 3 }, { 'Contact Rate': 4 }],
        parallel_limit: 2,
        runtime: 'docker',
      }),
    );
    const dockerHome = join(home, 'docker-home');
    const run = cli(['run', planFile], { PERAGUS_HOME: dockerHome });
    const planId = await until(
      () => /plan (plan-file-[0-9a-f]+)/.exec(run.stderr())?.[1],
      120_000,
      'the plan id',
    );
    // The plan's containers: created for it (label plan=<id>) or handed over from the warm pool
    // (Docker labels are immutable: those carry the pool's labels), all with a work dir in this home.
    const ps = () =>
      execFileSync(
        'docker',
        [
          'ps',
          '-a',
          '--filter',
          'label=peragus.created-by=peragus',
          '--format',
          '{{.ID}} {{.Label "peragus.work_dir"}} {{.Label "plan"}}',
        ],
        { encoding: 'utf8' },
      )
        .split('\n')
        .map((line) => line.split(' '))
        .filter(([id, dir, plan]) => id && (plan === planId || dir?.startsWith(`${dockerHome}/`)))
        .map(([id]) => id as string);
    await until(() => ps().length > 0, 180_000, 'a container of the plan');
    run.child.kill('SIGKILL');
    await run.exited;
    await until(() => ps().length === 0, 30_000, 'the plan’s containers to be removed');
    // The watchdogs (the plan's and the warm pool's) exit once their removals are done; the plan's
    // containers can be gone while the pool's watchdog is still removing the pool's.
    await until(() => processesUsing(dockerHome).length === 0, 30_000, 'the watchdogs to exit');
    expect(processesUsing(dockerHome)).toEqual([]);
  }, 600_000);
});
