// The zygote's plan check server: forked once the imports it shares with
// kernels are done, it answers plan checks while the zygote still imports what
// kernels need. It serves nothing else, only this host reaches it, and it ends
// with the zygote.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runZygoteTask, spawnZygote, type Zygote } from '../../notebook-server/src/kernel/zygote.ts';
import { isAlive } from '../../notebook-server/src/proc/process.ts';
import { processTree } from '../../notebook-server/src/runtime/local-process.ts';
import { REPO } from '../helpers/sd-models.ts';
import { askZygote } from '../helpers/zygote.ts';

const TEACUP = join(REPO, 'notebooks', 'models', 'teacup.mdl');
const started: Zygote[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'peragus-zygote-checks-'));

afterAll(async () => {
  for (const z of started) await z.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** One request line, every answer line back (parsed). */
async function ask(path: string, request: unknown): Promise<Record<string, unknown>[]> {
  const text = await askZygote(path, request);
  if (text.startsWith('error: ')) return [{ error: `connect: ${text.slice(7)}` }];
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The zygote's child processes (its descendants: no kernel runs in these tests). */
const childrenOf = (pid: number) => processTree(pid).filter((p) => p !== pid);

async function check(socket: string, model: string, parameters: Record<string, number>) {
  const cache = join(scratch, 'cache');
  const { output } = await runZygoteTask(
    socket,
    'plancheck',
    { model, format: null, experiments: [{ type: 'single', parameters }] },
    { PATH: process.env.PATH, PERAGUS_PYSD_SHARED_CACHE: cache, MPLBACKEND: 'Agg' },
  );
  return JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
}

describe("the zygote's check server", () => {
  it('checks a plan on a socket of its own, for this host alone, and refuses kernels and registry ops there', async () => {
    const start = spawnZygote();
    const checks = await start.checks;
    const zygote = await start.ready;
    started.push(zygote);
    expect(checks).toBe(`${zygote.socketPath}.check`);
    expect(statSync(checks as string).mode & 0o077).toBe(0); // no one but this host's user

    const ok = await check(checks as string, TEACUP, { 'Characteristic Time': 7 });
    expect(ok).toMatchObject({ ok: true });
    expect(ok.model_sha256).toMatch(/^[0-9a-f]{64}$/);
    const bad = await check(checks as string, TEACUP, { 'Characteristic Tme': 7 });
    expect(bad.ok).toBe(false);
    expect(String(bad.error)).toMatch(/Characteristic Tme/);
    expect(String(bad.error)).toMatch(/Characteristic Time/); // the fix, named

    for (const request of [
      { argv: ['-f', join(scratch, 'k.json')], cwd: scratch, env: {} },
      { op: 'register', id: 'x', uid: 0, gid: 0 },
      { op: 'revoke', id: 'x' },
      { task: 'something-else', input: {} },
    ]) {
      const [answer, ...rest] = await ask(checks as string, request);
      expect(answer?.error, JSON.stringify(request)).toMatch(/serves plan checks only/);
      expect(rest).toEqual([]);
    }
    // The zygote's own socket still serves the host's registry (unchanged).
    expect(existsSync(zygote.socketPath)).toBe(true);
  }, 120_000);

  it('ends with the zygote: closed, or killed outright', async () => {
    for (const how of ['close', 'SIGKILL'] as const) {
      const start = spawnZygote();
      const checks = (await start.checks) as string;
      const zygote = await start.ready;
      const helpers = childrenOf(zygote.pid);
      expect(helpers.length).toBe(1); // the check server, and no kernel yet
      const server = helpers[0] as number;
      expect(readFileSync(`/proc/${server}/cmdline`, 'utf8')).toContain('peragus_pysd.zygote');
      if (how === 'close') await zygote.close();
      else process.kill(zygote.pid, 'SIGKILL');
      const deadline = Date.now() + 5_000;
      while (isAlive(server) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(isAlive(server), how).toBe(false);
      if (how === 'close') expect(existsSync(checks)).toBe(false);
      else await zygote.close();
    }
  }, 120_000);
});
