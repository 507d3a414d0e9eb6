// Translate once, for sessions too (orchestrator/translate-ahead.ts): a
// session's pysd_model_load with inline content also has the host translate
// the model into the shared cache, in the model check's sandbox; the next
// experiment's kernel loads that translation and never calls PySD's
// translator. Bad models and bad paths still fail in the session, with the
// node's and PySD's own messages, and leave nothing behind.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Json, startTestHost, type TestHost } from '../helpers/host.ts';
import { REPO } from '../helpers/sd-models.ts';
import { until } from '../reliability/helpers.ts';

const SIR = readFileSync(join(REPO, 'notebooks/models/sir.mdl'), 'utf8');
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** The shared cache's entries (folder names), without temp folders. */
const entries = (t: TestHost) =>
  existsSync(join(t.home, 'pysd-cache'))
    ? readdirSync(join(t.home, 'pysd-cache')).filter((n) => !n.startsWith('.'))
    : [];

async function session(
  t: TestHost,
  id: string,
): Promise<{ container_id: string; session_id: string; work_dir: string }> {
  const c = await t.call('container_create', { runtime: 'local', experiment_id: id });
  const nb = await t.call('notebook_create', { name: id, container_id: c.container_id });
  return {
    container_id: String(c.container_id),
    session_id: String(nb.session_id),
    work_dir: String(c.work_dir),
  };
}

/** Runs `source` in the session's kernel and returns what it printed. */
async function printed(t: TestHost, sessionId: string, source: string): Promise<string> {
  const cell = await t.call('cell_add', { session_id: sessionId, source, execute: true });
  const out = ((cell.run as Json).outputs as { text?: string }[]).map((o) => o.text ?? '').join('');
  return out.trim();
}

/**
 * Counts the kernel's calls of PySD's Vensim translator from now on (the translator is
 * imported ahead in every kernel: whether it is imported says nothing).
 */
const spyTranslations = (t: TestHost, sessionId: string) =>
  printed(
    t,
    sessionId,
    [
      'import pysd',
      '_translations = []',
      '_read_vensim = pysd.read_vensim',
      'pysd.read_vensim = lambda *a, **k: (_translations.append(a), _read_vensim(*a, **k))[1]',
      "print('spying')",
    ].join('\n'),
  );
const translations = (t: TestHost, sessionId: string) => printed(t, sessionId, 'print(len(_translations))');

describe("a session's model is translated once, on the host", () => {
  let t: TestHost;
  beforeAll(async () => {
    t = await startTestHost({ runtime: 'local' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("the next experiment's kernel loads the shared translation instead of translating", async () => {
    const a = await session(t, 'ahead-a');
    expect(await spyTranslations(t, a.session_id)).toBe('spying');
    const loaded = await t.call('pysd_model_load', {
      session_id: a.session_id,
      source: 'models/sir.mdl',
      content: SIR,
    });
    expect(loaded.sha256).toBe(sha(SIR));
    expect(loaded.stocks).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'Infected' })]));
    // The first kernel translated for itself (nothing was cached yet); the host's translation follows.
    expect(await translations(t, a.session_id)).toBe('1');
    const made = await until(
      () => (entries(t).length > 0 ? entries(t) : undefined),
      60_000,
      "the host's translation",
    );
    expect(made).toHaveLength(1);
    expect(made[0]!.startsWith(sha(SIR).slice(0, 16))).toBe(true);
    const entryFile = join(t.home, 'pysd-cache', made[0]!, 'entry.json');
    expect(JSON.parse(readFileSync(entryFile, 'utf8')).source_sha256).toBe(sha(SIR));
    // Published by the host: owned by it, not by the sandbox user that translated it.
    expect(statSync(entryFile).uid).toBe(process.getuid?.());
    expect(readFileSync(join(a.work_dir, 'models/sir.mdl'), 'utf8')).toBe(SIR);

    const written = statSync(entryFile).mtimeMs;
    const b = await session(t, 'ahead-b');
    expect(await spyTranslations(t, b.session_id)).toBe('spying');
    const again = await t.call('pysd_model_load', {
      session_id: b.session_id,
      source: 'sir.mdl',
      content: SIR,
    });
    expect(again.model_id).toBe(loaded.model_id);
    expect(await translations(t, b.session_id)).toBe('0');
    const run = await t.call('pysd_experiment_run', {
      session_id: b.session_id,
      model_id: again.model_id,
      experiment: { type: 'single', seed: 1, return_columns: ['Infected'] },
    });
    expect(run.run_count).toBe(1);
    expect(entries(t)).toEqual(made);
    expect(statSync(entryFile).mtimeMs).toBe(written);
  });

  it("a model PySD cannot translate fails in the session with PySD's message and leaves no entry", async () => {
    const before = entries(t);
    const s = await session(t, 'ahead-bad');
    const err = await t.callError('pysd_model_load', {
      session_id: s.session_id,
      source: 'broken.mdl',
      content: 'Stock = INTEG( Flow, \n~~|\n{ not vensim',
    });
    expect(err).toMatch(/PySD cannot translate broken\.mdl \(vensim\)/);
    expect(entries(t)).toEqual(before);
    // The host's translation of it fails in its sandbox too, and leaves no staging behind.
    await until(() => readdirSync(join(t.home, 'pysd-staging')).length === 0, 60_000, 'the staging to go');
    expect(entries(t)).toEqual(before);
  });

  it('a source outside the work dir is refused by the node; the host translates and writes nothing', async () => {
    const before = entries(t);
    const s = await session(t, 'ahead-escape');
    const content = SIR.replace('Infected', 'Escaped');
    for (const source of ['../escape.mdl', '/tmp/escape.mdl', 'models/../../escape.mdl']) {
      const err = await t.callError('pysd_model_load', { session_id: s.session_id, source, content });
      expect(err).toMatch(/source/);
      expect(existsSync(join(dirname(s.work_dir), 'escape.mdl'))).toBe(false);
    }
    expect(existsSync('/tmp/escape.mdl')).toBe(false);
    expect(entries(t)).toEqual(before);
  });
});
