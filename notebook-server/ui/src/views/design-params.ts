// One row of the experiment form per model constant: its role (fixed, varied
// inside the experiment, or a plan's grid values), its inputs defaulting from
// the model's value and Vensim range, and the spec it contributes.
import { h } from '../dom.ts';
import type { ModelMeta } from '../wb-api.ts';

type Constant = ModelMeta['description']['constants'][number];
type Role = 'fixed' | 'vary' | 'grid';
const KINDS = ['range', 'values', 'normal', 'uniform', 'triangular', 'lognormal'] as const;
type Kind = (typeof KINDS)[number];

function bounds(c: Constant): [number, number] {
  const v = typeof c.value === 'number' ? c.value : 1;
  const lo = c.limits?.[0];
  const hi = c.limits?.[1];
  const min = typeof lo === 'number' ? lo : v === 0 ? 0 : Math.min(v * 0.5, v * 1.5);
  const max = typeof hi === 'number' ? hi : v === 0 ? 1 : Math.max(v * 0.5, v * 1.5);
  return [min, max];
}

const round = (x: number) => Number(x.toPrecision(4));
export const numList = (s: string): number[] =>
  s
    .split(/[,\s;]+/)
    .filter((t) => t !== '')
    .map(Number);

export function input(attrs: Record<string, string | number>, value: string | number): HTMLInputElement {
  const el = h('input', { type: 'text', ...attrs });
  el.value = String(value);
  return el;
}

export interface ParamRow {
  c: Constant;
  role: HTMLSelectElement;
  kind: HTMLSelectElement;
  fields: Record<string, HTMLInputElement>;
  row: HTMLTableRowElement;
}

/** A row's inputs for every kind of spec (drawn as its role and kind ask). */
export function paramRow(c: Constant): ParamRow {
  const [min, max] = bounds(c);
  const v = typeof c.value === 'number' ? c.value : 0;
  const fields: Record<string, HTMLInputElement> = {
    value: input({ class: 'value', size: 7 }, v),
    min: input({ class: 'min', size: 7 }, round(min)),
    max: input({ class: 'max', size: 7 }, round(max)),
    values: input({ class: 'values', size: 16 }, [min, (min + max) / 2, max].map(round).join(', ')),
    mean: input({ class: 'mean', size: 7 }, v),
    std: input({ class: 'std', size: 7 }, round(Math.abs(v) * 0.1 || 0.1)),
    mode: input({ class: 'mode', size: 7 }, v),
    mu: input({ class: 'mu', size: 7 }, round(Math.log(Math.abs(v) || 1))),
    sigma: input({ class: 'sigma', size: 7 }, 0.1),
    grid: input({ class: 'grid-values', size: 16 }, [min, (min + max) / 2, max].map(round).join(', ')),
  };
  const role = h(
    'select',
    { class: 'role' },
    h('option', { value: 'fixed' }, 'fixed'),
    h('option', { value: 'vary' }, 'vary'),
    h('option', { value: 'grid' }, 'plan grid'),
  );
  const kind = h('select', { class: 'kind' }, ...KINDS.map((kk) => h('option', { value: kk }, kk)));
  const row = h('tr', { 'data-param': c.name }) as HTMLTableRowElement;
  return { c, role, kind, fields, row };
}

export function drawRow(p: ParamRow): void {
  const r = p.role.value as Role;
  const f = p.fields;
  const spec = h('td', { class: 'spec' });
  if (r === 'fixed') spec.append(f.value as HTMLInputElement);
  else if (r === 'grid')
    spec.append(f.grid as HTMLInputElement, h('span', { class: 'muted' }, ' one experiment per value'));
  else {
    const kk = p.kind.value as Kind;
    const lab = (t: string, el?: HTMLInputElement) => [
      h('span', { class: 'muted' }, ` ${t} `),
      el as HTMLInputElement,
    ];
    spec.append(p.kind);
    if (kk === 'range' || kk === 'uniform') spec.append(...lab('min', f.min), ...lab('max', f.max));
    if (kk === 'values') spec.append(...lab('values', f.values));
    if (kk === 'normal') spec.append(...lab('mean', f.mean), ...lab('std', f.std));
    if (kk === 'triangular') spec.append(...lab('min', f.min), ...lab('mode', f.mode), ...lab('max', f.max));
    if (kk === 'lognormal') spec.append(...lab('μ', f.mu), ...lab('σ', f.sigma));
  }
  p.row.replaceChildren(
    h(
      'td',
      {},
      h('strong', {}, p.c.name),
      h(
        'div',
        { class: 'muted' },
        `${p.c.units ?? ''} ${p.c.limits ? `[${p.c.limits[0] ?? '?'}, ${p.c.limits[1] ?? '?'}]` : ''}`,
      ),
    ),
    h('td', {}, p.role),
    spec,
  );
}

/** The experiment's spec for a parameter row; undefined when it stays at the model's value. */
export function paramSpec(p: ParamRow): unknown {
  const f = p.fields;
  const num = (key: string) => Number((f[key] as HTMLInputElement).value);
  const r = p.role.value as Role;
  if (r === 'fixed') return num('value') !== p.c.value ? num('value') : undefined;
  if (r !== 'vary') return undefined;
  const kk = p.kind.value as Kind;
  return kk === 'range'
    ? [num('min'), num('max')]
    : kk === 'values'
      ? { values: numList((f.values as HTMLInputElement).value) }
      : kk === 'normal'
        ? { dist: 'normal', mean: num('mean'), std: num('std') }
        : kk === 'uniform'
          ? { dist: 'uniform', min: num('min'), max: num('max') }
          : kk === 'triangular'
            ? { dist: 'triangular', min: num('min'), mode: num('mode'), max: num('max') }
            : { dist: 'lognormal', mu: num('mu'), sigma: num('sigma') };
}
