// The kernel zygote imports what a plan's experiment type needs before it forks the plan's
// kernels (peragus_pysd/preload.py): a kernel forked after a Sobol preload has SALib already, one
// forked by a zygote that was not asked has not. The experiment only picks a row of a fixed table:
// no name it carries is ever imported.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KernelClient } from '../../notebook-server/src/kernel/client.ts';
import { preloadOrWarn, startZygote, type Zygote } from '../../notebook-server/src/kernel/zygote.ts';
import { createLogger } from '../../notebook-server/src/log/index.ts';
import { LocalRuntime } from '../../notebook-server/src/runtime/local.ts';
import { pysdKernelFrom } from './helpers.ts';

const dirs: string[] = [];
const kernels: KernelClient[] = [];
const zygotes: Zygote[] = [];

async function forkedKernel(zygote: Zygote): Promise<KernelClient> {
  const dir = mkdtempSync(join(tmpdir(), 'peragus-preload-'));
  dirs.push(dir);
  const k = await pysdKernelFrom(zygote.socketPath, dir);
  kernels.push(k);
  return k;
}

async function imported(k: KernelClient, modules: string[]): Promise<string> {
  const r = await k.execute(
    `import sys\nprint(${JSON.stringify(modules)}, [m in sys.modules for m in ${JSON.stringify(modules)}])`,
  );
  expect(r.status).toBe('ok');
  return (r.outputs as { text?: string }[])
    .map((o) => o.text ?? '')
    .join('')
    .trim();
}

afterAll(async () => {
  for (const k of kernels) await k.shutdown().catch(() => undefined);
  for (const z of zygotes) await z.close().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the zygote's preload for a plan's experiment type", () => {
  const SALIB = ['SALib.sample.sobol', 'SALib.analyze.sobol'];

  it('gives every kernel forked after it the modules of that type, and only after it', async () => {
    const zygote = await startZygote();
    zygotes.push(zygote);
    const before = await forkedKernel(zygote);
    expect(await imported(before, SALIB)).toMatch(/\[False, False\]$/);
    expect(await zygote.preload({ type: 'sobol', samples: 16, parameters: { a: [0, 1] } })).toEqual(SALIB);
    const after = await forkedKernel(zygote);
    expect(await imported(after, SALIB)).toMatch(/\[True, True\]$/);
    // The kernel forked before keeps what it had.
    expect(await imported(before, SALIB)).toMatch(/\[False, False\]$/);
  }, 180_000);

  it('imports from its table only: a type it does not know, or a name inside the experiment, imports nothing', async () => {
    const zygote = await startZygote();
    zygotes.push(zygote);
    expect(await zygote.preload({ type: 'antigravity' })).toEqual([]);
    expect(
      await zygote.preload({ type: 'lhs', modules: ['antigravity'], parameters: { a: [0, 1] } }),
    ).toEqual([]);
    expect(await zygote.preload('sobol')).toEqual([]);
    // A distribution is sampled through scipy.stats: that row, whatever else the spec says.
    expect(
      await zygote.preload({
        type: 'monte_carlo',
        parameters: { a: { dist: 'normal', mean: 0, std: 1, module: 'this' } },
      }),
    ).toEqual(['scipy.stats']);
    const k = await forkedKernel(zygote);
    expect(await imported(k, ['antigravity', 'this', 'scipy.stats'])).toMatch(/\[False, False, True\]$/);
  }, 180_000);
});

describe("a preload's failure", () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'warn', write: (l) => lines.push(l) });
  const failing = {
    preload: () => Promise.reject(new Error('read ECONNRESET')),
  } as unknown as Zygote;

  it('is logged while the zygote is still wanted, and not once it was stopped on purpose', async () => {
    lines.length = 0;
    await preloadOrWarn(failing, { type: 'sobol' }, log);
    expect(lines.join('')).toMatch(/kernels import their experiment's modules themselves: read ECONNRESET/);
    lines.length = 0;
    await preloadOrWarn(failing, { type: 'sobol' }, log, () => true);
    expect(lines).toEqual([]);
  });

  // `peragus run` with a plan its check refuses: the runtime warmed the zygote with the plan's
  // experiment, then closes at once. That stop is the runtime's own doing, not news for the user
  // (it used to print "kernels import their experiment's modules themselves: read ECONNRESET").
  it('says nothing when the runtime closes while its zygote preloads', async () => {
    lines.length = 0;
    for (let i = 0; i < 3; i++) {
      const home = mkdtempSync(join(tmpdir(), 'peragus-preload-close-'));
      dirs.push(home);
      const runtime = new LocalRuntime({ home, log });
      runtime.warm({ experiment: { type: 'single' } });
      await runtime.close();
      // The preload's own end (an answer, or a reset by the stopped zygote) comes within moments.
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(lines.filter((l) => /modules themselves/.test(l))).toEqual([]);
  }, 180_000);
});
