// Renders peragus_pysd results (application/vnd.peragus.result+json): the
// summary line, metrics, and for experiments that wrote a runs table, a chart
// of one variable over time with one line per run (variable picker above it).
import { api, token } from './api.ts';
import { h } from './dom.ts';
import { lineChart } from './plots.ts';

export const RESULT_MIME = 'application/vnd.peragus.result+json';
export const PROGRESS_MIME = 'application/vnd.peragus.progress+json';

interface Artifact {
  path: string;
  media_type?: string;
  role?: string;
}

/** PySD's control variables: constant over time, never what one wants to see first. */
const CONTROL = new Set([
  'FINAL TIME',
  'INITIAL TIME',
  'SAVEPER',
  'TIME STEP',
  'final_time',
  'initial_time',
  'saveper',
  'time_step',
]);

interface RunResult {
  preview?: { base64?: string; media_type?: string };
  run_count?: number;
  experiment_type?: string;
  artifacts?: Artifact[];
  columns?: { parameters?: string[]; variables?: string[] };
  metrics?: Record<string, Record<string, unknown> & { variable?: string }>;
}

const PLOTTABLE = new Set(['application/vnd.apache.parquet', 'text/csv']);

function runsArtifact(r: RunResult): Artifact | undefined {
  return r.artifacts?.find((a) => a.role === 'runs' && PLOTTABLE.has(a.media_type ?? ''));
}

function metricsTable(metrics: Record<string, Record<string, unknown>>): HTMLElement {
  const stats = ['mean', 'min', 'max', 'std'];
  const fmt = (v: unknown) => (typeof v === 'number' ? v.toPrecision(5) : v === undefined ? '' : String(v));
  return h(
    'table',
    { class: 'metrics' },
    h('thead', {}, h('tr', {}, h('th', {}, 'metric'), ...stats.map((s) => h('th', {}, s)))),
    h(
      'tbody',
      {},
      ...Object.entries(metrics).map(([name, m]) =>
        h('tr', {}, h('td', {}, name), ...stats.map((s) => h('td', { class: 'num' }, fmt(m[s])))),
      ),
    ),
  );
}

/** Charts a variable of the runs table; reuses the fetched series while the page lives. */
function sweepChart(sessionId: string, r: RunResult, runs: Artifact): HTMLElement {
  const box = h('div', { class: 'sweep', 'data-sweep': runs.path });
  const variables = (r.columns?.variables ?? []).filter((v) => !CONTROL.has(v));
  // Start with what the experiment measured (its first metric's variable).
  const first = Object.values(r.metrics ?? {})[0]?.variable;
  if (first && variables.includes(first)) {
    variables.splice(variables.indexOf(first), 1);
    variables.unshift(first);
  }
  const labels = r.columns?.parameters ?? [];
  const picker = h('select', { class: 'variable' }, ...variables.map((v) => h('option', { value: v }, v)));
  const chart = h('div', { class: 'sweep-chart' });
  const note = h('span', { class: 'sweep-note' });
  const draw = () => {
    note.textContent = 'loading…';
    api
      .timeseries(sessionId, { path: runs.path, variable: picker.value || undefined, labels })
      .then((s) => {
        chart.replaceChildren();
        lineChart(chart, s);
        note.textContent = s.truncated
          ? `first ${s.series.length} of ${s.run_count} runs`
          : `${s.run_count} run(s)`;
      })
      .catch((err: Error) => {
        note.textContent = `cannot plot: ${err.message}`;
      });
  };
  picker.addEventListener('change', draw);
  box.append(h('div', { class: 'sweep-bar' }, 'time series of ', picker, ' ', note), chart);
  queueMicrotask(draw);
  return box;
}

/** A pysd_visualize plot: the small preview at once, then the PNG itself at full size. */
function plotImage(
  sessionId: string,
  image: Artifact | undefined,
  preview: RunResult['preview'],
): HTMLElement {
  const img = h('img', { class: 'out-image plot-image', alt: image?.path ?? 'plot' });
  if (preview?.base64) img.src = `data:${preview.media_type ?? 'image/png'};base64,${preview.base64}`;
  if (image) {
    fetch(`/ui-api/sessions/${encodeURIComponent(sessionId)}/image?path=${encodeURIComponent(image.path)}`, {
      headers: { Authorization: `token ${token()}` },
    })
      .then((res) => (res.ok ? res.blob() : null))
      .then((blob) => {
        if (blob) img.src = URL.createObjectURL(blob);
      })
      .catch(() => undefined);
  }
  return img;
}

export function renderResult(sessionId: string, value: unknown, summary: string | undefined): HTMLElement {
  const box = h('div', { class: 'peragus-result' });
  if (summary) box.append(h('div', { class: 'result-summary' }, summary));
  const r = ((value as { result?: unknown })?.result ?? {}) as RunResult;
  const runs = runsArtifact(r);
  if (runs) box.append(sweepChart(sessionId, r, runs));
  const image = r.artifacts?.find((a) => (a.media_type ?? '').startsWith('image/'));
  if (image || r.preview?.base64) box.append(plotImage(sessionId, image, r.preview));
  if (r.metrics && Object.keys(r.metrics).length > 0) box.append(metricsTable(r.metrics));
  return box;
}

export function renderProgress(value: unknown): HTMLElement {
  const p = value as { label?: string; done?: number; total?: number; failed?: number };
  const pct = p.total ? Math.min(100, (100 * (p.done ?? 0)) / p.total) : 0;
  return h(
    'div',
    { class: 'progress' },
    h('div', { class: 'progress-track' }, h('div', { class: 'progress-fill', style: `width:${pct}%` })),
    h(
      'span',
      { class: 'progress-label' },
      `${p.label ?? ''} ${p.done ?? 0}/${p.total ?? '?'}${p.failed ? ` (${p.failed} failed)` : ''}`,
    ),
  );
}
