// Charts with uPlot: time series of a run or sweep (from a cell output), and
// catalog query results (metrics per experiment, or any two numeric columns).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom.ts';

/**
 * The mime type a cell output uses to carry time series for plotting:
 * {title?, x: {name, values[]}, series: [{name, values[]}]}.
 */
export const TIMESERIES_MIME = 'application/vnd.peragus.timeseries+json';

export interface TimeSeries {
  title?: string;
  x: { name: string; values: number[] };
  series: { name: string; values: (number | null)[] }[];
}

const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
];
/** The palette first, then evenly spread hues, so a dozen lines stay apart. */
const color = (i: number) =>
  i < PALETTE.length ? (PALETTE[i] as string) : `hsl(${Math.round((i * 137.5) % 360)}, 60%, 42%)`;

export function isTimeSeries(v: unknown): v is TimeSeries {
  const t = v as TimeSeries;
  return (
    typeof t === 'object' &&
    t !== null &&
    Array.isArray(t.x?.values) &&
    Array.isArray(t.series) &&
    t.series.every((s) => Array.isArray(s?.values))
  );
}

/** pandas DataFrame.to_json(orient='split') with a numeric index: the index is x. */
export function fromPandasSplit(v: unknown, title?: string): TimeSeries | null {
  const f = v as { columns?: unknown[]; index?: unknown[]; data?: unknown[][] };
  if (!Array.isArray(f?.columns) || !Array.isArray(f.index) || !Array.isArray(f.data)) return null;
  if (!f.index.every((x) => typeof x === 'number')) return null;
  const series = f.columns.map((name, j) => ({
    name: String(name),
    values: (f.data as unknown[][]).map((row) => (typeof row[j] === 'number' ? (row[j] as number) : null)),
  }));
  return { title, x: { name: 'index', values: f.index as number[] }, series };
}

function chartWidth(container: HTMLElement): number {
  return Math.max(320, Math.min(900, (container.clientWidth || 800) - 8));
}

/** A line chart, one line per series (a sweep shows one line per run). */
export function lineChart(container: HTMLElement, ts: TimeSeries, height = 280): uPlot {
  const wrap = h('div', { class: 'chart', 'data-chart': 'timeseries' });
  container.append(wrap);
  const opts: uPlot.Options = {
    title: ts.title,
    width: chartWidth(container),
    height,
    scales: { x: { time: false } },
    axes: [{ label: ts.x.name }, { size: 64 }],
    legend: { show: ts.series.length <= 12 },
    series: [
      { label: ts.x.name },
      ...ts.series.map((s, i) => ({ label: s.name, stroke: color(i), width: 1.5 })),
    ],
  };
  const data: uPlot.AlignedData = [ts.x.values, ...ts.series.map((s) => s.values)];
  return new uPlot(opts, data, wrap);
}

/**
 * A points chart of category × value (e.g. one metric per experiment): x is the
 * category's position, labelled with its name; one series per group.
 */
export function categoryChart(
  container: HTMLElement,
  categories: string[],
  groups: { name: string; values: (number | null)[] }[],
  title?: string,
): uPlot {
  const wrap = h('div', { class: 'chart', 'data-chart': 'category' });
  container.append(wrap);
  const x = categories.map((_, i) => i);
  // Ids of one plan share a long prefix: label by what differs.
  let common = categories.length > 1 ? (categories[0] ?? '') : '';
  for (const c of categories) while (common && !c.startsWith(common)) common = common.slice(0, -1);
  const cut = common.length > 4 ? common.length : 0;
  const short = (s: string) => {
    const t = cut ? `…${s.slice(cut)}` : s;
    return t.length > 14 ? `${t.slice(0, 13)}…` : t;
  };
  const opts: uPlot.Options = {
    title,
    width: chartWidth(container),
    height: 300,
    scales: { x: { time: false, range: [-0.5, Math.max(0.5, categories.length - 0.5)] } },
    axes: [
      {
        splits: () => x,
        values: (_u, splits) => splits.map((v) => short(categories[v] ?? '')),
        rotate: categories.length > 8 ? -45 : 0,
        size: categories.length > 8 ? 80 : 40,
      } as uPlot.Axis,
      {},
    ],
    series: [
      { label: 'experiment', value: (_u, v) => (v === null ? '' : (categories[v] ?? '')) },
      ...groups.map((g, i) => ({
        label: g.name,
        stroke: color(i),
        fill: color(i),
        paths: () => null,
        points: { show: true, size: 9, fill: color(i) },
      })),
    ],
  };
  return new uPlot(opts, [x, ...groups.map((g) => g.values)], wrap);
}

type Row = Record<string, unknown>;

/** Long metrics rows (experiment_id, name, value) → one group per metric name. */
export function pivotMetrics(rows: Row[]): {
  categories: string[];
  groups: { name: string; values: (number | null)[] }[];
} {
  const categories = [...new Set(rows.map((r) => String(r.experiment_id)))];
  const names = [...new Set(rows.map((r) => String(r.name)))];
  const groups = names.map((name) => ({
    name,
    values: categories.map((c) => {
      const row = rows.find((r) => String(r.experiment_id) === c && String(r.name) === name);
      const v = Number(row?.value);
      return row && Number.isFinite(v) ? v : null;
    }),
  }));
  return { categories, groups };
}

export function numericColumns(columns: string[], rows: Row[]): string[] {
  return columns.filter(
    (c) =>
      rows.length > 0 &&
      rows.every((r) => r[c] === null || r[c] === undefined || Number.isFinite(Number(r[c]))),
  );
}
