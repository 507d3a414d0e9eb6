// A kernel starts with Python's cyclic garbage collector off (its imports make ≈ 230,000
// objects and next to no garbage: peragus_pysd/__init__.py, zygote.py), and every cell runs with
// it on again, whether the kernel started cold or was forked by the zygote. A cell that builds
// reference cycles must not grow without bound.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelClient } from '../../notebook-server/src/kernel/client.ts';
import { startZygote, type Zygote } from '../../notebook-server/src/kernel/zygote.ts';
import { pysdKernelFrom } from './helpers.ts';

// Cycles made and dropped: with the collector on, they are freed as the cell goes.
const CELL = [
  'import gc, weakref',
  'class Node: pass',
  'def cycle():',
  '    a, b = Node(), Node()',
  '    a.other, b.other = b, a',
  '    return weakref.ref(a)',
  'refs = [cycle() for _ in range(20000)]',
  'print(gc.isenabled(), sum(r() is not None for r in refs) < 1000)',
].join('\n');

const printed = (r: Awaited<ReturnType<KernelClient['execute']>>) =>
  (r.outputs as { name?: string; text?: string }[])
    .filter((o) => o.name === 'stdout')
    .map((o) => o.text)
    .join('');

const dirs: string[] = [];
const kernels: KernelClient[] = [];
let zygote: Zygote | undefined;

async function kernel(forked: boolean): Promise<KernelClient> {
  const dir = mkdtempSync(join(tmpdir(), 'peragus-gc-'));
  dirs.push(dir);
  if (forked) zygote ??= await startZygote();
  const k = await pysdKernelFrom(forked ? (zygote as Zygote).socketPath : null, dir);
  kernels.push(k);
  return k;
}

afterAll(async () => {
  for (const k of kernels) await k.shutdown().catch(() => undefined);
  await zygote?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the garbage collector in a kernel', () => {
  let cold: KernelClient;
  let forked: KernelClient;
  beforeAll(async () => {
    forked = await kernel(true);
    cold = await kernel(false);
  }, 180_000);

  it('is on in the cells of a cold kernel', async () => {
    const pid = await cold.execute('import os\nprint(os.getppid())');
    expect(printed(pid)).not.toContain(String(zygote?.pid));
    const r = await cold.execute(CELL);
    expect(r.status).toBe('ok');
    expect(printed(r)).toBe('True True\n');
  }, 120_000);

  it('is on in the cells of a kernel forked by the zygote', async () => {
    const pid = await forked.execute('import os\nprint(os.getppid())');
    expect(printed(pid)).toBe(`${zygote?.pid}\n`); // really forked by the zygote
    const r = await forked.execute(CELL);
    expect(r.status).toBe('ok');
    expect(printed(r)).toBe('True True\n');
  }, 120_000);
});
