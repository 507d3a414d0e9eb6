// Forged signatures on real sockets: dropped, counted, never delivered.
import { afterAll, describe, expect, it } from 'vitest';
import { Publisher, Router } from 'zeromq';
import { KernelClient } from '../../notebook-server/src/kernel/client.ts';
import type { ConnectionInfo } from '../../notebook-server/src/kernel/connection.ts';
import { startKernel } from '../../notebook-server/src/kernel/start.ts';
import { type Message, WireCodec } from '../../notebook-server/src/kernel/wire.ts';

const portOf = (endpoint: string | null) => Number(endpoint?.split(':').at(-1));

describe('forged messages', () => {
  const closers: (() => unknown)[] = [];
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('a client drops and counts forged iopub and shell messages from a fake kernel, accepts signed ones', async () => {
    // A stand-in kernel bound by the test, so we control every byte the client receives.
    const key = 'k'.repeat(64);
    const kernelSide = new WireCodec(key);
    const forger = new WireCodec('f'.repeat(64));
    const shell = new Router({ linger: 0 });
    const iopub = new Publisher({ linger: 0 });
    await shell.bind('tcp://127.0.0.1:*');
    await iopub.bind('tcp://127.0.0.1:*');
    closers.push(
      () => shell.close(),
      () => iopub.close(),
    );
    const info: ConnectionInfo = {
      transport: 'tcp',
      ip: '127.0.0.1',
      shell_port: portOf(shell.lastEndpoint),
      iopub_port: portOf(iopub.lastEndpoint),
      // Nothing listens on these: the client just queues for them.
      stdin_port: 1,
      control_port: 1,
      hb_port: 1,
      key,
      signature_scheme: 'hmac-sha256',
      kernel_name: 'fake',
    };
    const client = new KernelClient({ connection: info, heartbeat: false });
    closers.push(() => client.shutdown());
    const delivered: Message[] = [];
    client.on('message', (m) => delivered.push(m));
    const ready = client.waitReady(10_000);

    // Answer every kernel_info_request twice: first forged, then (after some forgeries were counted) genuine.
    let genuine = false;
    void (async () => {
      for await (const frames of shell) {
        const request = kernelSide.decode(frames, 'shell');
        if (!request) continue;
        const ids = frames.slice(
          0,
          frames.findIndex((f) => f.toString() === '<IDS|MSG>'),
        );
        const content = { status: 'ok', protocol_version: '5.3', language_info: { name: 'python' } };
        const codec = genuine ? kernelSide : forger;
        await shell.send(
          codec.encode(codec.message('shell', 'kernel_info_reply', content, request.message.header), ids),
        );
        const status = codec.message('iopub', 'status', { execution_state: 'idle' }, request.message.header);
        await iopub.send(codec.encode(status, [Buffer.from('kernel.fake.status')]));
      }
    })();

    const deadline = performance.now() + 8_000;
    while (client.stats.badSignatures < 4 && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(client.stats.badSignatures).toBeGreaterThanOrEqual(4);
    expect(delivered).toEqual([]);
    expect(client.info).toBeUndefined();

    genuine = true;
    await ready;
    expect(client.status).toBe('idle');
    expect(delivered.some((m) => m.header.msg_type === 'kernel_info_reply')).toBe(true);
    expect(delivered.every((m) => m.header.session === kernelSide.session)).toBe(true);
  });

  it('a client holding the wrong key for a real ipykernel hears only dropped messages and never gets ready', async () => {
    const kernel = await startKernel();
    closers.push(() => kernel.shutdown());
    const intruder = new KernelClient({
      connection: { ...kernel.connection, key: '0'.repeat(64) },
      heartbeat: false,
    });
    closers.push(() => intruder.shutdown());
    const heard: Message[] = [];
    intruder.on('message', (m) => heard.push(m));
    const ready = intruder.waitReady(2_500).catch((e: Error) => e);
    // The genuine client's traffic is published on iopub, which the intruder also receives.
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 5; i++) await kernel.execute(`print(${i})`);
    const err = await ready;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/did not become ready.*bad signatures: [1-9]/);
    expect(intruder.stats.badSignatures).toBeGreaterThanOrEqual(5);
    expect(heard).toEqual([]);
    // The kernel ignored the intruder's unsigned-for-it requests and is fine.
    expect(kernel.stats.badSignatures).toBe(0);
    expect((await kernel.execute('1+1')).status).toBe('ok');
  });
});
