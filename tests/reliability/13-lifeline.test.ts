// A local experiment's node dies with its host however the host dies: the host
// holds a lifeline (a pipe on the node's stdin) whose end the node sees across
// pid namespaces. Without it, a node whose host was killed -9 before bubblewrap
// armed --die-with-parent (or before its record was saved) ran on forever.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isExperimentCommand, isNodeRoleCommand } from '../helpers/node-role.ts';
import { REPO } from '../helpers/sd-models.ts';
import { BIN, cli, processesUsing, until } from './helpers.ts';

const home = mkdtempSync(join(tmpdir(), 'peragus-lifeline-'));
afterAll(() => {
  for (const p of processesUsing(home)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(home, { recursive: true, force: true });
});

const nodes = () => processesUsing(home).filter((p) => isNodeRoleCommand(p.cmd));
const experiments = () => processesUsing(home).filter((p) => isExperimentCommand(p.cmd));

describe("a node, or a hosted experiment's sandbox, dies with its host", () => {
  it('when its parent was never the host it watches: the lifeline on stdin ends it', async () => {
    const work = join(home, 'orphan', 'work');
    mkdirSync(work, { recursive: true });
    // A stand-in host that starts the node through a shell which exits at once, so the node is
    // re-parented from its first moment: a pid watch has nothing to watch, only the pipe is left.
    const host = join(home, 'host.mjs');
    writeFileSync(
      host,
      `import { spawn } from 'node:child_process';
const sh = spawn('sh', ['-c', 'exec 3<&0; "$0" "$1" node --socket "$2" --work-dir "$3" <&3 & echo $!', process.execPath, ${JSON.stringify(BIN)}, ${JSON.stringify(join(work, 'n.sock'))}, ${JSON.stringify(work)}],
  { stdio: ['pipe', 'inherit', 'inherit'], env: { ...process.env, PERAGUS_HOST_LIFELINE: 'stdin', PERAGUS_HOST_PID: '0', PERAGUS_POOL_SIZE: '0', PERAGUS_KERNEL_ZYGOTE: '0' } });
setInterval(() => {}, 1000);
`,
    );
    const stand = spawn(process.execPath, [host], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    stand.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const pid = Number(await until(() => /^(\d+)\n/.exec(out)?.[1], 30_000, 'the node pid'));
    await until(() => nodes().some((p) => p.pid === pid), 30_000, 'the node to run');
    stand.kill('SIGKILL');
    await until(
      () => !nodes().some((p) => p.pid === pid),
      20_000,
      'the node to stop after its host was killed',
    );
  }, 60_000);

  it('when `peragus run` is killed -9 while it creates its first experiments', async () => {
    const planFile = join(home, 'plan.json');
    writeFileSync(
      planFile,
      JSON.stringify({
        model: { source: join(REPO, 'notebooks/models/sir.mdl') },
        experiment: { type: 'single' },
        targets: [3, 4, 5, 6].map((r) => ({ 'Contact Rate': r })),
        parallel_limit: 2,
      }),
    );
    const run = cli(['run', planFile], { PERAGUS_HOME: home });
    // The earliest moment an experiment's process exists (its node, or the sandbox of one the
    // host serves): its host may not have saved its record yet.
    await until(() => experiments().length > 0, 120_000, "the first experiment's process");
    run.child.kill('SIGKILL');
    await run.exited;
    await until(() => experiments().length === 0, 20_000, 'no experiment process left by the killed host');
    expect(experiments()).toEqual([]);
    // Nor a kernel: the experiment user's processes of this home are gone with their sandboxes.
    expect(processesUsing(home).filter((p) => /python/.test(p.cmd))).toEqual([]);
  }, 180_000);
});
