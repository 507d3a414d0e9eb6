// What an experiment's kernel says outside its cells, through the tools: container_logs shows the
// kernel's own output (none of ipykernel's terminal banner), also after the kernel died, and a
// native crash names its cause in the dead cell itself (faulthandler's Python stack, the line of
// the cell that crashed). Local sandbox and Docker (sessions served by the host), real kernels.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastWords } from '../../notebook-server/src/notebook/queue.ts';
import { dockerTestsEnabled } from '../helpers/docker.ts';
import { startTestHost, type TestHost } from '../helpers/host.ts';
import { waitFor } from '../helpers/wait.ts';

const runtimes = dockerTestsEnabled() ? (['local', 'docker'] as const) : (['local'] as const);

type Run = {
  status: string;
  error?: { evalue?: string };
  outputs: { output_type: string; traceback?: string }[];
};

describe.each(runtimes)('kernel output of a %s experiment', (runtime) => {
  let t: TestHost;
  let cid: string;
  let sid: string;

  beforeAll(async () => {
    t = await startTestHost({ runtime });
    cid = (await t.call('container_create', { runtime, experiment_id: `kernel-logs-${runtime}` }))
      .container_id as string;
    sid = (await t.call('notebook_create', { name: 'logs', container_id: cid })).session_id as string;
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  const run = async (source: string) =>
    (await t.call('cell_add', { session_id: sid, source, execute: true })).run as Run;
  const logs = async (tail?: number) =>
    (await t.call('container_logs', { container_id: cid, ...(tail ? { tail } : {}) })) as {
      stdout: string;
      stderr: string;
    };

  it("shows what the kernel wrote to its real stderr, without ipykernel's terminal banner", async () => {
    // The marker, then more lines than a dead cell quotes (40): container_logs shows them all.
    const ran = await run(
      'import sys\nsys.__stderr__.write("kernel-log-marker\\n")\nfor i in range(60):\n    sys.__stderr__.write(f"kernel line {i}\\n")\nsys.__stderr__.flush()',
    );
    expect(ran.status).toBe('ok');
    // The kernel's stderr reaches the host beside the cell's reply, not before it: wait for it.
    const stderr = await waitFor(
      "the kernel's stderr in container_logs",
      async () => {
        const l = await logs();
        return l.stderr.includes('kernel line 59') ? l.stderr : undefined;
      },
      10_000,
      100,
    );
    expect(stderr).toContain('kernel-log-marker');
    expect(stderr).toContain('kernel line 0\n');
    expect(stderr).toMatch(/--- the kernel of session \S+ ---/);
    expect(stderr).not.toContain('--existing');
    expect(stderr).not.toContain('Ctrl-C will not work');
  }, 120_000);

  it('says why the kernel died: in the dead cell, and in container_logs afterwards', async () => {
    const crashed = await run('import ctypes\n\nctypes.string_at(0)  # a native crash');
    expect(crashed.status).toBe('error');
    expect(crashed.error?.evalue).toContain('SIGSEGV');
    const words = crashed.outputs.find((o) => o.output_type === 'error')?.traceback ?? '';
    expect(words).toContain('Fatal Python error: Segmentation fault');
    // The cell's own line: the third of its source.
    expect(words).toMatch(/File "[^"]+", line 3 in <module>/);
    expect(words).not.toContain('Extension modules:');
    // The session holds no kernel now; the dead one's output is still there.
    const { stderr } = await logs(400);
    expect(stderr).toContain('Fatal Python error: Segmentation fault');
    expect(stderr).toContain('kernel-log-marker');
    // tail bounds what comes back.
    expect((await logs(3)).stderr.split('\n').length).toBeLessThanOrEqual(3 + 1);
  }, 120_000);
});

describe('lastWords', () => {
  it('keeps a native crash report from its first line, without the extension module list', () => {
    const tail = [
      'banner',
      'Fatal Python error: Segmentation fault',
      '',
      'Current thread 0x1 (most recent call first):',
      '  File "/tmp/x.py", line 3 in <module>',
      '',
      'Extension modules: numpy, pandas (total: 2)',
    ].join('\n');
    expect(lastWords(tail)).toEqual([
      'The kernel process wrote before it died:',
      'Fatal Python error: Segmentation fault',
      '',
      'Current thread 0x1 (most recent call first):',
      '  File "/tmp/x.py", line 3 in <module>',
    ]);
  });

  it('keeps the last 20 lines of anything else, and nothing of nothing', () => {
    const many = Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n');
    expect(lastWords(many)).toHaveLength(21);
    expect(lastWords(many).at(-1)).toBe('line 49');
    expect(lastWords('')).toEqual([]);
    expect(lastWords('\n\n')).toEqual([]);
  });
});
