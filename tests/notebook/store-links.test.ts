// A session's files live in its work dir, where the kernel writes too, and the process that
// saves and reopens them may be a root host serving the session itself. Each attack below is
// what kernel code can do between two saves: plant a link (to a directory or a file outside),
// rewrite the session record or the pointer. The store never follows a link out of the work dir,
// never reads through one, and never takes a path from a record or pointer outside it.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KernelSource } from '../../notebook-server/src/notebook/kernel-slot.ts';
import { SessionManager } from '../../notebook-server/src/notebook/manager.ts';
import { tempRoot } from './helpers.ts';

// These sessions never run a cell: a kernel asked for is a failure of the test.
const noKernels: KernelSource = () => Promise.reject(new Error('no kernel in this test'));

const tmp = tempRoot('links');
afterAll(() => tmp.cleanup());

/** A fresh server of the work dir reopening what is on disk there (a host after a restart). */
const reopen = (work: string) =>
  new SessionManager({ root: work, kernelSource: noKernels, workDir: work }).reopenAll();

/** An experiment's work dir with one session in it, and a directory "outside" it with a secret. */
async function setUp(label: string) {
  const work = join(tmp.root, label, 'work');
  const outside = join(tmp.root, label, 'outside');
  mkdirSync(work, { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret.txt'), 'SECRET-of-the-host');
  const manager = new SessionManager({ root: work, kernelSource: noKernels, workDir: work });
  const session = await manager.create({ name: 'links', experiment_id: 'exp-links' });
  await session.addCell({ cell_type: 'markdown', source: 'first' });
  return { work, outside, manager, session };
}

describe("a session's files under a kernel's links", () => {
  it('a link planted for the session records directory is refused, and nothing is written through it', async () => {
    const { work, outside, session } = await setUp('records-dir');
    rmSync(join(work, '.peragus', 'sessions'), { recursive: true });
    symlinkSync(outside, join(work, '.peragus', 'sessions'));
    await expect(session.addCell({ cell_type: 'markdown', source: 'second' })).rejects.toThrow(
      /link|symbolic/i,
    );
    expect(readdirSync(outside)).toEqual(['secret.txt']);
    // The notebook itself was saved first (it holds the outputs): still in the work dir.
    expect(readFileSync(join(work, 'links.src.md'), 'utf8')).toContain('second');
  });

  it('a notebook file swapped for a link to a file outside is replaced at the next save, never written through', async () => {
    const { work, outside, session } = await setUp('notebook-link');
    const notebook = join(work, 'links.src.md');
    rmSync(notebook);
    symlinkSync(join(outside, 'secret.txt'), notebook);
    await session.addCell({ cell_type: 'markdown', source: 'second' });
    expect(lstatSync(notebook).isSymbolicLink()).toBe(false);
    expect(readFileSync(notebook, 'utf8')).toContain('second');
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('SECRET-of-the-host');
  });

  it('reopening never reads a notebook or a record through a link', async () => {
    for (const target of ['links.src.md', `.peragus/sessions/ID.json`]) {
      const { work, outside, manager, session } = await setUp(`reopen-${target.length}`);
      const id = session.id;
      await manager.close();
      const file = join(work, target.replace('ID', id));
      rmSync(file);
      symlinkSync(join(outside, 'secret.txt'), file);
      const report = await reopen(work);
      expect(report.reopened).toEqual([]);
      expect(report.failed).toHaveLength(1);
      expect(report.failed[0]?.error).toMatch(/link|symbolic/i);
      expect(JSON.stringify(report)).not.toContain('SECRET');
    }
  });

  it('a record naming a notebook outside the work dir, or a pointer naming another work dir, is refused', async () => {
    const { work, outside, manager, session } = await setUp('paths');
    const id = session.id;
    await manager.close();
    const recordPath = join(work, '.peragus', 'sessions', `${id}.json`);
    const record = JSON.parse(readFileSync(recordPath, 'utf8'));
    for (const base of ['../outside/secret', '../../x', '.hidden', 'a/b']) {
      writeFileSync(recordPath, JSON.stringify({ ...record, notebook_base: base }));
      const report = await reopen(work);
      expect(report.reopened, base).toEqual([]);
      expect(report.failed[0]?.error, base).toMatch(/notebook_base/);
    }
    // The record's own id names its files: a path there is refused too.
    writeFileSync(recordPath, JSON.stringify({ ...record, id: '../../outside/x' }));
    const renamed = await reopen(work);
    expect(renamed.reopened).toEqual([]);
    expect(renamed.failed[0]?.error).toMatch(/session id/);
    writeFileSync(recordPath, JSON.stringify(record));
    // A pointer naming a session by a path: refused, nothing read or written outside.
    writeFileSync(
      join(work, '.sessions', `${id}.json`),
      JSON.stringify({ session_id: '../../../outside/secret', work_dir: work }),
    );
    const byPath = await reopen(work);
    expect(byPath.reopened).toEqual([]);
    expect(byPath.failed[0]?.error).toMatch(/session id/);
    // The pointer is the kernel's to rewrite too: it may not send the server to another directory.
    writeFileSync(
      join(work, '.sessions', `${id}.json`),
      JSON.stringify({ session_id: id, work_dir: outside }),
    );
    const report = await reopen(work);
    expect(report.reopened).toEqual([]);
    expect(report.failed[0]?.error).toMatch(/not this server's/);
    expect(existsSync(join(outside, '.peragus'))).toBe(false);
    // Its own pointer back, the session reopens with its cells.
    writeFileSync(join(work, '.sessions', `${id}.json`), JSON.stringify({ session_id: id, work_dir: work }));
    const ok = await reopen(work);
    expect(ok.failed).toEqual([]);
    expect(ok.reopened.map((s) => s.id)).toEqual([id]);
  });

  it('a link planted for the pointers directory is refused, not followed', async () => {
    const { work, outside, manager } = await setUp('pointers');
    rmSync(join(work, '.sessions'), { recursive: true });
    symlinkSync(outside, join(work, '.sessions'));
    await expect(manager.create({ name: 'second', experiment_id: 'exp-links' })).rejects.toThrow(
      /link|symbolic/i,
    );
    expect(readdirSync(outside)).toEqual(['secret.txt']);
    await expect(reopen(work)).rejects.toThrow(/link|symbolic/i);
  });
});
