// The experiment form, built from the model's constants: type, parameters
// (fixed, varied by a range/values/distribution defaulting from the model's
// Vensim range, or a plan's grid values), samples, seed, horizon, outputs,
// metrics, objective, scenarios; run as one experiment or as a plan with K.
// Every change is checked by the server (same rules as the run) before the
// Run button is enabled.
import { EXPERIMENT_TYPES, METRIC_STATS } from '../../../src/schemas/pysd-tools.ts';
import { ApiError } from '../api.ts';
import { h } from '../dom.ts';
import { type ModelMeta, wb } from '../wb-api.ts';
import { drawRow, input, numList, type ParamRow, paramRow, paramSpec } from './design-params.ts';

const DEFAULT_SAMPLES: Record<string, number> = {
  monte_carlo: 100,
  lhs: 50,
  sobol: 64,
  morris: 10,
  fast: 65,
  optimization: 50,
};
const SAMPLED = new Set(['monte_carlo', 'lhs', 'sobol', 'morris', 'fast', 'optimization']);
const STAT_LABEL = (s: string) => s.replace(/_/g, ' ');

export function designForm(model: ModelMeta): HTMLElement {
  const d = model.description;
  const variables = [...d.stocks, ...d.flows, ...d.auxiliaries].map((v) => v.name);
  const type = h(
    'select',
    { name: 'type' },
    ...EXPERIMENT_TYPES.map((t) => h('option', { value: t }, t.replace('_', ' '))),
  );
  type.value = 'lhs';
  const name = input({ name: 'name', placeholder: 'name (optional)' }, '');
  const samples = input({ name: 'samples', size: 6 }, 50);
  const seed = input({ name: 'seed', size: 6 }, 1);
  const finalTime = input({ name: 'final_time', size: 6 }, d.time.final_time);
  const k = input({ name: 'parallel_limit', size: 3 }, 4);
  const modeSingle = h('input', { type: 'radio', name: 'mode', value: 'single', checked: true });
  const modePlan = h('input', { type: 'radio', name: 'mode', value: 'plan' });
  const status = h('div', { class: 'design-status', 'aria-live': 'polite' });
  const runBtn = h('button', { type: 'button', class: 'run-design primary', disabled: true }, 'Run');

  // --- parameters
  const rows: ParamRow[] = d.constants.map(paramRow);
  for (const p of rows) drawRow(p);

  // Sensible defaults: vary the first two constants that have a Vensim range.
  rows
    .filter((p) => p.c.limits)
    .slice(0, 2)
    .forEach((p) => {
      p.role.value = 'vary';
      drawRow(p);
    });

  // --- outputs and metrics
  const outputs = h(
    'div',
    { class: 'outputs-pick' },
    ...variables.map((v) =>
      h(
        'label',
        { class: 'check' },
        h('input', { type: 'checkbox', value: v, checked: d.stocks.some((s) => s.name === v) }),
        ` ${v}`,
      ),
    ),
  );
  const metricsBox = h('div', { class: 'metrics-rows' });
  const addMetric = (variable: string, stat: string) => {
    const vs = h(
      'select',
      { class: 'metric-variable' },
      ...variables.map((v) => h('option', { value: v }, v)),
    );
    vs.value = variable;
    const ss = h(
      'select',
      { class: 'metric-stat' },
      ...METRIC_STATS.map((s) => h('option', { value: s }, STAT_LABEL(s))),
    );
    ss.value = stat;
    const line = h(
      'div',
      { class: 'metric-row' },
      vs,
      ss,
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            line.remove();
            changed();
          },
        },
        '✕',
      ),
    );
    metricsBox.append(line);
  };
  const firstStock = d.stocks[0]?.name ?? variables[0] ?? '';
  if (firstStock) addMetric(d.stocks.find((s) => /infect/i.test(s.name))?.name ?? firstStock, 'max');

  const objVar = h(
    'select',
    { class: 'objective-variable' },
    ...variables.map((v) => h('option', { value: v }, v)),
  );
  const objStat = h(
    'select',
    { class: 'objective-stat' },
    ...METRIC_STATS.map((s) => h('option', { value: s }, STAT_LABEL(s))),
  );
  objStat.value = 'max';
  const objGoal = h(
    'select',
    { class: 'objective-goal' },
    h('option', { value: 'min' }, 'minimise'),
    h('option', { value: 'max' }, 'maximise'),
  );
  const objectiveBox = h('div', { class: 'objective' }, 'Objective: ', objGoal, ' ', objStat, ' of ', objVar);

  const scenariosBox = h('div', { class: 'scenarios' });
  const scenarioRows: { name: HTMLInputElement; values: HTMLInputElement }[] = [];
  const addScenario = () => {
    const n = input({ class: 'scenario-name', size: 10 }, `scenario ${scenarioRows.length + 1}`);
    const vals = input(
      { class: 'scenario-values', size: 40, placeholder: 'Contact Rate=4, Infectivity=0.03' },
      '',
    );
    scenarioRows.push({ name: n, values: vals });
    scenariosBox.append(h('div', { class: 'scenario-row' }, n, ' ', vals));
  };
  addScenario();
  addScenario();

  function experiment(): Record<string, unknown> {
    const t = type.value;
    const parameters: Record<string, unknown> = {};
    for (const p of rows) {
      const spec = paramSpec(p);
      if (spec !== undefined) parameters[p.c.name] = spec;
    }
    const e: Record<string, unknown> = { type: t, parameters };
    if (SAMPLED.has(t)) e.samples = Number(samples.value);
    if (seed.value.trim() !== '') e.seed = Number(seed.value);
    if (finalTime.value.trim() !== '' && Number(finalTime.value) !== d.time.final_time)
      e.final_time = Number(finalTime.value);
    const cols = [...outputs.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value);
    if (cols.length > 0) e.return_columns = cols;
    e.metrics = [...metricsBox.querySelectorAll('.metric-row')].map((row) => ({
      variable: (row.querySelector('.metric-variable') as HTMLSelectElement).value,
      stat: (row.querySelector('.metric-stat') as HTMLSelectElement).value,
    }));
    if (t === 'optimization')
      e.objective = { variable: objVar.value, stat: objStat.value, goal: objGoal.value };
    if (t === 'scenarios') {
      e.scenarios = scenarioRows.map((s) => ({
        name: s.name.value,
        parameters: Object.fromEntries(
          s.values.value
            .split(',')
            .map((kv) => kv.split('='))
            .filter((kv) => kv.length === 2)
            .map(([kk, v]) => [String(kk).trim(), Number(v)]),
        ),
      }));
    }
    return e;
  }

  function design(): Record<string, unknown> {
    const plan = modePlan.checked;
    const grid: Record<string, number[]> = {};
    for (const p of rows)
      if (p.role.value === 'grid') grid[p.c.name] = numList((p.fields.grid as HTMLInputElement).value);
    return {
      model_id: model.model_id,
      ...(name.value.trim() ? { name: name.value.trim() } : {}),
      mode: plan ? 'plan' : 'single',
      experiment: experiment(),
      ...(plan ? { grid, parallel_limit: Number(k.value) } : {}),
    };
  }

  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The design last checked: a blur's change event with nothing new must not re-disable Run. */
  let lastKey = '';
  function changed(): void {
    const t = type.value;
    samples.closest('label')?.toggleAttribute('hidden', !SAMPLED.has(t));
    objectiveBox.hidden = t !== 'optimization';
    scenariosBox.parentElement?.toggleAttribute('hidden', t !== 'scenarios');
    k.closest('label')?.toggleAttribute('hidden', !modePlan.checked);
    for (const p of rows) {
      const gridOpt = p.role.querySelector('option[value="grid"]') as HTMLOptionElement;
      gridOpt.disabled = !modePlan.checked;
      if (!modePlan.checked && p.role.value === 'grid') {
        p.role.value = 'fixed';
        drawRow(p);
      }
    }
    const key = JSON.stringify(design());
    if (key === lastKey) return;
    lastKey = key;
    runBtn.disabled = true;
    status.className = 'design-status busy';
    status.textContent = 'checking…';
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  }

  function check(): void {
    const mine = ++seq;
    for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
    wb.check(design())
      .then((r) => {
        if (mine !== seq) return;
        const e = experiment();
        const runs = SAMPLED.has(String(e.type)) ? ` · ${e.samples} samples each` : '';
        status.className = 'design-status ok';
        status.textContent =
          r.mode === 'plan'
            ? `✓ ${r.count} experiments${runs}, ${k.value} at once`
            : `✓ one experiment${runs}`;
        runBtn.disabled = false;
        runBtn.textContent = r.mode === 'plan' ? `Run plan of ${r.count} experiments` : 'Run experiment';
      })
      .catch((err: Error) => {
        if (mine !== seq) return;
        status.className = 'design-status error';
        status.textContent = err.message;
        const field =
          err.message.match(/^(experiment\.parameters|grid)\.([^:]+):/) ??
          err.message.match(/(?:parameter|grid parameter) "([^"]+)"/);
        const param = field ? field[field.length - 1] : undefined;
        if (param) form.querySelector(`tr[data-param="${CSS.escape(param)}"]`)?.classList.add('invalid');
      });
  }

  runBtn.addEventListener('click', () => {
    runBtn.disabled = true;
    status.textContent = 'starting…';
    wb.run(design())
      .then((s) => {
        location.hash = s.mode === 'plan' ? `#/p/${s.plan_id}` : `#/s/${s.session_id}`;
      })
      .catch((err: Error) => {
        status.className = 'design-status error';
        status.textContent = err instanceof ApiError ? err.message : String(err);
      });
  });

  const paramTable = h(
    'table',
    { class: 'params' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Constant'), h('th', {}, 'Role'), h('th', {}, 'Values'))),
    h('tbody', {}, ...rows.map((p) => p.row)),
  );
  const form = h(
    'form',
    { class: 'design-form', onsubmit: (e: Event) => e.preventDefault() },
    h('div', { class: 'form-line' }, h('label', {}, 'Type ', type), ' ', name),
    paramTable,
    h(
      'div',
      { class: 'form-line' },
      h('label', {}, 'Samples ', samples),
      h('label', {}, 'Seed ', seed),
      h('label', {}, `Final time (${d.time.units ?? 'time'}) `, finalTime),
    ),
    h('fieldset', {}, h('legend', {}, 'Outputs'), outputs),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Metrics'),
      metricsBox,
      h(
        'button',
        {
          type: 'button',
          class: 'add-metric',
          onclick: () => {
            addMetric(firstStock, 'final');
            changed();
          },
        },
        '+ metric',
      ),
    ),
    objectiveBox,
    h(
      'fieldset',
      { hidden: true },
      h('legend', {}, 'Scenarios (name, then name=value pairs)'),
      scenariosBox,
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            addScenario();
            changed();
          },
        },
        '+ scenario',
      ),
    ),
    h(
      'div',
      { class: 'form-line mode' },
      h('label', {}, modeSingle, ' one experiment (a notebook)'),
      h('label', {}, modePlan, ' a plan over a grid'),
      h('label', { hidden: true }, ' K (at once) ', k),
    ),
    status,
    runBtn,
  );
  form.addEventListener('input', changed);
  form.addEventListener('change', (e) => {
    const t = e.target as HTMLElement;
    if (t === type) samples.value = String(DEFAULT_SAMPLES[type.value] ?? samples.value);
    const p = rows.find((r) => r.role === t || r.kind === t);
    if (p) drawRow(p);
    changed();
  });
  queueMicrotask(changed);
  return form;
}
