// `peragus serve` as a real child process on an ephemeral port, with its own
// PERAGUS_HOME and token: for tests that drive it with outside clients (the
// Python MCP SDK, the MCP conformance suite).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './sd-models.ts';
import { asUser } from './unprivileged.ts';

export interface Served {
  /** http://127.0.0.1:PORT/mcp */
  mcpUrl: string;
  token: string;
  home: string;
  /** What it has printed on stderr so far (the last 20 kB). */
  stderr(): string;
  stop(): Promise<void>;
}

/** `uid`: run the host as this user (from a root test run, through setpriv), its home that user's. */
export async function startServe(
  env: Record<string, string> = {},
  options: { uid?: number } = {},
): Promise<Served> {
  const home = mkdtempSync(join(tmpdir(), 'peragus-serve-'));
  const token = randomBytes(16).toString('hex');
  const { uid } = options;
  if (uid !== undefined) chownSync(home, uid, uid);
  const argv = [process.execPath, join(REPO, 'bin/peragus.js'), 'serve', '--port', '0'];
  const [file, ...args] = (uid === undefined ? argv : asUser(uid, argv)) as [string, ...string[]];
  const child: ChildProcess = spawn(file, args, {
    env: {
      ...process.env,
      ...(uid === undefined ? {} : { HOME: home }),
      PERAGUS_HOME: uid === undefined ? home : join(home, 'home'),
      PERAGUS_TOKEN: token,
      PERAGUS_RUNTIME: 'local',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  const mcpUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`peragus serve did not start in 120 s:\n${stderr}`)),
      120_000,
    );
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /MCP:\s+(http:\/\/\S+\/mcp)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`peragus serve exited (${code}):\n${stderr}`));
    });
  });
  return {
    mcpUrl,
    token,
    home,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}
