// `peragus rerun` of a browser export and of an MCP export: both bundles are
// the same, and the rerun reports every checksum equal, copying only what the
// notebook references (not a virtualenv beside it, and no crash on a socket
// in the work dir); a tampered checksum gives MISMATCH and exit 1.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, type HostClient } from '../../notebook-server/src/hostlink/client.ts';
import { REPO } from '../helpers/sd-models.ts';
import { peragus, type ServeProcess, startServe } from '../onehost/helpers.ts';

const home = mkdtempSync(join(tmpdir(), 'peragus-rerun-'));
const env = { ...process.env, PERAGUS_HOME: home, PERAGUS_POOL_SIZE: '0' };
let serve: ServeProcess;
let client: HostClient;
let socket: Server;
let workDir: string;
let browserExport: string;
let mcpExport: string;

beforeAll(async () => {
  serve = await startServe(env);
  client = await connectHost(serve.address);
  const nb = await client.call('notebook_create', { name: 'rerun me', experiment_id: 'rerun-1' });
  const sid = nb.session_id as string;
  workDir = nb.work_dir as string;
  // The work dir holds the model, and also things no rerun should copy.
  mkdirSync(join(workDir, 'models'), { recursive: true });
  copyFileSync(join(REPO, 'notebooks/models/sir.mdl'), join(workDir, 'models/sir.mdl'));
  mkdirSync(join(workDir, '.venv/lib'), { recursive: true });
  writeFileSync(join(workDir, '.venv/pyvenv.cfg'), 'home = /usr/bin\n');
  writeFileSync(join(workDir, '.venv/lib/big.bin'), Buffer.alloc(1 << 20));
  writeFileSync(join(workDir, 'unrelated.csv'), 'a,b\n1,2\n');
  socket = createServer();
  await new Promise<void>((r) => socket.listen(join(workDir, 'kernel.sock'), r));

  const loaded = await client.call('pysd_model_load', { session_id: sid, source: 'models/sir.mdl' });
  await client.call('pysd_experiment_run', {
    session_id: sid,
    model_id: loaded.model_id,
    experiment: {
      type: 'monte_carlo',
      samples: 12,
      seed: 7,
      parameters: { Infectivity: { dist: 'uniform', min: 0.03, max: 0.1 } },
    },
  });
  // The browser's "Export .src.md".
  const res = await fetch(new URL(`ui-api/sessions/${sid}/export?format=srcmd`, serve.address.url), {
    headers: { authorization: `token ${serve.address.token}` },
  });
  expect(res.status).toBe(200);
  const downloaded = await res.text();
  expect(res.headers.get('x-peragus-export')).toBe('exports/rerun_me.src.md, exports/rerun_me.outputs.json');
  browserExport = join(workDir, 'exports/rerun_me.src.md');
  expect(readFileSync(browserExport, 'utf8')).toBe(downloaded);
  // The agent's notebook_export, elsewhere in the work dir.
  const out = await client.call('notebook_export', {
    session_id: sid,
    format: 'srcmd',
    path: 'exports/agent/rerun_me.src.md',
  });
  mcpExport = join(workDir, (out.artifacts as { path: string }[])[0]?.path as string);
}, 600_000);

afterAll(async () => {
  socket?.close();
  await client?.close().catch(() => undefined);
  if (serve && serve.proc.exitCode === null) {
    serve.proc.kill('SIGTERM');
    await serve.exited;
  }
  rmSync(home, { recursive: true, force: true });
});

describe('peragus rerun', () => {
  it('the browser export is the same bundle as notebook_export', () => {
    expect(readFileSync(browserExport, 'utf8')).toBe(readFileSync(mcpExport, 'utf8'));
    const outputs = (p: string) => readFileSync(p.replace(/\.src\.md$/, '.outputs.json'), 'utf8');
    expect(outputs(browserExport)).toBe(outputs(mcpExport));
    expect(outputs(browserExport)).toMatch(/"sha256": "[0-9a-f]{64}"/);
  });

  it.each([
    ['browser', () => browserExport],
    ['MCP', () => mcpExport],
  ])(
    'reruns the %s export: every checksum equal, only referenced inputs copied',
    async (_, file) => {
      const r = await peragus(['rerun', file(), '--json'], env);
      expect(r.stderr).not.toMatch(/EISDIR|ENOTSUP|socket/i);
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout) as {
        match: boolean;
        artifacts: { path: string; match: boolean }[];
        inputs: string[];
      };
      expect(report.match).toBe(true);
      expect(report.artifacts.filter((a) => a.path.endsWith('.parquet')).length).toBeGreaterThan(0);
      expect(report.artifacts.every((a) => a.match)).toBe(true);
      expect(report.inputs).toEqual(['models/sir.mdl']);
    },
    300_000,
  );

  it('a tampered artifact checksum gives MISMATCH and exit 1', async () => {
    const outputsPath = browserExport.replace(/\.src\.md$/, '.outputs.json');
    const text = readFileSync(outputsPath, 'utf8');
    const m = /"path": "(results\/[^"]+\.parquet)",\s*"sha256": "([0-9a-f]{64})"/.exec(text);
    if (!m) throw new Error('no parquet artifact recorded');
    writeFileSync(outputsPath, text.replace(m[2] as string, 'f'.repeat(64)));
    const r = await peragus(['rerun', browserExport], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/MISMATCH/);
    expect(r.stdout).toMatch(/NOT all \d+ artifact checksums match/);
  }, 300_000);

  it('names the fix for a missing or wrong file', async () => {
    const missing = await peragus(['rerun', join(home, 'nope.src.md')], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist: give the path of an exported \.src\.md/);
    const wrong = await peragus(['rerun', join(home, 'plan.json')], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/usage: peragus rerun NOTEBOOK\.src\.md.*--help/);
  });
});
