// `peragus mcp` with no host running becomes the home's host (embedded: the
// browser URL on stderr, the address file, until the client disconnects),
// replacing a stale address file; with a host running it bridges, and when
// that host dies the bridge says so on stderr and exits 1 with its stdout
// closed; unreadable address files are named and replaced.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.ts';
import { api, BIN, peragus, readAddressFile, startServe } from './helpers.ts';

const homes: string[] = [];
const pids: number[] = [];
function newHome(): { home: string; env: NodeJS.ProcessEnv } {
  const home = mkdtempSync(join(tmpdir(), 'peragus-bridge-'));
  homes.push(home);
  return { home, env: { ...process.env, PERAGUS_HOME: home, PERAGUS_POOL_SIZE: '0' } };
}

afterAll(async () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

/** A pid that certainly names no process: a child that has exited. */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => p.once('exit', r));
  return p.pid as number;
}

function staleAddress(pid: number) {
  return JSON.stringify({
    url: 'http://127.0.0.1:9/',
    token: 'old',
    pid,
    hostname: hostname(),
    started_at: new Date().toISOString(),
    version: '0.1.0',
  });
}

describe('peragus mcp and the home host', () => {
  it('with no live host (a stale file), it hosts the home itself until the client leaves', async () => {
    const { home, env } = newHome();
    writeFileSync(join(home, 'host.json'), staleAddress(await deadPid()));
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp'],
      env: env as Record<string, string>,
      stderr: 'pipe',
    });
    let err = '';
    transport.stderr?.on('data', (d) => {
      err += String(d);
    });
    const client = new Client({ name: 'desktop-like', version: '1' });
    await client.connect(transport);
    const pid = transport.pid as number;
    pids.push(pid);
    const address = readAddressFile(home);
    if (!address) throw new Error('no address file');
    expect(address.pid).toBe(pid);
    expect(statSync(join(home, 'host.json')).mode & 0o777).toBe(0o600);
    expect(err).toMatch(/replacing the address file .*host\.json: its process \d+ is gone/);
    expect(err).toContain(`browser: ${address.url}?token=${address.token}`);

    // The browser and the shell see what the agent does.
    const nb = await client.callTool({
      name: 'notebook_create',
      arguments: { name: 'embedded', experiment_id: 'emb-1' },
    });
    const sid = (nb.structuredContent as { session_id: string }).session_id;
    const sessions = await api<{ id: string }[]>(address, '/ui-api/sessions');
    expect(sessions.map((s) => s.id)).toContain(sid);
    const q = await peragus(['catalog', 'query', 'SELECT count(*) AS n FROM experiments'], env);
    expect(q.code).toBe(0);

    // The client leaves: the host stops and takes its address file with it.
    await client.close();
    await waitFor('the address file to go', () => (readAddressFile(home) ? undefined : true), 60_000);
  }, 300_000);

  it('bridges to a running host and exits 1 when that host dies', async () => {
    const { env } = newHome();
    const serve = await startServe(env);
    if (serve.proc.pid) pids.push(serve.proc.pid);
    const bridge = spawn(process.execPath, [BIN, 'mcp'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    bridge.stderr.on('data', (d) => {
      err += String(d);
    });
    bridge.stdout.on('data', (d) => {
      out += String(d);
    });
    const stdoutClosed = new Promise<void>((r) => bridge.stdout.once('close', () => r()));
    const exited = new Promise<number | null>((r) => bridge.once('exit', (c) => r(c)));
    const send = (m: unknown) => bridge.stdin.write(`${JSON.stringify(m)}\n`);
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    await waitFor('the initialize result', () => (out.includes('"id":1') ? true : undefined), 120_000);
    expect(JSON.parse(out.trim().split('\n')[0] as string).result.serverInfo.name).toBe('peragus');
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    await waitFor('tools/list', () => (out.includes('"id":2') ? true : undefined), 60_000);
    expect(out).toContain('notebook_create');
    expect(err).toContain(`using the host of ${env.PERAGUS_HOME} (pid ${serve.address.pid})`);

    serve.proc.kill('SIGKILL');
    expect(await exited).toBe(1);
    await stdoutClosed;
    expect(err).toContain(`the host ${serve.address.url} stopped`);
  }, 300_000);

  it('an unreadable or stale address file is named and replaced; commands work without a host', async () => {
    const { home, env } = newHome();
    writeFileSync(join(home, 'host.json'), '{not json');
    const serve = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    serve.stderr.on('data', (d) => {
      log += String(d);
    });
    if (serve.pid) pids.push(serve.pid);
    const address = await waitFor('the new address file', () => {
      const a = readAddressFile(home);
      return a && a.pid === serve.pid ? a : undefined;
    });
    expect(log).toMatch(/replacing the address file .*host\.json: not JSON/);
    const exited = new Promise((r) => serve.once('exit', r));
    serve.kill('SIGTERM');
    await exited;
    // A host that stops cleanly takes its address file with it.
    expect(readAddressFile(home)).toBeUndefined();
    expect(address.pid).toBe(serve.pid);

    // A file naming a live process that is no host (this test runner) is stale too.
    writeFileSync(join(home, 'host.json'), staleAddress(process.pid));
    const q = await peragus(['catalog', 'query', 'SELECT count(*) AS n FROM experiments'], env);
    expect(q.stderr).toMatch(/no live host .*host\.json: http:\/\/127\.0\.0\.1:9\/ does not answer/);
    expect(q.code).toBe(0);
    expect(q.stdout).toMatch(/\n0\s*\n/);
  }, 300_000);
});
