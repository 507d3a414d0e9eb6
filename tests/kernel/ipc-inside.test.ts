// A kernel whose session the host serves lives in a sandbox and binds its ipc sockets in its work
// dir, where its own code can write: kernel/connection.ts (the connection file) and
// kernel/channels.ts (the sockets) never follow a link there. The attacks: a link planted for
// the kernels' directory, and a link at a socket's path to another socket of the host.
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KernelClient } from '../../notebook-server/src/kernel/client.ts';
import { createConnectionFile } from '../../notebook-server/src/kernel/connection.ts';
import { launchKernel, loadKernelSpec } from '../../notebook-server/src/kernel/launcher.ts';
import { startKernel } from '../../notebook-server/src/kernel/start.ts';
import { tempRoot } from '../notebook/helpers.ts';

const tmp = tempRoot('ipc-inside');
afterAll(() => tmp.cleanup());

function dirs(label: string) {
  const work = join(tmp.root, label, 'work');
  const outside = join(tmp.root, label, 'outside');
  mkdirSync(work, { recursive: true });
  mkdirSync(outside, { recursive: true });
  return { work, outside };
}

describe("a kernel's connection inside its work dir", () => {
  it('a real kernel binds its sockets there and the client reaches it through pinned sockets', async () => {
    const { work } = dirs('real');
    const spec = loadKernelSpec();
    // Forked here as a plain process (the zygote's fork into a sandbox is tests/security/zygote-sandbox.test.ts).
    const kernel = await startKernel({
      workDir: work,
      heartbeat: false,
      inSandbox: {
        connection: { dir: '.peragus/kernels' },
        fork: (request) =>
          launchKernel({
            spec,
            connectionFile: request.argv[1] as string,
            cwd: request.cwd,
            env: request.env as Record<string, string>,
          }),
      },
    });
    try {
      // Relative to the work dir: short, whatever the work dir's own path.
      expect(kernel.connection.ip).toMatch(/^\.peragus\/kernels\/[0-9a-f]{12}$/);
      const sockets = readdirSync(join(work, '.peragus', 'kernels')).filter((n) => !n.endsWith('.json'));
      expect(sockets).toHaveLength(5);
      const run = await kernel.execute('print(6 * 7)');
      expect(run.status).toBe('ok');
      expect(JSON.stringify(run.outputs)).toContain('42');
    } finally {
      await kernel.shutdown();
    }
    // Its connection file and sockets are gone with it.
    expect(readdirSync(join(work, '.peragus', 'kernels'))).toEqual([]);
  }, 120_000);

  it('a link planted for the kernels directory is refused: no connection file is written through it', async () => {
    const { work, outside } = dirs('dir-link');
    mkdirSync(join(work, '.peragus'));
    symlinkSync(outside, join(work, '.peragus', 'kernels'));
    await expect(createConnectionFile({ inside: { root: work, dir: '.peragus/kernels' } })).rejects.toThrow(
      /link/i,
    );
    expect(readdirSync(outside)).toEqual([]);
  });

  it("a link at a socket's path to another socket of the host is refused, never connected to", async () => {
    const { work, outside } = dirs('socket-link');
    const connection = await createConnectionFile({ inside: { root: work, dir: '.peragus/kernels' } });
    // Another socket of the host (the Docker socket, say): it must see no connection at all.
    const target = join(outside, 'host.sock');
    let connections = 0;
    const server: Server = createServer((c) => {
      connections++;
      c.destroy();
    });
    await new Promise<void>((r) => server.listen(target, r));
    try {
      symlinkSync(target, join(work, `${connection.info.ip}-1`)); // the shell socket's path
      const client = new KernelClient({ connection, socketsInside: work, heartbeat: false });
      const dead = new Promise<string>((r) => client.on('dead', (reason) => r(reason)));
      expect(await dead).toMatch(/shell channel cannot be connected: .*link/i);
      await new Promise((r) => setTimeout(r, 300));
      expect(connections).toBe(0);
      await client.shutdown();
      expect(existsSync(target)).toBe(true);
    } finally {
      server.close();
    }
  });
});
