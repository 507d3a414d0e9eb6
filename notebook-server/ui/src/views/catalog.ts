// Catalog: a SQL query box over the results catalog, the rows as a table, and
// a chart of the result (metrics per experiment, or y against x columns).
import { api, type CatalogQueryResult } from '../api.ts';
import { clear, h } from '../dom.ts';
import { categoryChart, lineChart, numericColumns, pivotMetrics } from '../plots.ts';

const DEFAULT_SQL = 'SELECT experiment_id, name, value FROM metrics ORDER BY experiment_id, name LIMIT 500';

export function catalogView(root: HTMLElement): () => void {
  const sql = h('textarea', { class: 'sql', rows: 4, spellcheck: 'false' });
  sql.value = sessionStorage.getItem('peragus_sql') ?? DEFAULT_SQL;
  const status = h('div', { class: 'query-status' });
  const chartBox = h('div', { class: 'catalog-chart' });
  const tableBox = h('div', { class: 'catalog-table' });
  const runBtn = h('button', { class: 'run-query', onclick: () => void run() }, 'Run query');
  sql.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void run();
  });
  clear(root);
  root.append(
    h('h1', {}, 'Catalog'),
    sql,
    h('div', { class: 'toolbar' }, runBtn),
    status,
    chartBox,
    tableBox,
  );

  async function run(): Promise<void> {
    sessionStorage.setItem('peragus_sql', sql.value);
    status.textContent = 'running…';
    clear(chartBox);
    clear(tableBox);
    try {
      const t0 = performance.now();
      const result = await api.query(sql.value, 1000);
      status.textContent = `${result.rows.length} row(s)${result.truncated ? ' (truncated)' : ''} in ${Math.round(performance.now() - t0)} ms`;
      renderTable(result);
      renderChart(result);
    } catch (err) {
      status.textContent = (err as Error).message;
      status.classList.add('error');
      return;
    }
    status.classList.remove('error');
  }

  function renderTable(r: CatalogQueryResult): void {
    const cell = (v: unknown) =>
      v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    tableBox.append(
      h(
        'table',
        { class: 'results' },
        h('thead', {}, h('tr', {}, ...r.columns.map((c) => h('th', {}, c)))),
        h(
          'tbody',
          {},
          ...r.rows.map((row) => h('tr', {}, ...r.columns.map((c) => h('td', {}, cell(row[c]))))),
        ),
      ),
    );
  }

  function renderChart(r: CatalogQueryResult): void {
    if (r.rows.length === 0) return;
    const cols = new Set(r.columns);
    if (cols.has('experiment_id') && cols.has('name') && cols.has('value')) {
      const { categories, groups } = pivotMetrics(r.rows);
      categoryChart(chartBox, categories, groups, 'metrics by experiment');
      return;
    }
    const numeric = numericColumns(r.columns, r.rows);
    if (numeric.length >= 2) {
      // First numeric column as x, the others as lines, sorted by x.
      const [x, ...ys] = numeric as [string, ...string[]];
      const rows = [...r.rows].sort((a, b) => Number(a[x]) - Number(b[x]));
      lineChart(chartBox, {
        x: { name: x, values: rows.map((row) => Number(row[x])) },
        series: ys.map((y) => ({
          name: y,
          values: rows.map((row) => (row[y] == null ? null : Number(row[y]))),
        })),
      });
      return;
    }
    const label = r.columns.find((c) => !numeric.includes(c));
    if (label && numeric.length === 1) {
      const y = numeric[0] as string;
      categoryChart(
        chartBox,
        r.rows.map((row) => String(row[label])),
        [{ name: y, values: r.rows.map((row) => (row[y] == null ? null : Number(row[y]))) }],
      );
    }
  }

  api
    .info()
    .then((info) => {
      if (!info.catalog) {
        status.textContent = 'This server has no catalog.';
        runBtn.setAttribute('disabled', '');
      } else void run();
    })
    .catch((err: Error) => {
      status.textContent = err.message;
    });
  return () => {};
}
