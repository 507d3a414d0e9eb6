// Shared pieces of the reliability tests: the CLI as a child process, a tiny
// tmpfs to run out of space on, and a scan for processes a home left behind.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers/sd-models.ts';

export const BIN = join(REPO, 'bin/peragus.js');

export interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/** Runs `peragus ARGS` with its own PERAGUS_HOME; output is collected. */
export function cli(args: string[], env: Record<string, string>, stdin: 'pipe' | 'ignore' = 'ignore'): Cli {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, PERAGUS_POOL_SIZE: '0', ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, ms: performance.now() - started })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Every live process but this one (zombies are already dead): pid and command line. */
export function liveProcesses(): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) found.push({ pid, cmd });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Pids (other than `except`) whose cwd, command line or environment mention `home`. */
export function processesUsing(home: string, except: number[] = []): { pid: number; cmd: string }[] {
  return liveProcesses().filter(({ pid, cmd }) => {
    if (except.includes(pid)) return false;
    let cwd = '';
    let environ = '';
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      // not ours to read, or exited meanwhile
    }
    return cmd.includes(home) || cwd.startsWith(home) || environ.includes(`PERAGUS_HOME=${home}\0`);
  });
}

export async function until<T>(check: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether this process may mount a tmpfs (root); in CI it must. */
export function canMount(): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI) throw new Error('the reliability tests need root (a tmpfs mount) in CI');
  process.stderr.write('\n!!! tmpfs tests SKIPPED: they need root to mount a tmpfs !!!\n\n');
  return false;
}

/** A fresh tmpfs of `mib` MiB; `release()` unmounts and removes it. */
export function tmpfs(mib: number): { dir: string; release(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'peragus-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir]);
  return {
    dir,
    release() {
      try {
        execFileSync('umount', ['-l', dir]);
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Files named *.tmp (or holding ".tmp" as a temp suffix) under dir. */
export function tempFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.tmp$|\.tmp-\d+$|\.peragus-tmp$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** An in-process host on a given home with the SDK's Client over an in-memory pair. */
export async function hostAt(home: string, options: { runtime?: 'local' | 'docker' } = {}) {
  const { createHost } = await import('../../notebook-server/src/app/host.ts');
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { InMemoryTransport } = await import('@modelcontextprotocol/sdk/inMemory.js');
  const host = await createHost({ home, poolSize: 0, resumePlans: false, ...options });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await host.makeMcpServer().connect(a);
  const client = new Client({ name: 'peragus-reliability', version: '1' });
  await client.connect(b);
  const LONG = { timeout: 600_000, resetTimeoutOnProgress: true };
  type Json = Record<string, unknown>;
  const raw = (name: string, args: Json) => client.callTool({ name, arguments: args }, undefined, LONG);
  const text = (r: Awaited<ReturnType<typeof raw>>) =>
    (r.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
  return {
    host,
    client,
    async call(name: string, args: Json): Promise<Json> {
      const r = await raw(name, args);
      if (r.isError) throw new Error(`${name}: ${text(r)}`);
      return r.structuredContent as Json;
    },
    async callError(name: string, args: Json): Promise<string> {
      const r = await raw(name, args);
      if (!r.isError) throw new Error(`${name} should have failed: ${JSON.stringify(r.structuredContent)}`);
      return text(r);
    },
    async close() {
      await client.close();
      for (const c of await host.containers.list().catch(() => [])) {
        await host.containers.destroy(c.container_id).catch(() => undefined);
      }
      await host.close();
    },
  };
}
