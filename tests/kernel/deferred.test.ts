// A kernel launched after a step (kernel/launcher.ts deferredKernel): signals sent before the
// launch reach it, and a failed step reads as a kernel that could not start, with the reason.
import { describe, expect, it } from 'vitest';
import { deferredKernel, type KernelSpec, launchKernel } from '../../notebook-server/src/kernel/launcher.ts';

const sleeper: KernelSpec = {
  display_name: 'sleeper',
  language: 'sh',
  argv: ['/bin/sh', '-c', 'sleep 30', '{connection_file}'],
};

describe('deferredKernel', () => {
  it('queues a signal sent before the launch and delivers it to the launched process', async () => {
    let launch: () => void = () => undefined;
    const step = new Promise<void>((ok) => {
      launch = ok;
    });
    const proc = deferredKernel(
      step.then(() => launchKernel({ spec: sleeper, connectionFile: '/nonexistent.json', cwd: '/tmp' })),
    );
    expect(proc.pid).toBe(-1);
    expect(proc.hasExited).toBe(false);
    proc.signal('SIGTERM');
    launch();
    const exit = await proc.exited;
    expect(exit.signal).toBe('SIGTERM');
    expect(proc.pid).toBeGreaterThan(0);
    expect(proc.hasExited).toBe(true);
  });

  it('reports a failed step as an exit, with its message as the stderr tail', async () => {
    const proc = deferredKernel(Promise.reject(new Error('the shared kernel zygote is not running')));
    expect(await proc.exited).toEqual({ code: null, signal: null });
    expect(proc.hasExited).toBe(true);
    expect(proc.pid).toBe(-1);
    expect(proc.stderrTail()).toBe('the shared kernel zygote is not running');
    proc.signal('SIGKILL'); // nothing to signal: no throw
  });
});
