// Connection files: distinct ports across concurrent kernels, private files.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { channelUrl, createConnectionFile } from '../../notebook-server/src/kernel/connection.ts';

describe('connection files', () => {
  it('gives concurrent kernels pairwise distinct ports and distinct keys', async () => {
    const files = await Promise.all(Array.from({ length: 30 }, () => createConnectionFile()));
    try {
      const ports = files.flatMap((f) => [
        f.info.shell_port,
        f.info.iopub_port,
        f.info.stdin_port,
        f.info.control_port,
        f.info.hb_port,
      ]);
      expect(new Set(ports).size).toBe(150);
      expect(new Set(files.map((f) => f.info.key)).size).toBe(30);
      expect(files[0]?.info.key).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      for (const f of files) f.dispose();
    }
  });

  it('writes the file 0600 with the Jupyter fields, and dispose() removes it', async () => {
    const f = await createConnectionFile();
    expect(statSync(f.path).mode & 0o777).toBe(0o600);
    expect(statSync(f.path.replace(/\/[^/]+$/, '')).mode & 0o077).toBe(0);
    const json = JSON.parse(readFileSync(f.path, 'utf8'));
    expect(json).toMatchObject({ transport: 'tcp', ip: '127.0.0.1', signature_scheme: 'hmac-sha256' });
    expect(channelUrl(f.info, 'shell')).toBe(`tcp://127.0.0.1:${f.info.shell_port}`);
    f.dispose();
    f.dispose();
    expect(existsSync(f.path)).toBe(false);
  });

  it('ipc transport uses a unique socket path prefix per kernel', async () => {
    const [a, b] = await Promise.all([
      createConnectionFile({ transport: 'ipc' }),
      createConnectionFile({ transport: 'ipc' }),
    ]);
    expect(a?.info.ip).not.toBe(b?.info.ip);
    expect(channelUrl(a!.info, 'hb')).toBe(`ipc://${a?.info.ip}-5`);
    a?.dispose();
    b?.dispose();
  });
});
