// A real host server for tests: a SessionManager with cold-started PySD
// kernels, an EventBus, and the HTTP face on a free port.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerConnection } from '@jupyterlab/services';
import WebSocket from 'ws';
import type { HostContext } from '../../notebook-server/src/http/context.ts';
import { type HostServer, startHostServer } from '../../notebook-server/src/http/server.ts';
import { startKernel } from '../../notebook-server/src/kernel/start.ts';
import { EventBus } from '../../notebook-server/src/notebook/events.ts';
import { SessionManager } from '../../notebook-server/src/notebook/manager.ts';

export interface TestHost {
  host: HostServer;
  sessions: SessionManager;
  bus: EventBus;
  token: string;
  home: string;
  logs: string[];
  close(): Promise<void>;
}

export async function startTestHost(
  extra: Partial<HostContext> & { buildUi?: boolean } = {},
): Promise<TestHost> {
  const home = mkdtempSync(join(tmpdir(), 'peragus-http-'));
  const bus = new EventBus();
  const sessions = new SessionManager({
    root: join(home, 'experiments'),
    kernelSource: ({ workDir }) => startKernel({ workDir }),
    bus,
  });
  const token = randomBytes(12).toString('hex');
  const logs: string[] = [];
  const host = await startHostServer({
    port: 0,
    token,
    home,
    sessions,
    events: bus,
    buildUi: false,
    log: (m) => logs.push(m),
    ...extra,
  });
  return {
    host,
    sessions,
    bus,
    token,
    home,
    logs,
    async close() {
      await host.close();
      await sessions.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** A ws client that offers no subprotocol: the server then speaks the legacy JSON framing. */
export class LegacyWebSocket extends WebSocket {
  constructor(url: string | URL, _protocols?: string | string[]) {
    super(url);
  }
}

export function jupyterSettings(t: TestHost, framing: 'v1' | 'legacy' = 'v1'): ServerConnection.ISettings {
  const base = t.host.url;
  return ServerConnection.makeSettings({
    baseUrl: base,
    wsUrl: base.replace(/^http/, 'ws'),
    token: t.token,
    appendToken: true,
    WebSocket: (framing === 'v1' ? WebSocket : LegacyWebSocket) as unknown as typeof globalThis.WebSocket,
  });
}
