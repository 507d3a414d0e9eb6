// Schemas and code builders without a kernel: validation rules, and that any
// input reaches Python unchanged (no way to break out of the generated call).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseProgress } from '../../notebook-server/src/notebook/progress.ts';
import { experimentRunCode, modelLoadCode, pysdCall } from '../../notebook-server/src/pysd/code.ts';
import { pyLiteral } from '../../notebook-server/src/pysd/literal.ts';
import {
  PysdCellError,
  parseExecution,
  parsePysdResult,
  RESULT_MIME,
} from '../../notebook-server/src/pysd/result.ts';
import { Experiment } from '../../notebook-server/src/schemas/pysd-tools.ts';
import { REPO } from '../helpers/sd-models.ts';

const PYTHON = join(REPO, 'kernels/pysd/.venv/bin/python');

/** Runs generated cells with a stub peragus_pysd that prints the kwargs it received, as JSON. */
function echo(codes: string[]): unknown[] {
  const stub = [
    'import json, sys, types',
    'm = types.ModuleType("peragus_pysd")',
    'def _rec(name):',
    '    def f(**kw):',
    '        print(json.dumps({"fn": name, "kw": kw}))',
    '    return f',
    'for n in ("load_model", "run_experiment", "analyze_model", "visualize"):',
    '    setattr(m, n, _rec(n))',
    'sys.modules["peragus_pysd"] = m',
    'for code in json.load(sys.stdin):',
    '    exec(compile(code, "<cell>", "exec"), {})',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', stub], { input: JSON.stringify(codes), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('code builders', () => {
  it('embed arguments as Python literals that Python reads back exactly', () => {
    const nasty = [
      "'''",
      '"""',
      "\\'''); import os; os.system('echo pwned'); ('",
      'back\\slash\\',
      'line\nbreak\r\u2028\u2029',
      'unicode é ñ 漢字 😀',
      '\u0000nul',
      `$${'{x}'} \`tick\``,
    ];
    const codes = nasty.map((s) =>
      pysdCall('run_experiment', { model_id: s, experiment: { type: 'single', parameters: { [s]: 1 } } }),
    );
    const got = echo(codes) as { fn: string; kw: { model_id: string } }[];
    expect(got.map((g) => g.kw.model_id)).toEqual(nasty);
    // No raw control or line-separator characters: the cell reads the same in any editor.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for raw control characters is the point
    const raw = /[\0-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]/;
    for (const code of codes) expect(code).not.toMatch(raw);
    expect(codes[0]).not.toContain('json.loads');
  });

  it('round-trip arbitrary strings (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 20 }), (strings) => {
        const codes = strings.map((s) => pysdCall('analyze_model', { model_id: s }));
        const got = echo(codes) as { kw: { model_id: string } }[];
        // Lone surrogates become U+FFFD-free Python str with surrogates; compare via JSON.
        expect(got.map((g) => g.kw.model_id)).toEqual(strings.map((s) => JSON.parse(JSON.stringify(s))));
      }),
      { numRuns: 5 },
    );
  });

  it('load cells confine the source to the work dir; run cells carry the experiment', () => {
    const [load, run] = echo([
      modelLoadCode({ source: 'models/m.mdl', sha256: 'ab'.repeat(32) }),
      experimentRunCode({
        model_id: 'm',
        experiment: { type: 'lhs', samples: 3, parameters: { a: [1, 2] } },
        output_format: 'csv',
      }),
    ]) as { fn: string; kw: Record<string, unknown> }[];
    expect(load).toEqual({
      fn: 'load_model',
      kw: { source: 'models/m.mdl', sha256: 'ab'.repeat(32), confine_to: '.' },
    });
    expect(run?.kw).toEqual({
      model_id: 'm',
      experiment: { type: 'lhs', samples: 3, parameters: { a: [1, 2] } },
      output_format: 'csv',
    });
  });

  it('cells read like hand-written Python: literals, short values inline, long ones one per line', () => {
    expect(pyLiteral({ a: [1, 2.5], b: true, c: null, d: "it's" })).toBe(
      '{"a": [1, 2.5], "b": True, "c": None, "d": "it\'s"}',
    );
    const code = experimentRunCode({
      model_id: 'sir-1',
      experiment: {
        type: 'lhs',
        samples: 50,
        seed: 1,
        parameters: { 'Contact Rate': [2, 10], Infectivity: { dist: 'normal', mean: 0.05, std: 0.01 } },
        metrics: [{ variable: 'Infected', stat: 'max' }],
      },
    });
    expect(code).toBe(
      [
        'import peragus_pysd',
        '',
        'peragus_pysd.run_experiment(',
        '    model_id="sir-1",',
        '    experiment={',
        '        "type": "lhs",',
        '        "samples": 50,',
        '        "seed": 1,',
        '        "parameters": {',
        '            "Contact Rate": [2, 10],',
        '            "Infectivity": {"dist": "normal", "mean": 0.05, "std": 0.01},',
        '        },',
        '        "metrics": [{"variable": "Infected", "stat": "max"}],',
        '    },',
        ')',
        '',
      ].join('\n'),
    );
    expect(modelLoadCode({ source: 'models/sir.mdl', sha256: 'f'.repeat(64) })).toContain(
      `peragus_pysd.load_model(\n    source="models/sir.mdl",\n    sha256="${'f'.repeat(64)}",`,
    );
  });
});

describe('experiment schema', () => {
  const ok = (e: unknown) => Experiment.safeParse(e);
  const msg = (e: unknown) => JSON.stringify(ok(e).error?.issues ?? []);

  it('accepts every parameter form', () => {
    const r = ok({
      type: 'monte_carlo',
      parameters: {
        a: 1,
        b: [0, 2],
        c: { values: [1, 2, 3] },
        d: { dist: 'normal', mean: 0, std: 1, min: -2, max: 2 },
        e: { dist: 'uniform', min: 0, max: 1 },
        f: { dist: 'triangular', min: 0, mode: 1, max: 3 },
        g: { dist: 'lognormal', mu: 0, sigma: 0.5 },
      },
      samples: 10,
      seed: 3,
      metrics: [{ variable: 'x' }, { variable: 'y', stat: 'time_of_max' }],
    });
    expect(r.success).toBe(true);
    expect(r.data?.metrics?.[0]?.stat).toBe('final');
  });

  it('refuses bad input with clear messages', () => {
    expect(msg({ type: 'lhs', parameters: { a: [3, 1] } })).toContain('range min 3 > max 1');
    expect(msg({ type: 'bogus' })).toContain('supported types: single, sweep, grid');
    expect(msg({ type: 'single', parameters: { a: [1, 2] } })).toContain('fixed values only');
    expect(msg({ type: 'lhs' })).toContain('at least one parameter');
    expect(msg({ type: 'optimization', parameters: { a: [1, 2] } })).toContain('objective');
    expect(msg({ type: 'scenarios' })).toContain('needs scenarios');
    expect(msg({ type: 'single', sample: 3 })).toContain('sample');
    expect(msg({ type: 'lhs', parameters: { a: { dist: 'gamma' } } })).not.toBe('[]');
    expect(msg({ type: 'lhs', parameters: { a: { dist: 'normal', mean: 1, std: -1 } } })).not.toBe('[]');
    expect(msg({ type: 'single', time_step: 0 })).not.toBe('[]');
    expect(msg({ type: 'single', initial_time: 5, final_time: 1 })).toContain(
      'final_time 1 < initial_time 5',
    );
    expect(
      msg({
        type: 'scenarios',
        scenarios: [
          { name: 'a', parameters: {} },
          { name: 'a', parameters: {} },
        ],
      }),
    ).toContain('duplicate scenario');
  });

  it('takes vectorise auto | on | off and passes it to Python unchanged', () => {
    for (const mode of ['auto', 'on', 'off'] as const) {
      const e = { type: 'lhs', samples: 4, parameters: { a: [1, 2] }, vectorise: mode };
      expect(ok(e).success).toBe(true);
      const [run] = echo([experimentRunCode({ model_id: 'm', experiment: ok(e).data as never })]) as {
        kw: { experiment: { vectorise?: string } };
      }[];
      expect(run?.kw.experiment.vectorise).toBe(mode);
    }
    expect(msg({ type: 'lhs', parameters: { a: [1, 2] }, vectorise: 'yes' })).toContain('vectorise');
    expect(msg({ type: 'lhs', parameters: { a: [1, 2] }, vectorise: true })).toContain('vectorise');
  });
});

describe('result parser', () => {
  const display = (value: unknown) => ({
    output_type: 'display_data' as const,
    data: { [RESULT_MIME]: value, 'text/plain': 's' },
    metadata: {},
  });

  it('takes the last peragus result and checks the function', () => {
    const outputs = [
      { output_type: 'stream' as const, name: 'stdout' as const, text: 'hi' },
      display({ peragus: 1, function: 'run_experiment', result: { run_count: 3 } }),
    ];
    expect(parsePysdResult(outputs, 'run_experiment').result).toEqual({ run_count: 3 });
    expect(() => parsePysdResult(outputs, 'visualize')).toThrow(PysdCellError);
    expect(
      parsePysdResult([display(JSON.stringify({ function: 'visualize', result: { a: 1 } }))]).result,
    ).toEqual({ a: 1 });
  });

  it('throws Python errors with ename/evalue, and a clear error when nothing was displayed', () => {
    const err = {
      output_type: 'error' as const,
      ename: 'UnknownParameterError',
      evalue: "unknown parameter 'x'",
      traceback: [],
    };
    expect(() => parsePysdResult([err])).toThrow("UnknownParameterError: unknown parameter 'x'");
    try {
      parseExecution({ status: 'error', outputs: [err], error: err });
    } catch (e) {
      expect((e as PysdCellError).isInputError).toBe(true);
    }
    expect(() => parsePysdResult([])).toThrow(/displayed no/);
  });

  it('reads progress displays', () => {
    expect(
      parseProgress({
        'application/vnd.peragus.progress+json': { label: 'lhs', done: 3, total: 10, failed: 0 },
      }),
    ).toEqual({ label: 'lhs', done: 3, total: 10, failed: 0 });
    expect(parseProgress({ 'text/plain': 'x' })).toBeUndefined();
  });
});
