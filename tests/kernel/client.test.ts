// KernelClient against a real ipykernel (the PySD kernelspec): outputs, stdin,
// interrupt, timeouts, correlation. One kernel for the whole file.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelClient } from '../../notebook-server/src/kernel/client.ts';
import { KernelTimeoutError } from '../../notebook-server/src/kernel/errors.ts';
import { startKernel } from '../../notebook-server/src/kernel/start.ts';
import { type Message, WireCodec } from '../../notebook-server/src/kernel/wire.ts';
import type { Output } from '../../srcmd/src/nbformat.ts';
import { Output as OutputSchema } from '../../srcmd/src/nbformat.ts';

let kernel: KernelClient;
const workDir = mkdtempSync(join(tmpdir(), 'peragus-kernel-test-'));

beforeAll(async () => {
  kernel = await startKernel({ workDir });
});
afterAll(async () => {
  await kernel?.shutdown();
});

const text = (o: Output | undefined) => (o && 'text' in o ? String(o.text) : '');

describe('KernelClient outputs', () => {
  it('is ready and idle, with PySD imported and cwd = workDir', async () => {
    expect(kernel.status).toBe('idle');
    expect(kernel.info?.language_info.name).toBe('python');
    const r = await kernel.execute(
      'import os; print(os.getcwd()); print(pysd.__version__, peragus_pysd.__name__)',
    );
    expect(r.status).toBe('ok');
    expect(text(r.outputs[0])).toMatch(new RegExp(`^${workDir}\\n3\\.14\\.\\d+ peragus_pysd\\n$`));
  });

  it('collects stream outputs, merging consecutive chunks of the same stream', async () => {
    const seen: Output[] = [];
    const r = await kernel.execute(
      'import sys\nprint("a"); sys.stdout.flush(); print("b"); sys.stdout.flush()\nprint("err", file=sys.stderr); sys.stderr.flush()\nprint("c")',
      { onOutput: (o) => seen.push(o) },
    );
    expect(r.status).toBe('ok');
    const streams = r.outputs.filter((o) => o.output_type === 'stream');
    expect(streams.map((o) => [o.name, text(o)])).toEqual([
      ['stdout', 'a\nb\n'],
      ['stderr', 'err\n'],
      ['stdout', 'c\n'],
    ]);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (const o of r.outputs) expect(OutputSchema.safeParse(o).success).toBe(true);
  });

  it('returns display_data and execute_result with execution counts', async () => {
    const r = await kernel.execute(
      'from IPython.display import display, HTML\ndisplay(HTML("<b>hi</b>"))\n{"x": 1}',
    );
    expect(r.status).toBe('ok');
    expect(r.executionCount).toBeGreaterThan(0);
    const [display, result] = r.outputs;
    expect(display).toMatchObject({ output_type: 'display_data', data: { 'text/html': '<b>hi</b>' } });
    expect(result).toMatchObject({
      output_type: 'execute_result',
      execution_count: r.executionCount,
      data: { 'text/plain': "{'x': 1}" },
    });
  });

  it('draws matplotlib inline by default (%matplotlib inline; peragus plots still save files)', async () => {
    const r = await kernel.execute('import matplotlib; matplotlib.get_backend().lower()');
    expect(r.outputs[0]).toMatchObject({
      data: { 'text/plain': "'module://matplotlib_inline.backend_inline'" },
    });
  });

  it('reports errors as an error output and an error status', async () => {
    const r = await kernel.execute('1/0');
    expect(r.status).toBe('error');
    expect(r.error).toMatchObject({ ename: 'ZeroDivisionError', evalue: 'division by zero' });
    expect(r.error?.traceback.length).toBeGreaterThan(0);
    expect(r.outputs.at(-1)).toMatchObject({ output_type: 'error', ename: 'ZeroDivisionError' });
    // The kernel is still usable.
    expect((await kernel.execute('2+2')).outputs[0]).toMatchObject({ data: { 'text/plain': '4' } });
  });

  it('applies clear_output and update_display_data', async () => {
    const clears: boolean[] = [];
    const r = await kernel.execute(
      [
        'from IPython.display import clear_output, display',
        'print("gone")',
        'clear_output()',
        'print("kept")',
        'h = display("v1", display_id=True)',
        'h.update("v2")',
      ].join('\n'),
      { onClearOutput: (w) => clears.push(w) },
    );
    expect(clears).toEqual([false]);
    expect(text(r.outputs[0])).toBe('kept\n');
    expect(r.outputs[1]).toMatchObject({ output_type: 'display_data', data: { 'text/plain': "'v2'" } });
  });

  it('survives an onOutput callback that throws', async () => {
    const r = await kernel.execute('print("x")', {
      onOutput: () => {
        throw new Error('listener bug');
      },
    });
    expect(text(r.outputs[0])).toBe('x\n');
    expect((await kernel.execute('1')).status).toBe('ok');
  });

  it('silent executes produce no execution count', async () => {
    const r = await kernel.execute('x_silent = 5', { silent: true });
    expect(r.status).toBe('ok');
    expect(r.outputs).toEqual([]);
  });
});

describe('KernelClient stdin', () => {
  it('input() fails at once instead of hanging (stdin not allowed)', async () => {
    const t0 = performance.now();
    const r = await kernel.execute('input("name? ")');
    expect(r.status).toBe('error');
    expect(r.error?.ename).toBe('StdinNotImplementedError');
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('an input_request on stdin is answered with an error (EOF), not left hanging', async () => {
    const r = await kernel.execute('input("name? ")', { allowStdin: true });
    expect(r.status).toBe('error');
    expect(r.error?.ename).toBe('EOFError');
  });
});

describe('KernelClient raw relay', () => {
  it('relays a raw execute whose input_request is answered by the relaying frontend', async () => {
    const codec = new WireCodec(kernel.connection.key, 'frontend');
    const request = codec.message('shell', 'execute_request', {
      code: 'print("got", input("name? "))',
      silent: false,
      allow_stdin: true,
    });
    const seen: Message[] = [];
    const done = new Promise<void>((resolve) => {
      const onMessage = (m: Message) => {
        if ((m.parent_header as { msg_id?: string }).msg_id !== request.header.msg_id) return;
        seen.push(m);
        if (m.header.msg_type === 'input_request') {
          void kernel.send('stdin', codec.message('stdin', 'input_reply', { value: 'ada' }, m.header));
        }
        if (m.header.msg_type === 'execute_reply') {
          kernel.off('message', onMessage);
          resolve();
        }
      };
      kernel.on('message', onMessage);
    });
    await kernel.send('shell', request);
    await done;
    const stream = seen.find((m) => m.header.msg_type === 'stream');
    expect(stream?.content).toMatchObject({ text: 'got ada\n' });
  });
});

describe('KernelClient control', () => {
  it('interrupts a cell sleeping 60 s within 2 s, and the kernel stays usable', async () => {
    const running = kernel.execute('import time\ntime.sleep(60)');
    await new Promise((r) => setTimeout(r, 300));
    expect(kernel.status).toBe('busy');
    const t0 = performance.now();
    await kernel.interrupt();
    const r = await running;
    const elapsed = performance.now() - t0;
    expect(r.status).toBe('error');
    expect(r.error?.ename).toBe('KeyboardInterrupt');
    expect(elapsed).toBeLessThan(2_000);
    expect((await kernel.execute('"alive"')).status).toBe('ok');
  });

  it('rejects with KernelTimeoutError after interrupting a cell that exceeds timeoutMs', async () => {
    const t0 = performance.now();
    await expect(kernel.execute('import time\ntime.sleep(30)', { timeoutMs: 500 })).rejects.toBeInstanceOf(
      KernelTimeoutError,
    );
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect((await kernel.execute('1')).status).toBe('ok');
  });

  it('correlates outputs of concurrent requests by parent msg_id', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => kernel.execute(`print(${i}); ${i} * 10`)),
    );
    results.forEach((r, i) => {
      expect(text(r.outputs[0])).toBe(`${i}\n`);
      expect(r.outputs[1]).toMatchObject({ data: { 'text/plain': String(i * 10) } });
    });
  });

  it('emits busy/idle status events', async () => {
    const seen: string[] = [];
    const listener = (s: string) => seen.push(s);
    kernel.on('status', listener);
    await kernel.execute('1');
    kernel.off('status', listener);
    expect(seen).toEqual(['busy', 'idle']);
  });

  it('restart() gives a fresh namespace on the same connection', async () => {
    await kernel.execute('marker = 42');
    const port = kernel.connection.shell_port;
    const pid = kernel.pid;
    await kernel.restart();
    expect(kernel.status).toBe('idle');
    expect(kernel.pid).not.toBe(pid);
    expect(kernel.connection.shell_port).toBe(port);
    const r = await kernel.execute('"marker" in globals(), pysd.__name__');
    expect(r.outputs[0]).toMatchObject({ data: { 'text/plain': "(False, 'pysd')" } });
    expect(kernel.stats.badSignatures).toBe(0);
  });
});
