// Processes as a user starts them: `peragus serve` on a temp home (waiting for
// its address file), and one-shot CLI commands with their exit code and output.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { HostAddress } from '../../notebook-server/src/hostlink/address.ts';
import { REPO } from '../helpers/sd-models.ts';
import { waitFor } from '../helpers/wait.ts';

export const BIN = join(REPO, 'bin/peragus.js');
const exec = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function peragus(args: string[], env: NodeJS.ProcessEnv, timeout = 600_000): Promise<CliResult> {
  return exec(process.execPath, [BIN, ...args], { env, timeout, maxBuffer: 1 << 24 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

export function readAddressFile(home: string): HostAddress | undefined {
  const path = join(home, 'host.json');
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as HostAddress;
  } catch {
    return undefined;
  }
}

export interface ServeProcess {
  proc: ChildProcess;
  address: HostAddress;
  output: () => string;
  exited: Promise<number | null>;
}

/** `peragus serve --port 0`; resolves once its address file names it. */
export async function startServe(env: NodeJS.ProcessEnv): Promise<ServeProcess> {
  const home = env.PERAGUS_HOME as string;
  const proc = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d) => {
    out += String(d);
  });
  proc.stderr?.on('data', (d) => {
    out += String(d);
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const address = await waitFor('the host address file', () => {
    if (gone) throw new Error(`peragus serve exited early:\n${out}`);
    const a = readAddressFile(home);
    return a && a.pid === proc.pid ? a : undefined;
  });
  return { proc, address, output: () => out, exited };
}

/** GET/POST on the host's browser API with its token. */
export async function api<T = unknown>(address: HostAddress, path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, address.url), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `token ${address.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
