// Breach 4: a DuckDB glob slipped past the time-series path check. The file
// "r/[p].csv" exists (so a realpath check passes), DuckDB then expanded the
// glob to "r/p.csv", a link to a host file, and served the host's data. Now
// the host opens the exact file itself (no link followed) and DuckDB reads
// that descriptor: the host file is never read, the link is refused.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../http/helpers.ts';

let t: TestHost;
let workDir: string;
let sessionId: string;
const outside = mkdtempSync(join(tmpdir(), 'peragus-host-secret-'));
const SECRET = 'time,secret_value\n0,314159\n1,271828\n';

beforeAll(async () => {
  t = await startTestHost();
  const session = await t.sessions.create({ name: 'glob-attack' });
  sessionId = session.id;
  workDir = session.workDir;
  writeFileSync(join(outside, 'host.csv'), SECRET);
  mkdirSync(join(workDir, 'r'), { recursive: true });
  // What the experiment's code plants: a harmless file whose name is a glob, and a link beside it.
  writeFileSync(join(workDir, 'r', '[p].csv'), 'time,harmless\n0,1\n1,2\n');
  symlinkSync(join(outside, 'host.csv'), join(workDir, 'r', 'p.csv'));
  symlinkSync(outside, join(workDir, 'dir-link'));
});

afterAll(async () => {
  await t?.close();
  rmSync(outside, { recursive: true, force: true });
});

const series = async (path: string) => {
  const res = await fetch(
    `${t.host.url.replace(/\/$/, '')}/ui-api/sessions/${sessionId}/timeseries?path=${encodeURIComponent(path)}`,
    { headers: { Authorization: `token ${t.token}` } },
  );
  const text = await res.text();
  const message = res.ok ? '' : ((JSON.parse(text) as { error?: { message?: string } }).error?.message ?? '');
  return { status: res.status, text, message };
};

describe('time series paths never reach DuckDB as globs or through links', () => {
  it('reads the exact file "r/[p].csv", not what the glob matches', async () => {
    const r = await series('r/[p].csv');
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text) as { title: string; series: { values: number[] }[] };
    expect(body.title).toBe('harmless');
    expect(body.series[0]?.values).toEqual([1, 2]);
    expect(r.text).not.toMatch(/secret_value|314159|271828/);
  });

  it.each([
    ['r/p.csv', 403, /symbolic link/],
    ['dir-link/host.csv', 403, /symbolic link/],
    ['r/*.csv', 404, /no "r\/\*\.csv"/],
    ['r/?.csv', 404, /no "r\/\?\.csv"/],
    ['../../../../etc/passwd.csv', 403, /escapes/],
    [join(outside, 'host.csv'), 403, /is an absolute path outside/],
  ])('refuses %j with %i and a clear message, never serving the host file', async (path, status, message) => {
    const r = await series(path);
    expect(r.status).toBe(status);
    expect(r.message).toMatch(message);
    expect(r.text).not.toMatch(/secret_value|314159|271828/);
  });
});
