// Shared by the notebook tests: temp roots, a real kernel source, event capture.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKernel } from '../../notebook-server/src/kernel/start.ts';
import type { EventBus, SessionEvent } from '../../notebook-server/src/notebook/events.ts';
import type { KernelSource } from '../../notebook-server/src/notebook/kernel-slot.ts';

/** Cold-started real ipykernels (the PySD kernelspec), one per session. */
export const realKernels: KernelSource = ({ workDir }) => startKernel({ workDir });

export function tempRoot(label: string): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), `peragus-nb-${label}-`));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export interface Capture {
  events: SessionEvent[];
  /** Resolves with the first event (already seen or future) matching pred. */
  waitFor(pred: (e: SessionEvent) => boolean, timeoutMs?: number): Promise<SessionEvent>;
  stop(): void;
}

export function capture(bus: EventBus, sessionId?: string): Capture {
  const events: SessionEvent[] = [];
  const waiters: { pred: (e: SessionEvent) => boolean; resolve: (e: SessionEvent) => void }[] = [];
  const stop = bus.subscribe(
    (e) => {
      events.push(e);
      for (const w of [...waiters]) {
        if (w.pred(e)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(e);
        }
      }
    },
    sessionId ? { session_id: sessionId } : undefined,
  );
  return {
    events,
    stop,
    waitFor(pred, timeoutMs = 30_000) {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching event within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
  };
}

/** Text of all stream outputs of a given name, joined. */
export function streamText(
  outputs: { output_type: string; name?: string; text?: string | string[] }[],
  name = 'stdout',
) {
  return outputs
    .filter((o) => o.output_type === 'stream' && o.name === name)
    .map((o) => (Array.isArray(o.text) ? o.text.join('') : (o.text ?? '')))
    .join('');
}
