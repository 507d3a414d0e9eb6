// Item 5: one path-confinement module serves every face. The same hostile
// paths (an escape through "..", an absolute host path, a link planted in the
// work dir) go through the MCP tools that take paths (host session and local
// container), the catalog and the runtime, and each refuses them with the
// module's own message, without reading or listing the host file.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';

const SECRET = `secret-${randomBytes(6).toString('hex')}`;
const outside = mkdtempSync(join(tmpdir(), 'peragus-confine-'));
const secretFile = join(outside, 'secret.csv');

let t: TestHost;
let sessionId = '';
let workDir = '';
let cid = '';
let containerSessionId = '';

beforeAll(async () => {
  writeFileSync(secretFile, `time,x\n0,${SECRET}\n`);
  t = await startTestHost({ runtime: 'local' });
  const nb = await t.call('notebook_create', { name: 'confined', experiment_id: 'confined-host' });
  sessionId = nb.session_id as string;
  workDir = nb.work_dir as string;
  // The planted link: a directory link out of each root a face reads or writes in.
  symlinkSync(outside, join(workDir, 'linkdir'));
  symlinkSync(outside, join(t.home, 'sessions', 'linkdir'));
  cid = (await t.call('container_create', { experiment_id: 'confined' })).container_id as string;
  await t.call('container_exec', { container_id: cid, cmd: ['ln', '-s', outside, 'linkdir'] });
  // Lineage is checked first: each register call names a session of its own experiment.
  containerSessionId = (await t.call('notebook_create', { name: 'confined', container_id: cid }))
    .session_id as string;
}, 300_000);

afterAll(async () => {
  await t?.close();
  rmSync(outside, { recursive: true, force: true });
});

/** Each face that takes a client path, as (path) => the error text of one call. */
const faces: Record<string, (path: string) => Promise<string>> = {
  notebook_import: (path) => t.callError('notebook_import', { path }),
  'experiment_register_result (host session)': (path) =>
    t.callError('experiment_register_result', {
      experiment_id: 'confined-host',
      session_id: sessionId,
      artifacts: [{ path }],
    }),
  'experiment_register_result (container)': (path) =>
    t.callError('experiment_register_result', {
      experiment_id: 'confined',
      container_id: cid,
      session_id: containerSessionId,
      artifacts: [{ path }],
    }),
  container_cp_out: (path) => t.callError('container_cp_out', { container_id: cid, src: path }),
  notebook_export: (path) => t.callError('notebook_export', { session_id: sessionId, format: 'json', path }),
};

describe.each(Object.keys(faces))('%s', (face) => {
  const call = (path: string) => (faces[face] as (p: string) => Promise<string>)(path);

  it('refuses an escape through ".."', async () => {
    expect(await call('../../../../etc/passwd')).toMatch(
      /escapes .* through "\.\.": paths must stay inside it/,
    );
  });

  it('refuses an absolute host path', async () => {
    expect(await call(secretFile)).toMatch(/is (absolute|an absolute path outside)/);
  });

  it('refuses a planted link and never reads or writes its target', async () => {
    const err = await call('linkdir/secret.csv');
    expect(err).toMatch(/"linkdir" is a symbolic link, and the host never follows links/);
    expect(err).not.toContain(SECRET);
    expect(readdirSync(outside)).toEqual(['secret.csv']);
    expect(readFileSync(secretFile, 'utf8')).toBe(`time,x\n0,${SECRET}\n`);
  });
});

it('the catalog refuses artifact names outside the experiment with the same rule', async () => {
  const err = await t.callError('experiment_register_result', {
    experiment_id: 'confined-host',
    session_id: sessionId,
    artifacts: [{ path: '/etc/hostname' }],
  } as Json);
  expect(err).toMatch(/is absolute/);
});
