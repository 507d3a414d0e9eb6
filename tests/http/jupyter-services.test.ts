// @jupyterlab/services (the reference Jupyter client) against our server with
// real kernels, over both kernel-channel framings.
import {
  ContentsManager,
  type Kernel,
  KernelManager,
  type KernelMessage,
  SessionManager,
} from '@jupyterlab/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jupyterSettings, startTestHost, type TestHost } from './helpers.ts';

type Framing = 'v1' | 'legacy';

async function run(kernel: Kernel.IKernelConnection, code: string) {
  const iopub: KernelMessage.IIOPubMessage[] = [];
  const future = kernel.requestExecute({ code });
  future.onIOPub = (m) => {
    iopub.push(m);
  };
  const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
  return { reply, iopub };
}

const streamText = (iopub: KernelMessage.IIOPubMessage[]) =>
  iopub
    .filter((m) => m.header.msg_type === 'stream')
    .map((m) => (m.content as { text: string }).text)
    .join('');

describe.each<Framing>(['v1', 'legacy'])('@jupyterlab/services over %s framing', (framing) => {
  let t: TestHost;
  let kernels: KernelManager;

  beforeAll(async () => {
    t = await startTestHost();
    kernels = new KernelManager({ serverSettings: jupyterSettings(t, framing) });
  });
  afterAll(async () => {
    kernels?.dispose();
    await t?.close();
  });

  it('starts a kernel, executes, streams, returns execute_result, and interrupts', async () => {
    const kernel = await kernels.startNew({ name: 'peragus-pysd' });
    try {
      const info = await kernel.info;
      expect(info.language_info.name).toBe('python');

      const { reply, iopub } = await run(kernel, 'print("hello from peragus")\n6 * 7');
      expect(reply.content.status).toBe('ok');
      expect(streamText(iopub)).toContain('hello from peragus');
      const result = iopub.find((m) => m.header.msg_type === 'execute_result');
      expect((result?.content as { data?: Record<string, string> } | undefined)?.data?.['text/plain']).toBe(
        '42',
      );

      // The server negotiated the framing we asked for.
      const ws = (kernel as unknown as { _ws: { protocol: string } })._ws;
      expect(ws.protocol).toBe(framing === 'v1' ? 'v1.kernel.websocket.jupyter.org' : '');

      const slow = kernel.requestExecute({ code: 'import time\nfor i in range(600):\n    time.sleep(0.1)' });
      await new Promise((r) => setTimeout(r, 500));
      await kernel.interrupt();
      const interrupted = (await slow.done.catch((e: unknown) => e)) as KernelMessage.IExecuteReplyMsg;
      expect(interrupted.content.status).toBe('error');
      expect((interrupted.content as { ename?: string }).ename).toBe('KeyboardInterrupt');

      // Still usable after the interrupt.
      const again = await run(kernel, 'x = 5\nx + 1');
      expect(again.reply.content.status).toBe('ok');
    } finally {
      await kernel.shutdown();
    }
  });

  it('reads and saves a notebook through contents; the save reaches the session', async () => {
    const session = await t.sessions.create({ name: `contents-${framing}` });
    await session.addCell({ source: 'a = 1', filename: 'a.py' });
    await session.addCell({ cell_type: 'markdown', source: '# notes' });
    const contents = new ContentsManager({ serverSettings: jupyterSettings(t, framing) });
    const listing = await contents.get('');
    expect(listing.type).toBe('directory');
    const path = `contents-${framing}.ipynb`;
    expect((listing.content as { path: string }[]).map((m) => m.path)).toContain(path);

    const model = await contents.get(path);
    expect(model.type).toBe('notebook');
    const nb = model.content as { cells: { id: string; cell_type: string; source: string | string[] }[] };
    expect(nb.cells.map((c) => c.cell_type)).toEqual(['code', 'markdown']);

    // Edit the first cell, drop the markdown one, append a new code cell.
    const first = nb.cells[0]!;
    first.source = 'a = 2';
    nb.cells = [
      first,
      {
        id: 'newcell1',
        cell_type: 'code',
        source: 'b = a * 10',
        metadata: {},
        outputs: [],
        execution_count: null,
      } as never,
    ];
    await contents.save(path, { type: 'notebook', format: 'json', content: nb });

    const cells = t.sessions.get(session.id).cells;
    expect(cells.map((c) => [c.id, c.source])).toEqual([
      [first.id, 'a = 2'],
      ['newcell1', 'b = a * 10'],
    ]);
    const reread = await contents.get(path);
    expect((reread.content as { cells: unknown[] }).cells).toHaveLength(2);
    contents.dispose();
  });

  it('attaches to an experiment session kernel and inspects its variables', async () => {
    const session = await t.sessions.create({ name: `attach-${framing}` });
    const cell = await session.addCell({
      source: 'growth_rate = 0.25\nresults = [growth_rate * i for i in range(4)]',
    });
    const runResult = await session.execute(cell.id);
    expect(runResult.status).toBe('ok');

    const jsm = new SessionManager({ serverSettings: jupyterSettings(t, framing), kernelManager: kernels });
    await jsm.refreshRunning();
    const model = [...jsm.running()].find((s) => s.id === session.id);
    expect(model?.path).toBe(`attach-${framing}.ipynb`);
    const conn = jsm.connectTo({ model: model! });
    const { reply, iopub } = await run(conn.kernel!, 'print(results[-1])');
    expect(reply.content.status).toBe('ok');
    expect(streamText(iopub)).toContain('0.75');

    // Restarting through the Jupyter API restarts the session's kernel; the
    // connection follows the new kernel and the old variables are gone.
    await conn.kernel!.restart();
    const after = await run(conn.kernel!, 'print("results" in dir())');
    expect(after.reply.content.status).toBe('ok');
    expect(streamText(after.iopub)).toContain('False');
    // The session's own queue still runs cells on the new kernel.
    const again = await session.execute((await session.addCell({ source: 'print(1 + 1)' })).id);
    expect(again.status).toBe('ok');
    conn.dispose();
    jsm.dispose();
  });
});
