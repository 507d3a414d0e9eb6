// A worker that disappears: its dockerd killed with SIGKILL while an
// experiment runs there. The runtime reports the experiment lost (its node
// down) within a bounded time; destroying and creating it again places it on
// a node that is up. The worker comes back with `scripts/swarm-lab.sh up`.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type SwarmCreateResult,
  SwarmServices as SwarmRuntime,
} from '../../notebook-server/src/runtime/swarm-services.ts';
import { REPO } from '../helpers/sd-models.ts';
import { type SwarmLab, swarmLab } from '../helpers/swarm-lab.ts';

const run = randomBytes(3).toString('hex');
const labels = { 'test-run': `fault-${run}` };
const small = { cpu: 0.25, memory: '64m', pids: 64 };

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('swarm runtime: a worker killed mid-run', () => {
  let lab: SwarmLab;
  let rt: SwarmRuntime;

  beforeAll(() => {
    lab = swarmLab();
    rt = new SwarmRuntime({ docker: lab.manager, image: lab.image, scheduleTimeoutMs: 15_000 });
  });

  afterAll(async () => {
    // Bring the worker back (idempotent for the others) and clean up.
    execFileSync('bash', [join(REPO, 'scripts/swarm-lab.sh'), 'up'], { stdio: 'ignore', timeout: 180_000 });
    if (rt) for (const s of await rt.list(labels)) await rt.destroy(s.container_id);
  });

  it('reports the experiment lost, and a new create lands on a live node', async () => {
    // Until one lands on a worker: Swarm spreads new services over the emptiest nodes.
    const made: SwarmCreateResult[] = [];
    let victim: SwarmCreateResult | undefined;
    for (let i = 0; i < 6 && !victim; i++) {
      const b = await rt.create({
        experiment_id: `fault-${run}-${i}`,
        command: ['sleep', '3600'],
        resources: small,
        labels,
      });
      made.push(b);
      if (b.node.labels['peragus.lab-node'] !== 'mgr') victim = b;
    }
    expect(victim, `placements: ${made.map((m) => m.node.labels['peragus.lab-node'])}`).toBeDefined();
    const worker = victim!.node.labels['peragus.lab-node'] as 'w1' | 'w2';
    expect((await rt.health(victim!.container_id)).running).toBe(true);

    const pidfile = lab.env[`PERAGUS_SWARM_LAB_${worker.toUpperCase()}_PIDFILE`]!;
    process.kill(Number(readFileSync(pidfile, 'utf8').trim()), 'SIGKILL');
    const t0 = performance.now();
    const lost = await until('the manager sees the worker down', 90_000, async () => {
      const h = await rt.health(victim!.container_id);
      return h.lost ? h : undefined;
    });
    expect(lost.running).toBe(false);
    expect(lost.node_state).not.toBe('ready');
    expect(lost.reason).toMatch(/lost; destroy it and create it again/);
    process.stderr.write(`[swarm faults] ${worker} down seen after ${performance.now() - t0} ms\n`);

    // The retry: same experiment id, placed by Swarm on a node that is up.
    expect(await rt.destroy(victim!.container_id)).toEqual({ removed: true });
    const again = await rt.create({
      experiment_id: victim!.experiment_id,
      command: ['sleep', '3600'],
      resources: small,
      labels,
    });
    expect(again.node.id).not.toBe(victim!.node.id);
    expect((await rt.health(again.container_id)).running).toBe(true);
  });
});
