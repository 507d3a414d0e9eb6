// Starts a local experiment's first process: detached (its own process group, which destroy
// stops), its output appended to the experiment's logs, and — for a node — a lifeline on its stdin.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { SandboxedCommand } from './local-command.ts';
import { tailFile } from './local-record.ts';
import { ContainerRuntimeError } from './types.ts';

export interface SpawnedSandbox {
  child: ChildProcess;
  pid: number;
  /** The write end of the node's lifeline, when it has one: closing it tells the node to stop. */
  lifeline?: Writable;
}

export async function spawnSandbox(
  command: SandboxedCommand,
  { cwd, logDir, lifeline }: { cwd: string; logDir: string; lifeline: boolean },
): Promise<SpawnedSandbox> {
  const out = openSync(join(logDir, 'stdout.log'), 'a');
  const err = openSync(join(logDir, 'stderr.log'), 'a');
  const [file, ...args] = command.argv as [string, ...string[]];
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      cwd,
      env: command.env,
      detached: true,
      // A node's stdin is its lifeline: this process holds the write end and never writes,
      // so the node sees its end when this host dies, even killed -9 mid-create.
      stdio: [lifeline ? 'pipe' : 'ignore', out, err],
    });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  const stdin = child.stdin ?? undefined;
  if (stdin) {
    stdin.on('error', () => undefined); // the node may be gone first
    (stdin as unknown as { unref(): void }).unref();
  }
  const pid = await new Promise<number>((ok, fail) => {
    child.once('spawn', () => ok(child.pid as number));
    child.once('error', (e) => {
      stdin?.destroy();
      fail(new ContainerRuntimeError('create_failed', `cannot start ${file}: ${e.message}`));
    });
  });
  child.unref();
  return { child, pid, ...(stdin ? { lifeline: stdin } : {}) };
}

/**
 * Why a sandbox's first process is gone, for an error: its exit and the last lines of its stderr
 * (bubblewrap's own reason when it never ran the command), or '' while it runs.
 */
export function sandboxEnded(child: ChildProcess, logDir: string): string {
  const ended = child.exitCode ?? child.signalCode;
  return ended === null
    ? ''
    : ` (its sandbox exited ${ended}: ${tailFile(join(logDir, 'stderr.log'), 5).trim()})`;
}
