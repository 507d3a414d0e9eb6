// The workbench's checks without a browser: model files refused before PySD
// sees them, translation errors located in the file, designs checked against
// the model, the given-data sensitivity estimate, plan tiles from the catalog.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ModelDescription } from '../../notebook-server/src/workbench/describe.ts';
import { locateError } from '../../notebook-server/src/workbench/describe.ts';
import { checkDesign } from '../../notebook-server/src/workbench/design.ts';
import { givenDataS1 } from '../../notebook-server/src/workbench/given-data.ts';
import { checkModelFile } from '../../notebook-server/src/workbench/models.ts';

const SIR = readFileSync(resolve('notebooks/models/sir.mdl'), 'utf8');

const el = (name: string, value?: number, limits?: [number, number]) => ({
  name,
  py_name: name.toLowerCase().replace(/ /g, '_'),
  units: null,
  limits: limits ?? null,
  doc: null,
  ...(value !== undefined ? { value } : {}),
});
const model: ModelDescription = {
  model_id: 'sir-1',
  format: 'vensim',
  sha256: 'x',
  time: { initial_time: 0, final_time: 120, time_step: 0.125, saveper: 1 },
  stocks: [el('Infected'), el('Susceptible')],
  flows: [el('Infecting')],
  auxiliaries: [],
  constants: [el('Contact Rate', 6, [1, 20]), el('Infectivity', 0.05, [0, 0.5]), el('Illness Duration', 5)],
  lookups: [],
  counts: {},
};
const lhs = { type: 'lhs', samples: 50, parameters: { 'Contact Rate': [2, 10] } };
const refusal = (design: Record<string, unknown>) => {
  try {
    checkDesign({ model_id: 'sir-1', ...design }, model);
  } catch (err) {
    return err as Error & { field?: string; status?: number };
  }
  throw new Error('expected the design to be refused');
};

describe('model files', () => {
  it('accepts the formats by extension and content', () => {
    expect(checkModelFile('sir.mdl', SIR)).toBe('vensim');
    expect(checkModelFile('m.xmile', '<?xml version="1.0"?><xmile version="1.0"></xmile>')).toBe('xmile');
    expect(checkModelFile('m.py', 'from pysd.py_backend import x\ndef teacup():\n    pass\n')).toBe('python');
  });

  it('refuses what is not a model, saying what was expected', () => {
    const bad = (name: string, text: string) => {
      try {
        checkModelFile(name, text);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(bad('notes.txt', 'x')).toMatch(/notes.txt is not a model file: upload a Vensim .mdl/);
    expect(bad('a.mdl', 'hello')).toMatch(/a.mdl is not a model: it does not contain Vensim equations/);
    expect(bad('a.xmile', '<html></html>')).toMatch(/an <xmile> document/);
    expect(bad('a.py', 'print(1)')).toMatch(/translated by PySD/);
    expect(bad('a.mdl', 'a = 1 ~ ~ |\0')).toMatch(/binary/);
    expect(bad('../etc/passwd.mdl', SIR)).toMatch(/not a plain file name/);
    expect(bad('dir/sir.mdl', SIR)).toMatch(/not a plain file name/);
    expect(bad('.hidden.mdl', SIR)).toMatch(/not a plain file name/);
  });
});

describe('translation errors', () => {
  it('name the variable and the line PySD could not parse', () => {
    const broken = SIR.replace('Infected / Illness Duration', 'Infected / (Illness Duration');
    const message =
      "PySD cannot translate sir.mdl (vensim): IncompleteParseError: Rule 'expr_type' matched in its entirety, but it didn't consume all the text. The non-matching portion of the text begins with '/ (Illness Duration' (line 1, column 10).";
    expect(locateError(message, broken)).toEqual({ variable: 'Recovering', line: 30 });
    expect(locateError('something else entirely', broken)).toEqual({ variable: null, line: null });
  });
});

describe('designs', () => {
  it('counts the experiments of a plan and accepts model or PySD names', () => {
    const ok = checkDesign(
      {
        model_id: 'sir-1',
        mode: 'plan',
        experiment: { ...lhs, parameters: { contact_rate: [2, 10] } },
        grid: { 'Illness Duration': [3, 6, 9], Infectivity: [0.02, 0.04, 0.06, 0.08] },
      },
      model,
    );
    expect(ok.count).toBe(12);
    expect(checkDesign({ model_id: 'sir-1', experiment: lhs }, model).count).toBe(1);
  });

  it('refuses min > max, unknown names, clashing grids and huge plans before anything runs', () => {
    const minMax = refusal({ experiment: { ...lhs, parameters: { 'Contact Rate': [9, 1] } } });
    expect(minMax.message).toContain('range min 9 > max 1');
    expect(minMax.field).toBe('experiment.parameters.Contact Rate');
    expect(refusal({ experiment: { ...lhs, parameters: { 'Contact Rat': [1, 2] } } }).message).toMatch(
      /"Contact Rat" is not a constant of this model \(known: Contact Rate/,
    );
    expect(
      refusal({ experiment: { ...lhs, metrics: [{ variable: 'Infectd', stat: 'max' }] } }).message,
    ).toContain('metric variable "Infectd" is not in this model');
    expect(refusal({ mode: 'plan', experiment: lhs, grid: { 'Contact Rate': [1, 2] } }).message).toContain(
      'both varied inside each experiment and fixed per experiment',
    );
    const values = Array.from({ length: 1000 }, (_, i) => i);
    const huge = refusal({
      mode: 'plan',
      experiment: lhs,
      grid: { Infectivity: values, 'Illness Duration': values },
    });
    expect(huge.message).toContain('1.00e+6 experiments; the limit is 10000');
    expect(huge.status).toBe(400);
    expect(refusal({ mode: 'plan', experiment: lhs }).message).toContain('a plan needs a grid');
    expect(refusal({ experiment: lhs, grid: { Infectivity: [1] } }).message).toContain(
      'grid and targets make a plan',
    );
    expect(refusal({ experiment: { type: 'annealing' } }).message).toContain('supported types');
  });
});

describe('given-data first-order indices', () => {
  it('find the parameter that drives the output, with an interval', () => {
    const n = 400;
    let seed = 1;
    const rand = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const a = Array.from({ length: n }, rand);
    const b = Array.from({ length: n }, rand);
    const y = a.map((x, i) => 10 * x + 0.5 * (b[i] as number));
    const [ia, ib] = givenDataS1({ a, b }, y);
    expect(ia?.S1).toBeGreaterThan(0.9);
    expect(ib?.S1).toBeLessThan(0.1);
    expect(ia?.S1_conf).toBeGreaterThan(0);
    expect(ia?.S1_conf).toBeLessThan(0.1);
  });
});
