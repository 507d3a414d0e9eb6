// Item 9: `serve` and `mcp` facing a locked, empty or corrupt catalog, or a
// port in use, print a clear error and exit non-zero within 5 s, leaving no
// process of theirs behind.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type Cli, cli, liveProcesses, processesUsing, until } from './helpers.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const homes: string[] = [];
const holders: Cli[] = [];
function freshHome(): string {
  const h = mkdtempSync(join(tmpdir(), 'peragus-rel9-'));
  homes.push(h);
  return h;
}
afterAll(async () => {
  for (const h of holders) {
    h.child.kill('SIGTERM');
    await h.exited;
  }
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

/**
 * The failure must come within 5 s of start-up. On a loaded machine (other
 * test files run beside this one) Node itself may take seconds to boot, so
 * the boot time of `peragus --help`, measured just before under the same
 * load, is not counted; the whole run must still end well within a minute.
 */
async function expectFastFailure(args: string[], home: string, message: RegExp, except: number[] = []) {
  const boot = (await cli(['--help'], { PERAGUS_HOME: home }).exited).ms;
  const run = cli(args, { PERAGUS_HOME: home }, 'pipe');
  const { code, ms } = await run.exited;
  expect(code, run.stderr()).not.toBe(0);
  expect(run.stderr()).toMatch(message);
  expect(ms - boot, `${args.join(' ')}: ${ms} ms, boot ${boot} ms`).toBeLessThan(5000);
  expect(ms).toBeLessThan(60_000);
  // Nothing of it left running: nothing using the home, and no kernel zygote of that process
  // (`peragus run` starts one beside the host's own start; its name carries the host's pid).
  expect(processesUsing(home, except)).toEqual([]);
  expect(zygotesOf(run.child.pid as number)).toEqual([]);
}

/** Kernel zygotes a host started: their socket names carry its pid. */
const zygotesOf = (hostPid: number) =>
  liveProcesses()
    .filter(({ cmd }) => cmd.includes(`peragus-zygote-${hostPid}-`))
    .map(({ pid, cmd }) => `${pid}: ${cmd}`);

/** A one-experiment local plan in `home` (what `peragus run` reads). */
function planIn(home: string): string {
  const file = join(home, 'plan.json');
  writeFileSync(
    file,
    JSON.stringify({
      model: { source: join(REPO, 'notebooks/models/teacup.mdl') },
      experiment: { type: 'single' },
      runtime: 'local',
    }),
  );
  return file;
}

describe('start-up errors', () => {
  it('a second host on a home with a live one is refused, naming it', async () => {
    const home = freshHome();
    const holder = cli(['serve', '--port', '0'], { PERAGUS_HOME: home });
    holders.push(holder);
    await until(() => /serving on/.test(holder.stdout()), 120_000, 'the first server');
    const url = /serving on (\S+)/.exec(holder.stdout())?.[1] as string;
    const except = processesUsing(home).map((p) => p.pid); // the holder and its kernels
    await expectFastFailure(
      ['serve', '--port', '0'],
      home,
      new RegExp(`already running on .*${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      except,
    );
  }, 300_000);

  it('a catalog locked by another process', async () => {
    const home = freshHome();
    // Any process holding the DuckDB file (here a bare DuckDB client) locks the catalog.
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { DuckDBInstance } = await import('@duckdb/node-api');
         const db = await DuckDBInstance.create(${JSON.stringify(join(home, 'catalog.duckdb'))});
         await db.connect();
         process.stdout.write('held\\n');
         setInterval(() => {}, 1000);`,
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    holder.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    try {
      await until(() => out.includes('held'), 60_000, 'the DuckDB holder');
      for (const command of [['mcp'], ['serve', '--port', '0'], ['run', planIn(home)]]) {
        await expectFastFailure(command, home, /in use by another process \(pid \d+\)/, [
          holder.pid as number,
        ]);
      }
    } finally {
      holder.kill('SIGKILL');
    }
  }, 300_000);

  it('an empty and a corrupt catalog file', async () => {
    for (const content of [Buffer.alloc(0), randomBytes(64 * 1024)]) {
      const home = freshHome();
      writeFileSync(join(home, 'catalog.duckdb'), content);
      for (const command of [['mcp'], ['serve', '--port', '0'], ['run', planIn(home)]]) {
        await expectFastFailure(command, home, /catalog.*not a valid DuckDB database.*move it aside/);
      }
    }
  }, 300_000);

  it('a port in use', async () => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      await expectFastFailure(
        ['serve', '--port', String(port)],
        freshHome(),
        new RegExp(`port ${port} on 127.0.0.1 is already in use.*--port`),
      );
    } finally {
      taken.close();
    }
  }, 120_000);
});
