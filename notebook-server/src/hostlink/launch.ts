// Finds this home's host, or starts one in the background (`peragus serve
// --port 0`, detached, its output appended to <home>/host.log) and waits for
// its address file. Two callers racing both end up on the one host that won.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findHost, type HostAddress } from './address.ts';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bin/peragus.js');

export interface EnsureHostOptions {
  log: (message: string) => void;
  /** How long the new host may take to answer (it may build the UI first; default 300 s). */
  timeoutMs?: number;
}

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function ensureHost(
  home: string,
  options: EnsureHostOptions,
): Promise<{ address: HostAddress; started: boolean }> {
  const found = await findHost(home);
  if (found.kind === 'live') return { address: found.address, started: false };
  if (found.kind !== 'none') options.log(`peragus: ignoring ${found.path}: ${found.reason}`);

  mkdirSync(home, { recursive: true });
  const logFile = join(home, 'host.log');
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, PERAGUS_HOME: home },
  });
  closeSync(out);
  child.unref();
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? 1;
  });
  options.log(`peragus: no host was running on ${home}; starting one in the background (pid ${child.pid})`);

  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await findHost(home);
    // Ours, or another starter's that won the race for the catalog.
    if (now.kind === 'live') return { address: now.address, started: now.address.pid === child.pid };
    if (exited !== null) {
      // The loser of a race exits on the catalog lock; give the winner time to write its file.
      await new Promise((r) => setTimeout(r, 2000));
      const again = await findHost(home);
      if (again.kind === 'live') return { address: again.address, started: false };
      throw new Error(
        `the background host exited with code ${exited} before it was ready; its log (${logFile}) ends:\n${tail(logFile)}`,
      );
    }
  }
  throw new Error(
    `the background host did not answer within ${(options.timeoutMs ?? 300_000) / 1000} s; see ${logFile}`,
  );
}
