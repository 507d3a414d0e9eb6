// The PySD tools end to end without MCP: zod-validated inputs → generated cell
// → a real PySD kernel → result parsed from the cell outputs.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelClient } from '../../notebook-server/src/kernel/client.ts';
import {
  experimentRunCode,
  modelAnalyzeCode,
  modelLoadCode,
  pysdCall,
  visualizeCode,
} from '../../notebook-server/src/pysd/code.ts';
import { PysdCellError } from '../../notebook-server/src/pysd/result.ts';
import {
  PysdExperimentRun,
  PysdModelLoad,
  PysdVisualize,
} from '../../notebook-server/src/schemas/pysd-tools.ts';
import { REPO, requireSdModels } from '../helpers/sd-models.ts';
import { compareToCanonical, pysdKernel, readCanonical, readTable, runCell } from './helpers.ts';

const sd = requireSdModels();
const workDir = mkdtempSync(join(tmpdir(), 'peragus-pysd-tools-'));
let kernel: KernelClient;

interface Artifact {
  path: string;
  sha256: string;
  bytes: number;
  media_type: string;
  role: string;
}
interface RunSummary {
  run_count: number;
  artifacts: Artifact[];
  metrics: Record<string, { mean: number }>;
  sensitivity?: { by_metric: Record<string, Record<string, Record<string, number>>> };
  optimization?: { best_parameters: Record<string, number>; best_value: number };
}

/** As pysd_model_load does: given content is written beside the notebook, the cell names the file. */
const load = (args: Record<string, unknown>) => {
  const parsed = PysdModelLoad.parse({ session_id: 's', ...args });
  if (parsed.content !== undefined) {
    mkdirSync(dirname(join(workDir, parsed.source)), { recursive: true });
    writeFileSync(join(workDir, parsed.source), parsed.content);
  }
  return runCell<{ model_id: string; stocks: { name: string }[] }>(
    kernel,
    modelLoadCode(parsed),
    'load_model',
  );
};
const run = (args: Record<string, unknown>) =>
  runCell<RunSummary>(
    kernel,
    experimentRunCode(PysdExperimentRun.parse({ session_id: 's', ...args })),
    'run_experiment',
  );
const runsFile = (s: RunSummary) => s.artifacts.find((a) => a.role === 'runs') as Artifact;

let teacup = '';
let tuning = '';

beforeAll(async () => {
  kernel = await pysdKernel(workDir);
  tuning = (
    await load({
      source: 'models/tuning.mdl',
      content: readFileSync(join(REPO, 'notebooks/models/tuning.mdl'), 'utf8'),
    })
  ).model_id;
  if (sd) {
    const text = readFileSync(join(sd, 'samples/teacup/teacup.mdl'), 'utf8');
    teacup = (await load({ source: 'models/teacup.mdl', content: text, name: 'teacup' })).model_id;
  }
}, 240_000);

afterAll(async () => {
  await kernel?.shutdown();
});

describe.skipIf(!sd)('teacup through the tools', () => {
  it('loads with its structure', () => {
    expect(teacup).toBe('teacup');
  });

  it('a single run matches the canonical output.csv (rtol = atol = 1e-5)', async () => {
    const s = await run({ model_id: teacup, experiment: { type: 'single' } });
    expect(s.run_count).toBe(1);
    const table = await readTable(kernel, runsFile(s).path);
    const cmp = compareToCanonical(readCanonical(join(sd as string, 'samples/teacup/output.csv')), table);
    expect(cmp.reason).toBeUndefined();
    expect(cmp.rowsMatched).toBe(241);
    expect(cmp.compared).toBeGreaterThanOrEqual(241 * 4);
    expect(cmp.worst).toBeUndefined();
    expect(cmp.pass).toBe(true);
  });

  it('an LHS of 50 twice gives byte-identical parquet', async () => {
    const experiment = {
      type: 'lhs',
      samples: 50,
      seed: 42,
      parameters: { 'Characteristic Time': [5, 15], room_temperature: { dist: 'normal', mean: 70, std: 4 } },
    };
    const a = await run({ model_id: teacup, experiment, name: 'lhs-a' });
    const b = await run({ model_id: teacup, experiment, name: 'lhs-b' });
    expect(a.run_count).toBe(50);
    const fa = runsFile(a);
    const fb = runsFile(b);
    expect(fa.path).not.toBe(fb.path);
    expect(fa.media_type).toBe('application/vnd.apache.parquet');
    expect(fa.sha256).toBe(fb.sha256);
    expect(readFileSync(join(workDir, fa.path)).equals(readFileSync(join(workDir, fb.path)))).toBe(true);
  });

  it('sobol gives S1/ST with confidence per parameter; morris gives mu*/sigma', async () => {
    const parameters = { 'Characteristic Time': [5, 15], 'Room Temperature': [60, 80] };
    const so = await run({ model_id: teacup, experiment: { type: 'sobol', samples: 32, parameters } });
    expect(so.run_count).toBe(32 * 4);
    const s = so.sensitivity?.by_metric['final(Teacup Temperature)'] ?? {};
    expect(Object.keys(s).sort()).toEqual(['Characteristic Time', 'Room Temperature']);
    for (const p of Object.values(s))
      expect(Object.keys(p).sort()).toEqual(['S1', 'S1_conf', 'ST', 'ST_conf']);
    const mo = await run({ model_id: teacup, experiment: { type: 'morris', samples: 8, parameters } });
    expect(mo.run_count).toBe(8 * 3);
    const m = mo.sensitivity?.by_metric['final(Teacup Temperature)'] ?? {};
    for (const p of Object.values(m))
      expect(Object.keys(p).sort()).toEqual(['mu', 'mu_star', 'mu_star_conf', 'sigma']);
  });

  it('analyze and visualize return structure and a PNG artifact with a preview', async () => {
    const a = await runCell<{ structure: { stocks: { name: string; outflows: string[] }[] } }>(
      kernel,
      modelAnalyzeCode({ model_id: teacup }),
      'analyze_model',
    );
    expect(a.structure.stocks[0]).toMatchObject({
      name: 'Teacup Temperature',
      outflows: ['Heat Loss to Room'],
    });
    const v = await runCell<{ artifacts: Artifact[]; preview: { base64: string } }>(
      kernel,
      visualizeCode(PysdVisualize.parse({ session_id: 's', target: 'results/lhs-a', kind: 'fan' })),
      'visualize',
    );
    expect(v.artifacts[0]?.media_type).toBe('image/png');
    expect(Buffer.from(v.preview.base64, 'base64').subarray(1, 4).toString()).toBe('PNG');
  });
});

describe('optimization and bad input', () => {
  it('optimization finds the known optimum (Setting = 3, cost 10)', async () => {
    const s = await run({
      model_id: tuning,
      experiment: {
        type: 'optimization',
        parameters: { Setting: [0, 10] },
        objective: { variable: 'Total Cost', stat: 'final', goal: 'min' },
        samples: 150,
      },
    });
    expect(s.optimization?.best_parameters.Setting).toBeCloseTo(3, 4);
    expect(s.optimization?.best_value).toBeCloseTo(10, 6);
  });

  const pyError = async (code: string) => {
    try {
      await runCell(kernel, code);
    } catch (err) {
      expect(err).toBeInstanceOf(PysdCellError);
      return err as PysdCellError;
    }
    throw new Error('expected a Python error');
  };

  it('a model PySD cannot translate: error naming the file and the cause', async () => {
    const e = await pyError(
      pysdCall('load_model', {
        source: 'models/broken.mdl',
        content: '{UTF-8}\nx = y +* 3 (\n~~|\n',
        confine_to: '.',
      }),
    );
    expect(e.ename).toBe('ModelTranslationError');
    expect(e.evalue).toContain('broken.mdl');
    expect(e.isInputError).toBe(true);
  });

  it('an unknown parameter name lists close matches', async () => {
    const e = await pyError(
      experimentRunCode({ model_id: tuning, experiment: { type: 'single', parameters: { Seting: 2 } } }),
    );
    expect(e.ename).toBe('UnknownParameterError');
    expect(e.evalue).toContain("'Setting'");
  });

  it('a range with min > max is refused by the schema and by Python', async () => {
    const bad = {
      session_id: 's',
      model_id: tuning,
      experiment: { type: 'lhs', parameters: { Setting: [9, 1] } },
    };
    const r = PysdExperimentRun.safeParse(bad);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('range min 9 > max 1');
    const e = await pyError(experimentRunCode(bad as never));
    expect(e.ename).toBe('InvalidParameterError');
    expect(e.evalue).toContain('min 9.0 > max 1.0');
  });

  it('an unsupported experiment type lists the supported ones', async () => {
    const r = PysdExperimentRun.safeParse({
      session_id: 's',
      model_id: tuning,
      experiment: { type: 'annealing' },
    });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('supported types: single, sweep');
    const e = await pyError(
      experimentRunCode({ model_id: tuning, experiment: { type: 'annealing' } as never }),
    );
    expect(e.ename).toBe('UnsupportedExperimentError');
    expect(e.evalue).toContain('monte_carlo');
  });

  it('a path outside the work dir is refused by the schema and by Python', async () => {
    expect(PysdModelLoad.safeParse({ session_id: 's', source: '../x.mdl' }).success).toBe(false);
    expect(PysdModelLoad.safeParse({ session_id: 's', source: '/etc/passwd' }).success).toBe(false);
    const e = await pyError(
      pysdCall('load_model', { source: '../escape.mdl', content: 'x', confine_to: '.' }),
    );
    expect(e.ename).toBe('PathOutsideWorkDirError');
  });

  it('the kernel stays usable after errors', async () => {
    const s = await run({ model_id: tuning, experiment: { type: 'single', parameters: { Setting: 3 } } });
    expect(s.metrics['final(Total Cost)']?.mean).toBeCloseTo(10, 9);
  });
});
