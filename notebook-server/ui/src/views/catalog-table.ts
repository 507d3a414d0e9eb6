// The catalog's experiments as a table: parameters and metrics as columns,
// click a header to sort, a filter box, links to results and plans.
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { fmt } from '../wb-charts.ts';

type Row = Record<string, unknown>;
interface Exp {
  experiment_id: string;
  plan_id?: string | null;
  status?: string;
  config?: { fixed?: Record<string, unknown>; parameters?: Record<string, unknown>; type?: string } | null;
  metrics?: Record<string, number | null>;
  finished_at?: string | null;
}

const MAX_ROWS = 500;

function params(e: Exp): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e.config?.parameters ?? {})) {
    if (typeof v === 'number') out[k] = v;
    else if (Array.isArray(v)) out[k] = `${v[0]}–${v[1]}`;
  }
  return { ...out, ...(e.config?.fixed ?? {}) };
}

export function experimentsTable(): HTMLElement {
  const filter = h('input', {
    type: 'text',
    class: 'catalog-filter',
    placeholder: 'filter (experiment, plan, status, values)',
  });
  const all = h('input', { type: 'checkbox', class: 'all-stats' });
  const note = h('span', { class: 'muted' });
  const table = h('table', { class: 'experiments sortable' });
  const box = h(
    'section',
    { class: 'catalog-experiments' },
    h('h2', {}, 'Experiments'),
    h('div', { class: 'form-line' }, filter, ' ', h('label', {}, all, ' all statistics'), ' ', note),
    table,
  );
  let rows: Row[] = [];
  let paramCols: string[] = [];
  let metricCols: string[] = [];
  let sortBy = 'experiment_id';
  let desc = false;

  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    const metrics = all.checked
      ? metricCols
      : metricCols.filter((m) => !m.includes('.') || m.endsWith('.mean'));
    const cols = ['experiment_id', 'plan_id', 'type', 'status', ...paramCols, ...metrics];
    const shown = rows
      .filter(
        (r) =>
          !q ||
          cols.some((c) =>
            String(r[c] ?? '')
              .toLowerCase()
              .includes(q),
          ),
      )
      .sort((a, b) => {
        const x = a[sortBy];
        const y = b[sortBy];
        const c =
          typeof x === 'number' && typeof y === 'number'
            ? x - y
            : String(x ?? '').localeCompare(String(y ?? ''));
        return desc ? -c : c;
      });
    note.textContent = `${shown.length} of ${rows.length} experiment(s)${shown.length > MAX_ROWS ? `, first ${MAX_ROWS} shown` : ''}`;
    table.replaceChildren(
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...cols.map((c) =>
            h(
              'th',
              {
                'data-col': c,
                onclick: () => {
                  desc = sortBy === c ? !desc : false;
                  sortBy = c;
                  draw();
                },
              },
              c,
              sortBy === c ? (desc ? ' ▼' : ' ▲') : '',
            ),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        ...shown.slice(0, MAX_ROWS).map((r) =>
          h(
            'tr',
            { 'data-experiment-id': String(r.experiment_id) },
            ...cols.map((c) => {
              const v = r[c];
              if (c === 'experiment_id') return h('td', {}, h('a', { href: `#/e/${v}` }, String(v)));
              if (c === 'plan_id' && v) return h('td', {}, h('a', { href: `#/p/${v}` }, String(v)));
              return h('td', { class: typeof v === 'number' ? 'num' : '' }, fmt(v));
            }),
          ),
        ),
      ),
    );
  };
  filter.addEventListener('input', draw);
  all.addEventListener('change', draw);
  api
    .experiments()
    .then((list) => {
      const ps = new Set<string>();
      const ms = new Set<string>();
      rows = (list as unknown as Exp[]).map((e) => {
        const p = params(e);
        for (const k of Object.keys(p)) ps.add(k);
        for (const k of Object.keys(e.metrics ?? {})) ms.add(k);
        return {
          experiment_id: e.experiment_id,
          plan_id: e.plan_id ?? '',
          type: e.config?.type ?? '',
          status: e.status ?? '',
          ...p,
          ...(e.metrics ?? {}),
        };
      });
      paramCols = [...ps].sort();
      metricCols = [...ms].sort();
      draw();
    })
    .catch((err: Error) => {
      note.textContent = err.message;
    });
  return box;
}
