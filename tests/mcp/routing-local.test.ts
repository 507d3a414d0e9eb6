// The host routes notebook tools that name a container to that container's
// node server (local runtime: a child process with an MCP Unix socket).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';

let t: TestHost;
const call = (name: string, args: Json) => t.call(name, args);

beforeAll(async () => {
  t = await startTestHost({ runtime: 'local' });
});
afterAll(async () => {
  await t?.close();
});

describe('routing to a local container', () => {
  it('runs a session inside the container and cleans up', async () => {
    const created = await call('container_create', { experiment_id: 'exp-routed' });
    const cid = created.container_id as string;
    expect(cid).toMatch(/^local-/);
    const nb = await call('notebook_create', { name: 'inside', container_id: cid });
    expect(nb.experiment_id).toBe('exp-routed');
    const sid = nb.session_id as string;
    // The session lives in the container: the host's own manager does not know it.
    expect(t.host.notebook.sessions.has(sid)).toBe(false);
    // After notebook_create, the session id alone routes the call.
    const cell = await call('cell_add', {
      session_id: sid,
      source: 'import os\nprint(os.getpid())',
      execute: true,
    });
    const run = cell.run as { status: string; outputs: { text?: string }[] };
    expect(run.status).toBe('ok');
    expect(Number(run.outputs[0]?.text)).not.toBe(process.pid);

    const exec = await call('container_exec', { container_id: cid, cmd: ['sh', '-c', 'echo hi; exit 3'] });
    expect(exec.exit_code).toBe(3);
    expect(exec.stdout).toBe('hi\n');
    const cpIn = await t.client.callTool({
      name: 'container_cp_in',
      arguments: { container_id: cid, dest: '../escape.txt', content: 'x' },
    });
    expect(cpIn.isError).toBe(true);
    const health = await call('container_health', { container_id: cid });
    expect(health.running).toBe(true);
    expect(health.endpoint_reachable).toBe(true);

    const d1 = await call('container_destroy', { container_id: cid });
    expect(d1.removed).toBe(true);
    const d2 = await call('container_destroy', { container_id: cid });
    expect(d2.removed).toBe(false);
    const after = await t.client.callTool({
      name: 'cell_execute',
      arguments: { session_id: sid, cell_id: 'all' },
    });
    expect(after.isError).toBe(true);
  });

  it('names an unknown container in the error', async () => {
    const r = await t.client.callTool({
      name: 'notebook_create',
      arguments: { name: 'x', container_id: 'local-nope' },
    });
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toContain('local-nope');
  });
});
