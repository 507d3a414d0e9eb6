// Kernels draw matplotlib figures inline by default (plt.show() in a cell
// shows the figure in the notebook), and pysd_visualize's own figures are not
// drawn a second time.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelClient } from '../../notebook-server/src/kernel/client.ts';
import { startZygote, type Zygote } from '../../notebook-server/src/kernel/zygote.ts';
import { modelLoadCode, visualizeCode } from '../../notebook-server/src/pysd/code.ts';
import { pysdKernel, pysdKernelFrom, runCell } from './helpers.ts';

let dir: string;
let kernel: KernelClient;

const images = (outputs: { output_type: string; data?: Record<string, unknown> }[]) =>
  outputs.filter((o) => o.output_type === 'display_data' && o.data && 'image/png' in o.data).length;

describe('matplotlib in the kernel', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'peragus-mpl-'));
    mkdirSync(join(dir, 'models'));
    copyFileSync(resolve('notebooks/models/sir.mdl'), join(dir, 'models/sir.mdl'));
    kernel = await pysdKernel(dir);
  }, 180_000);
  afterAll(async () => {
    await kernel?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('plt.show() draws the figure inline', async () => {
    const r = await kernel.execute(
      'import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title("inline")\nplt.show()',
    );
    expect(r.status).toBe('ok');
    expect(images(r.outputs as never)).toBe(1);
  }, 120_000);

  it("pysd_visualize's figure is an artifact, not a second inline image", async () => {
    const loaded = await runCell<{ model_id: string }>(
      kernel,
      modelLoadCode({ source: 'models/sir.mdl' }),
      'load_model',
    );
    const r = await kernel.execute(
      visualizeCode({ target: loaded.model_id, kind: 'timeseries', preview: false }),
      {
        timeoutMs: 120_000,
      },
    );
    expect(r.status).toBe('ok');
    expect(images(r.outputs as never)).toBe(0);
    const after = await kernel.execute('plt.plot([0, 1])\nplt.show()');
    expect(images(after.outputs as never)).toBe(1);
  }, 180_000);
});

// The zygote imports matplotlib with Agg before it forks; a forked kernel must still draw inline,
// like a cold one (it did not: matplotlib reads MPLBACKEND only at import).
describe('matplotlib in a kernel forked by the zygote', () => {
  let zygote: Zygote;
  let forked: KernelClient;
  let forkDir: string;
  beforeAll(async () => {
    forkDir = mkdtempSync(join(tmpdir(), 'peragus-mpl-fork-'));
    zygote = await startZygote();
    forked = await pysdKernelFrom(zygote.socketPath, forkDir);
  }, 180_000);
  afterAll(async () => {
    await forked?.shutdown();
    await zygote?.close();
    rmSync(forkDir, { recursive: true, force: true });
  });

  it('plt.show() draws the figure inline', async () => {
    const pid = await forked.execute('import os\nprint(os.getppid())');
    expect(pid.status).toBe('ok');
    expect(JSON.stringify(pid.outputs)).toContain(String(zygote.pid)); // really forked by the zygote
    const r = await forked.execute('import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()');
    expect(r.status).toBe('ok');
    expect(images(r.outputs as never)).toBe(1);
  }, 120_000);
});
