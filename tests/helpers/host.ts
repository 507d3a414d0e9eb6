// An in-process host (real kernels, runtimes and catalog in a temp
// PERAGUS_HOME) with the SDK's own Client connected over an in-memory pair.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { createHost, type Host, type HostOptions } from '../../notebook-server/src/app/host.ts';

export type Json = Record<string, unknown>;

export interface TestHost {
  home: string;
  host: Host;
  client: Client;
  /** Calls a tool; throws with the tool's error text when it fails. */
  call(name: string, args: Json): Promise<Json>;
  /** Calls a tool that must fail; returns its error text. */
  callError(name: string, args: Json): Promise<string>;
  close(): Promise<void>;
}

const LONG = { timeout: 1_800_000, resetTimeoutOnProgress: true };

export async function startTestHost(options: Omit<HostOptions, 'home'> = {}): Promise<TestHost> {
  const home = mkdtempSync(join(tmpdir(), 'peragus-test-'));
  const host = await createHost({ poolSize: 0, resumePlans: false, ...options, home });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await host.makeMcpServer().connect(a);
  const client = new Client({ name: 'peragus-test', version: '1' });
  await client.connect(b);
  return {
    home,
    host,
    client,
    async call(name, args) {
      const r = await client.callTool({ name, arguments: args }, undefined, LONG);
      if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
      return r.structuredContent as Json;
    },
    async callError(name, args) {
      const r = await client.callTool({ name, arguments: args }, undefined, LONG);
      if (!r.isError)
        throw new Error(`${name} was expected to fail but returned ${JSON.stringify(r.structuredContent)}`);
      return (r.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
    },
    async close() {
      await client.close();
      for (const kind of ['local', 'docker'] as const) {
        const list = await host.containers.list(undefined, kind).catch(() => []);
        for (const c of list) await host.containers.destroy(c.container_id).catch(() => undefined);
      }
      await host.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
