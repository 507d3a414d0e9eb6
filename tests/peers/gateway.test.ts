// Jupyter Server itself, pointed at Peragus with --gateway-url (its
// GatewayClient), starts a kernel on Peragus, executes a cell and gets the
// execute_reply; the client is @jupyterlab/services talking to Jupyter Server.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelManager, type KernelMessage, ServerConnection } from '@jupyterlab/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestHost, type TestHost } from '../http/helpers.ts';
import { peerBin } from './peers.ts';

let t: TestHost;
let jupyter: ChildProcess;
let jupyterLog = '';
let jupyterUrl = '';
const jupyterToken = 'jupyter-server-token';
const dir = mkdtempSync(join(tmpdir(), 'peragus-gateway-'));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

beforeAll(async () => {
  t = await startTestHost();
  const port = await freePort();
  jupyter = spawn(
    peerBin('jupyter-server'),
    [
      `--gateway-url=${t.host.url.replace(/\/$/, '')}`,
      `--GatewayClient.auth_token=${t.token}`,
      `--IdentityProvider.token=${jupyterToken}`,
      // CI runs as root; Jupyter Server refuses that unless told.
      '--allow-root',
      `--ServerApp.port=${port}`,
      '--ServerApp.port_retries=0',
      '--ServerApp.ip=127.0.0.1',
      '--ServerApp.open_browser=False',
      `--ServerApp.root_dir=${dir}`,
    ],
    {
      env: {
        ...process.env,
        JUPYTER_CONFIG_DIR: join(dir, 'config'),
        JUPYTER_DATA_DIR: join(dir, 'data'),
        JUPYTER_RUNTIME_DIR: join(dir, 'runtime'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  jupyter.stdout?.on('data', (d) => {
    jupyterLog += String(d);
  });
  jupyter.stderr?.on('data', (d) => {
    jupyterLog += String(d);
  });
  jupyterUrl = `http://127.0.0.1:${port}/`;
  const deadline = performance.now() + 120_000;
  for (;;) {
    if (jupyter.exitCode !== null) throw new Error(`jupyter server exited:\n${jupyterLog}`);
    const ok = await fetch(`${jupyterUrl}api`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (performance.now() > deadline) throw new Error(`jupyter server did not answer:\n${jupyterLog}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}, 180_000);

afterAll(async () => {
  if (jupyter && jupyter.exitCode === null) {
    const exited = new Promise((r) => jupyter.once('exit', r));
    jupyter.kill('SIGTERM');
    await exited;
  }
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Jupyter Server with --gateway-url on Peragus', () => {
  it('starts a Peragus kernel, executes a cell and gets execute_reply', async () => {
    const settings = ServerConnection.makeSettings({
      baseUrl: jupyterUrl,
      wsUrl: jupyterUrl.replace(/^http/, 'ws'),
      token: jupyterToken,
      appendToken: true,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    const kernels = new KernelManager({ serverSettings: settings });
    const kernel = await kernels.startNew({ name: 'peragus-pysd' });
    try {
      // The kernel Jupyter Server started lives in Peragus.
      const ours = (await fetch(new URL('api/kernels', t.host.url), {
        headers: { authorization: `token ${t.token}` },
      }).then((r) => r.json())) as { id: string }[];
      expect(ours.map((k) => k.id)).toContain(kernel.id);

      const iopub: KernelMessage.IIOPubMessage[] = [];
      const future = kernel.requestExecute({ code: 'import pysd\nprint("pysd", pysd.__version__)\n6 * 7' });
      future.onIOPub = (m) => {
        iopub.push(m);
      };
      const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
      expect(reply.header.msg_type).toBe('execute_reply');
      expect(reply.content.status).toBe('ok');
      const text = iopub
        .filter((m) => m.header.msg_type === 'stream')
        .map((m) => (m.content as { text: string }).text)
        .join('');
      expect(text).toMatch(/^pysd 3\./);
      const result = iopub.find((m) => m.header.msg_type === 'execute_result');
      expect((result?.content as { data?: Record<string, string> } | undefined)?.data?.['text/plain']).toBe(
        '42',
      );
    } finally {
      await kernel.shutdown();
      kernels.dispose();
    }
  }, 300_000);
});
