// The hub without a cluster: a real HubServer on 127.0.0.1 and a real node
// client (runtime/hub/node-client.ts) in this process, with an MCP server
// behind it. What a node or a stranger can do to the host through it: tokens
// (wrong, another experiment's, revoked), a connection that drops mid-stream
// (nothing lost, nothing doubled), files (sha256 lies, size caps, paths out
// of the work dir, links), commands.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { Channel } from '../../notebook-server/src/runtime/hub/channel.ts';
import { NodeHubClient } from '../../notebook-server/src/runtime/hub/node-client.ts';
import { Upload } from '../../notebook-server/src/runtime/hub/node-ops.ts';
import { HubServer } from '../../notebook-server/src/runtime/hub/server.ts';
import { EXPERIMENT_HEADER, type Frame } from '../../notebook-server/src/runtime/hub/wire.ts';
import { ContainerRuntimeError } from '../../notebook-server/src/runtime/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'peragus-hub-'));
const work = join(dir, 'work');
const tokenFile = join(dir, 'hub', 'tokens.json');
let hub: HubServer;
let node: NodeHubClient;
let token: string;

function serveMcp() {
  return async (transport: Parameters<McpServer['connect']>[0]) => {
    const server = new McpServer({ name: 'test-node', version: '1' }, { capabilities: { logging: {} } });
    server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
      content: [{ type: 'text', text }],
    }));
    // n numbered events, a few at a time, then the count: what the router relays as session events.
    server.registerTool('burst', { inputSchema: { n: z.number().int() } }, async ({ n }) => {
      for (let i = 0; i < n; i++) {
        await server.server.sendLoggingMessage({ level: 'info', logger: 'burst', data: { i } });
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 2));
      }
      return { content: [{ type: 'text', text: String(n) }] };
    });
    await server.connect(transport);
  };
}

/** A raw upgrade attempt: the HTTP status the hub answers, or 101 when it lets the socket in. */
function tryConnect(experimentId: string, tok: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(hub.url, {
      headers: { authorization: `Bearer ${tok}`, [EXPERIMENT_HEADER]: experimentId },
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', () => resolve(-1));
  });
}

async function rejection(p: Promise<unknown>): Promise<ContainerRuntimeError> {
  const err = await p.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ContainerRuntimeError);
  return err as ContainerRuntimeError;
}

beforeAll(async () => {
  mkdirSync(work, { recursive: true });
  hub = new HubServer({ host: '127.0.0.1', ports: 0, tokenFile });
  await hub.listen();
  token = hub.admit('exp-a');
  node = new NodeHubClient({
    url: hub.url,
    experimentId: 'exp-a',
    token,
    workDir: work,
    serveMcp: serveMcp(),
  });
  node.start();
  await hub.waitConnected('exp-a', 10_000);
});

afterAll(async () => {
  node?.stop();
  await hub?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('hub tokens', () => {
  it('keeps only the hash of a token, and admits only that token for that experiment', async () => {
    const stored = readFileSync(tokenFile, 'utf8');
    expect(stored).not.toContain(token);
    expect(stored).toContain(createHash('sha256').update(token).digest('hex'));
    const other = hub.admit('exp-b');
    expect(await tryConnect('exp-a', 'not-the-token')).toBe(401);
    expect(await tryConnect('exp-a', other)).toBe(401); // another experiment's token
    expect(await tryConnect('exp-nobody', token)).toBe(401);
    expect(await tryConnect('exp-b', other)).toBe(101);
    hub.revoke('exp-b');
    expect(await tryConnect('exp-b', other)).toBe(401); // revoked
    expect(readFileSync(tokenFile, 'utf8')).not.toContain(createHash('sha256').update(other).digest('hex'));
  });

  it('a restarted host knows the tokens it minted (hashes on disk)', async () => {
    const again = new HubServer({ host: '127.0.0.1', ports: 0, tokenFile });
    try {
      expect(again.tokens.verify('exp-a', token)).toBe(true);
      expect(again.tokens.verify('exp-b', 'x')).toBe(false);
    } finally {
      await again.close();
    }
  });
});

describe('MCP over the hub', () => {
  it('a tool call answers over the channel', async () => {
    const client = new Client({ name: 'host', version: '1' });
    await client.connect(hub.link('exp-a')!.openMcp());
    const r = (await client.callTool({ name: 'echo', arguments: { text: 'over the hub' } })) as {
      content: { text: string }[];
    };
    expect(r.content[0]!.text).toBe('over the hub');
    await client.close();
  });

  it('a connection dropped twice mid-stream loses and doubles no event', async () => {
    const client = new Client({ name: 'host', version: '1' });
    const seen: number[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      seen.push((n.params.data as { i: number }).i);
    });
    await client.connect(hub.link('exp-a')!.openMcp());
    const resumedBefore = hub.counters.resumed;
    const n = 3000;
    const call = client.callTool({ name: 'burst', arguments: { n } }, undefined, { timeout: 60_000 });
    // Drop the socket once events flow, and again later: the node reconnects and both sides replay.
    const waitFor = async (count: number) => {
      while (seen.length < count) await new Promise((r) => setTimeout(r, 5));
    };
    await waitFor(200);
    node.dropConnection();
    await waitFor(1500);
    node.dropConnection();
    const r = (await call) as { content: { text: string }[] };
    expect(r.content[0]!.text).toBe(String(n));
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(hub.counters.resumed).toBeGreaterThanOrEqual(resumedBefore + 2);
    await client.close();
  });
});

describe('files and commands over the hub', () => {
  it('copies in and out, checked by sha256', async () => {
    const link = hub.link('exp-a')!;
    const data = Buffer.alloc(700_000, 7);
    const sha = createHash('sha256').update(data).digest('hex');
    expect(await link.upload('results/big.bin', data, 10_000)).toEqual({
      path: 'results/big.bin',
      sha256: sha,
      bytes: data.length,
    });
    const dest = join(dir, 'out', 'big.bin');
    expect(await link.download('results/big.bin', dest, 10_000)).toEqual({ sha256: sha, bytes: data.length });
    expect(createHash('sha256').update(readFileSync(dest)).digest('hex')).toBe(sha);
  });

  it('refuses paths out of the work dir, links, and files over the size cap (no partial file left)', async () => {
    const link = hub.link('exp-a')!;
    const outside = await rejection(link.request('cp_out', { path: '../../etc/passwd' }, 10_000));
    expect(outside.code).toBe('invalid_path');
    symlinkSync('/etc/passwd', join(work, 'link.txt'));
    const linked = await rejection(link.download('link.txt', join(dir, 'out', 'link.txt'), 10_000));
    expect(linked.message).toMatch(/link/i);
    writeFileSync(join(work, 'hundred.bin'), Buffer.alloc(100));
    const dest = join(dir, 'capped', 'hundred.bin');
    const capped = await rejection(link.download('hundred.bin', dest, 10_000, 10));
    expect(capped.code).toBe('copy_failed');
    expect(capped.message).toMatch(/cap/);
    expect(readdirSync(join(dir, 'capped'))).toEqual([]);
    const upEscape = await rejection(
      link.request('cp_in', { path: '/etc/x', bytes: 1, sha256: 'a' }, 10_000),
    );
    expect(upEscape.code).toBe('invalid_path');
  });

  it('a node whose upload does not match its declared sha256 writes nothing', () => {
    const up = new Upload({ path: 'lie.txt', bytes: 5, sha256: '0'.repeat(64) });
    up.add(Buffer.from('hello'));
    expect(() => up.finish(work)).toThrow(/refused/);
    expect(existsSync(join(work, 'lie.txt'))).toBe(false);
  });

  it('runs a command in the work dir, with a timeout', async () => {
    const link = hub.link('exp-a')!;
    const ok = await link.request('exec', { cmd: ['sh', '-c', 'pwd; echo $X'], env: { X: 'y' } }, 10_000);
    expect(ok.stdout).toBe(`${work}\ny\n`);
    const slow = await link.request('exec', { cmd: ['sleep', '5'], timeout_ms: 200 }, 10_000);
    expect(slow).toMatchObject({ timed_out: true, exit_code: 124 });
  });
});

describe('a node that lies', () => {
  it('a file whose sha256 does not match its bytes is refused and not kept', async () => {
    const liar = hub.admit('exp-liar');
    const ws = new WebSocket(hub.url, {
      headers: { authorization: `Bearer ${liar}`, [EXPERIMENT_HEADER]: 'exp-liar' },
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ k: 'hello', epoch: null, received: 0 } satisfies Frame));
    const welcome = await new Promise<Frame>((r) => ws.once('message', (d) => r(JSON.parse(d.toString()))));
    const channel = new Channel();
    channel.attach(ws, (welcome as { received: number }).received);
    channel.onBody = (b) => {
      if (b.t !== 'req') return;
      channel.send({ t: 'chunk', id: b.id, d: Buffer.from('real bytes').toString('base64') });
      channel.send({
        t: 'end',
        id: b.id,
        sha256: createHash('sha256').update('other bytes').digest('hex'),
        bytes: 10,
      });
      channel.send({ t: 'res', id: b.id, ok: true, value: {} });
    };
    await hub.waitConnected('exp-liar', 5000);
    const dest = join(dir, 'liar', 'x.parquet');
    const err = await rejection(hub.link('exp-liar')!.download('x.parquet', dest, 10_000));
    expect(err.message).toMatch(/refused/);
    expect(readdirSync(join(dir, 'liar'))).toEqual([]);
    hub.revoke('exp-liar');
    await new Promise((r) => ws.once('close', r));
  });
});

describe('the hub over TLS', () => {
  it('a node that pins the hub certificate connects over wss://; one that does not is refused', async () => {
    const tlsDir = join(dir, 'tls');
    mkdirSync(tlsDir);
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=peragus-hub'],
        ...[
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          join(tlsDir, 'key.pem'),
          '-out',
          join(tlsDir, 'cert.pem'),
        ],
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(tlsDir, 'cert.pem'), 'utf8');
    const secure = new HubServer({
      host: '127.0.0.1',
      ports: 0,
      tls: { cert, key: readFileSync(join(tlsDir, 'key.pem'), 'utf8') },
    });
    const url = await secure.listen();
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/hub$/);
    expect(secure.ca).toBe(cert);
    const tok = secure.admit('exp-tls');
    const common = { url, experimentId: 'exp-tls', token: tok, workDir: work, serveMcp: serveMcp() };
    const unpinned = new NodeHubClient(common);
    const pinned = new NodeHubClient({ ...common, ca: cert });
    try {
      unpinned.start();
      await new Promise((r) => setTimeout(r, 1000));
      expect(secure.connected('exp-tls')).toBe(false);
      unpinned.stop();
      pinned.start();
      const link = await secure.waitConnected('exp-tls', 10_000);
      const client = new Client({ name: 'host', version: '1' });
      await client.connect(link.openMcp());
      const r = (await client.callTool({ name: 'echo', arguments: { text: 'tls' } })) as {
        content: { text: string }[];
      };
      expect(r.content[0]!.text).toBe('tls');
      await client.close();
    } finally {
      unpinned.stop();
      pinned.stop();
      await secure.close();
    }
  });
});
