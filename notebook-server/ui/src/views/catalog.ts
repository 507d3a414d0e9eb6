// Catalog: the experiments with parameters and metrics as columns, then a SQL
// query box over the results catalog, the rows as a table, and a chart of one
// metric (y) against a parameter or the experiment (x), both choosable.
import { api, type CatalogQueryResult } from '../api.ts';
import { clear, h } from '../dom.ts';
import { categoryChart, lineChart, numericColumns, pivotMetrics } from '../plots.ts';
import { experimentsTable } from './catalog-table.ts';

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
    experimentsTable(),
    h('h2', {}, 'SQL'),
    sql,
    h('div', { class: 'toolbar' }, runBtn),
    status,
    chartBox,
    tableBox,
  );

  // Only the latest query renders: an earlier one answering late (the view's first query, a
  // double click) would otherwise add a second table and chart.
  let latest = 0;
  async function run(): Promise<void> {
    const mine = ++latest;
    sessionStorage.setItem('peragus_sql', sql.value);
    status.textContent = 'running…';
    clear(chartBox);
    clear(tableBox);
    try {
      const t0 = performance.now();
      const result = await api.query(sql.value, 1000);
      if (mine !== latest) return;
      status.textContent = `${result.rows.length} row(s)${result.truncated ? ' (truncated)' : ''} in ${Math.round(performance.now() - t0)} ms`;
      renderTable(result);
      renderChart(result);
    } catch (err) {
      if (mine !== latest) return;
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

  /**
   * One metric against one x: long metrics rows (experiment_id, name, value)
   * pick a metric name; other results pick x (a parameter or a label such as
   * experiment_id) and y (one numeric column). Never every number at once.
   */
  function renderChart(r: CatalogQueryResult): void {
    if (r.rows.length === 0) return;
    const cols = new Set(r.columns);
    const controls = h('div', { class: 'form-line chart-controls' });
    const plot = h('div');
    chartBox.append(controls, plot);
    if (cols.has('experiment_id') && cols.has('name') && cols.has('value')) {
      const { categories, groups } = pivotMetrics(r.rows);
      const pick = h(
        'select',
        { class: 'chart-y' },
        ...groups.map((g) => h('option', { value: g.name }, g.name)),
      );
      const mean = groups.find((g) => g.name.endsWith('.mean'));
      if (mean) pick.value = mean.name;
      const draw = () => {
        plot.replaceChildren();
        const g = groups.find((x) => x.name === pick.value) ?? groups[0];
        if (g) categoryChart(plot, categories, [g], `${g.name} by experiment`);
      };
      pick.addEventListener('change', draw);
      controls.append('y: ', pick, ' x: experiment');
      draw();
      return;
    }
    const numeric = numericColumns(r.columns, r.rows);
    if (numeric.length === 0) return;
    const labels = r.columns.filter((c) => !numeric.includes(c));
    const xOptions = [...labels, ...numeric];
    const xs = h('select', { class: 'chart-x' }, ...xOptions.map((c) => h('option', { value: c }, c)));
    const ys = h('select', { class: 'chart-y' }, ...numeric.map((c) => h('option', { value: c }, c)));
    // x: the experiment (or another label) when there is one, else the first numeric column.
    xs.value = labels.includes('experiment_id') ? 'experiment_id' : (labels[0] ?? (numeric[0] as string));
    ys.value = numeric.find((c) => c !== xs.value) ?? (numeric[0] as string);
    const draw = () => {
      plot.replaceChildren();
      const x = xs.value;
      const y = ys.value;
      const yv = (row: Record<string, unknown>) => (row[y] == null ? null : Number(row[y]));
      if (!numeric.includes(x)) {
        categoryChart(
          plot,
          r.rows.map((row) => String(row[x])),
          [{ name: y, values: r.rows.map(yv) }],
          `${y} by ${x}`,
        );
        return;
      }
      const rows = [...r.rows].sort((a, b) => Number(a[x]) - Number(b[x]));
      lineChart(plot, {
        title: `${y} against ${x}`,
        x: { name: x, values: rows.map((row) => Number(row[x])) },
        series: [{ name: y, values: rows.map(yv) }],
      });
    };
    xs.addEventListener('change', draw);
    ys.addEventListener('change', draw);
    controls.append('x: ', xs, ' y: ', ys);
    draw();
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
