// One experiment id rule (ids/experiment.ts): an id notebook_create accepts is
// accepted by container_create, the session manager and the catalog; a bad one
// is refused by every one of them with the same message.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Catalog } from '../../notebook-server/src/catalog/catalog.ts';
import { EXPERIMENT_ID_RULE } from '../../notebook-server/src/ids/index.ts';
import { SessionManager } from '../../notebook-server/src/notebook/manager.ts';
import { parseContainerSpec } from '../../notebook-server/src/runtime/types.ts';
import { ContainerCreateInput } from '../../notebook-server/src/schemas/container-tools.ts';
import {
  NotebookCreateInput,
  NotebookImportInput,
} from '../../notebook-server/src/schemas/notebook-tools.ts';

const GOOD = ['teacup-lhs', 'a', '7', 'A.b_c-9', 'x'.repeat(64), 'plan-1.run_02'];
const BAD = [
  'x'.repeat(65), // too long for a container label / folder name
  'x'.repeat(121), // was accepted by the catalog (128) but not by containers (64)
  '../etc', // path-like
  'a/b',
  '..', // dot-dot
  '.hidden',
  'café', // unicode
  'tea cup',
  '',
  '-flag',
];

/** The message of a refusal, or 'accepted'. */
async function outcome(run: () => unknown): Promise<string> {
  try {
    await run();
    return 'accepted';
  } catch (err) {
    return (err as Error).message;
  }
}

function zodOutcome(shape: z.ZodRawShape, input: Record<string, unknown>): string {
  const r = z.object(shape).safeParse(input);
  return r.success ? 'accepted' : r.error.issues.map((i) => i.message).join('; ');
}

describe('experiment id: one rule everywhere', () => {
  let root: string;
  let catalog: Catalog;
  let manager: SessionManager;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'peragus-ids-'));
    catalog = await Catalog.open({ home: join(root, 'peragus') });
    manager = new SessionManager({
      root: join(root, 'sessions'),
      kernelSource: () => {
        throw new Error('no kernel is started by create');
      },
    });
  });
  afterAll(async () => {
    await manager?.close();
    await catalog?.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** Every place that takes an experiment id from a client. */
  const places: Record<string, (id: string) => Promise<string>> = {
    notebook_create: async (id) => zodOutcome(NotebookCreateInput, { name: 'n', experiment_id: id }),
    notebook_import: async (id) => zodOutcome(NotebookImportInput, { experiment_id: id }),
    container_create: async (id) => zodOutcome(ContainerCreateInput, { experiment_id: id }),
    'runtime spec': (id) => outcome(() => parseContainerSpec({ experiment_id: id })),
    'session manager': (id) => outcome(() => manager.create({ name: 'n', experiment_id: id })),
    catalog: (id) => outcome(() => catalog.registerResult({ experiment_id: id, session_id: 's' })),
  };

  it.each(GOOD)('accepts %j in every place', async (id) => {
    for (const [place, check] of Object.entries(places)) {
      expect(`${place}: ${await check(id)}`).toBe(`${place}: accepted`);
    }
  });

  it('the accepted ids made real folders and catalog rows', async () => {
    const folders = readdirSync(join(root, 'sessions')).filter((f) => !f.startsWith('.'));
    expect(folders.sort()).toEqual([...GOOD].sort());
    for (const id of GOOD) expect((await catalog.getExperiment(id))?.experiment_id).toBe(id);
  });

  it.each(BAD)('refuses %j in every place with the same message', async (id) => {
    for (const [place, check] of Object.entries(places)) {
      const message = await check(id);
      expect(message, place).not.toBe('accepted');
      expect(message, place).toContain(EXPERIMENT_ID_RULE);
    }
  });
});
