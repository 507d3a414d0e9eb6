// The node role started from its V8 startup snapshot (scripts/build-bundle.mjs,
// runtime/node-role-command.ts) is the same server as `peragus node`: the same
// tools, a cell run in a cold kernel (spawned through child_process, which the
// snapshot must restore), settings read at its start and fresh secrets per
// process (nothing of the snapshot's build survives into a node); and
// `peragus run` starts its local nodes from it, unless PERAGUS_NODE_SNAPSHOT=0.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSocketTransport } from '../../notebook-server/src/orchestrator/socket-transport.ts';
import { REPO } from '../helpers/sd-models.ts';
import { waitFor } from '../helpers/wait.ts';

const CLI = join(REPO, 'dist/bundle/cli');
const BLOB = join(CLI, 'node-role.blob');
const SCRIPT = join(CLI, 'node-role.cjs');
const home = mkdtempSync(join(tmpdir(), 'peragus-node-snapshot-'));
const children: ChildProcess[] = [];

beforeAll(async () => {
  // What set-up does (`npm test` runs it): a source edited since would leave `peragus run` on tsx.
  const builder = '../../scripts/build-bundle.mjs'; // plain JS, no type declarations
  const { buildBundle } = (await import(builder)) as { buildBundle: () => Promise<boolean> };
  await buildBundle();
}, 120_000);

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

type Json = Record<string, unknown>;

/** A node role process started from `argv` with `env`; resolves once its stderr matches `ready` (or it exits). */
async function spawnNode(argv: string[], env: Record<string, string>, ready: RegExp, what: string) {
  let stderr = '';
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await waitFor(what, () => (ready.test(stderr) || child.exitCode !== null ? true : undefined), 30_000, 20);
  return { child, stderr: () => stderr };
}

/** A node role on a socket in its own work dir, started from `argv`; resolves once it serves. */
async function startNode(name: string, argv: string[], env: Record<string, string> = {}) {
  const dir = join(home, name);
  const socket = join(dir, 'node.sock');
  const { child, stderr } = await spawnNode(
    [...argv, '--socket', socket, '--work-dir', join(dir, 'work')],
    {
      PERAGUS_KERNEL_ZYGOTE: '0',
      PERAGUS_POOL_SIZE: '0',
      PERAGUS_RUNTIME_DIR: join(dir, 'runtime'),
      ...env,
    },
    /serving MCP/,
    `node ${name} serving`,
  );
  expect(child.exitCode, stderr()).toBeNull();
  const client = new Client({ name: 'node-snapshot-test', version: '1' });
  await client.connect(await connectSocketTransport(socket));
  const call = async (tool: string, args: Json): Promise<Json> => {
    const r = await client.callTool({ name: tool, arguments: args }, undefined, { timeout: 120_000 });
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    return r.structuredContent as Json;
  };
  return { child, client, call, stderr, runtimeDir: join(dir, 'runtime') };
}

describe('the node role from its startup snapshot', () => {
  it('set-up builds it beside the bundle, stamped with this node binary', () => {
    expect(statSync(BLOB).size).toBeGreaterThan(1 << 20);
    expect(existsSync(SCRIPT)).toBe(true);
    const stamp = JSON.parse(readFileSync(join(CLI, 'node-role.blob.json'), 'utf8'));
    expect(stamp).toEqual({ node: process.version, execPath: process.execPath });
  });

  it('serves the same tools as `peragus node` and runs cells in a cold kernel', async () => {
    const snap = await startNode('snap', ['--snapshot-blob', BLOB, SCRIPT], {
      PERAGUS_EXPERIMENT_ID: 'exp-from-snapshot',
    });
    const plain = await startNode('plain', [join(CLI, 'peragus.mjs'), 'node']);
    expect(snap.stderr()).toMatch(/started from the startup snapshot/);
    expect(plain.stderr()).not.toMatch(/startup snapshot/);
    const names = async (c: Client) => (await c.listTools()).tools.map((t) => t.name).sort();
    const tools = await names(snap.client);
    expect(tools).toEqual(await names(plain.client));
    expect(tools).toContain('cell_add');
    // The snapshot's bundle keeps zod's English messages only (scripts/build-bundle.mjs,
    // nodeRoleDiet): a bad input reads the same as from the full bundle.
    const bad = async (c: Client) => {
      const r = await c.callTool({ name: 'cell_add', arguments: { session_id: 7, source: ['x'] } });
      expect(r.isError).toBe(true);
      return JSON.stringify(r.content);
    };
    const message = await bad(snap.client);
    expect(message).toMatch(/expected string, received number/);
    expect(message).toBe(await bad(plain.client));

    // Settings are read when the node starts: this one's experiment id and runtime dir, not the build's.
    const nb = await snap.call('notebook_create', { name: 'snap' });
    expect(JSON.stringify(nb)).toContain('exp-from-snapshot');
    const cell = await snap.call('cell_add', {
      session_id: nb.session_id,
      source: 'import os, pysd\nprint(os.getpid() != 1, 6 * 7)',
      execute: true,
    });
    expect((cell.run as Json).status).toBe('ok');
    expect(JSON.stringify(cell)).toContain('True 42');
    expect(readdirSync(snap.runtimeDir).some((f) => /^kernel-.*\.json$/.test(f))).toBe(true);
    await snap.client.close();
    await plain.client.close();
  }, 180_000);

  it('gives each node its own secrets: kernel keys differ between two snapshot nodes', async () => {
    const keys: string[] = [];
    for (const name of ['keys-a', 'keys-b']) {
      const n = await startNode(name, ['--snapshot-blob', BLOB, SCRIPT]);
      const nb = await n.call('notebook_create', { name });
      await n.call('cell_add', { session_id: nb.session_id, source: '1', execute: true });
      // The kernel's connection file: HMAC key and ports chosen by this process.
      const file = readdirSync(n.runtimeDir).find((f) => /^kernel-.*\.json$/.test(f));
      expect(file, `a connection file in ${n.runtimeDir}`).toBeDefined();
      keys.push(JSON.parse(readFileSync(join(n.runtimeDir, file as string), 'utf8')).key);
      await n.client.close();
    }
    expect(keys[0]).toMatch(/^[0-9a-f-]{32,}$/);
    expect(keys[0]).not.toBe(keys[1]);
  }, 180_000);

  it('a hub node (swarm) from it loads the packages left outside the snapshot (ws)', async () => {
    const dir = mkdtempSync(join(home, 'hub-'));
    // Nothing listens on port 9: the node keeps trying, which needs ws loaded.
    const { child, stderr } = await spawnNode(
      ['--snapshot-blob', BLOB, SCRIPT, '--hub', 'ws://127.0.0.1:9/hub', '--work-dir', join(dir, 'work')],
      { PERAGUS_HUB_TOKEN: 'not-a-real-token', PERAGUS_EXPERIMENT_ID: 'exp-hub' },
      /retrying/,
      'the hub node retrying',
    );
    expect(stderr()).toMatch(/serving MCP over the hub ws:\/\/127\.0\.0\.1:9\/hub/);
    expect(stderr()).not.toMatch(/Cannot find module/);
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
  });

  it('`peragus run` starts its local nodes from it (PERAGUS_LOCAL_SESSIONS=node); PERAGUS_NODE_SNAPSHOT=0 from the bundle', async () => {
    const plan = join(home, 'plan.json');
    writeFileSync(
      plan,
      JSON.stringify({
        model: { source: join(REPO, 'notebooks/models/sir.mdl') },
        experiment: { type: 'single' },
        targets: [{ 'Contact Rate': 5 }],
      }),
    );
    for (const [flag, expected] of [
      ['1', true],
      ['0', false],
    ] as const) {
      const runHome = join(home, `run-${flag}`);
      await promisify(execFile)(process.execPath, [join(REPO, 'bin/peragus.js'), 'run', plan], {
        env: {
          ...process.env,
          PERAGUS_HOME: runHome,
          PERAGUS_NODE_SNAPSHOT: flag,
          PERAGUS_LOCAL_SESSIONS: 'node',
        },
        timeout: 300_000,
      });
      const [experiment] = readdirSync(join(runHome, 'experiments'));
      const log = readFileSync(join(runHome, 'experiments', experiment as string, 'logs/stderr.log'), 'utf8');
      expect(log).toMatch(/serving MCP/);
      expect(/started from the startup snapshot/.test(log), log).toBe(expected);
    }
  }, 600_000);
});
