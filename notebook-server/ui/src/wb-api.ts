// The workbench's calls: models, designs, plans, results, containers.
import { tableFromIPC } from 'apache-arrow';
import type { FanData, SensitivityBars } from '../../src/workbench/charts.ts';
import type { ModelDescription } from '../../src/workbench/describe.ts';
import type { ModelMeta } from '../../src/workbench/models.ts';
import type { PlanView, Tile } from '../../src/workbench/plan-view.ts';
import { ApiError, call, token } from './api.ts';

export type { FanData, ModelDescription, ModelMeta, PlanView, SensitivityBars, Tile };
export type ModelListItem = Omit<ModelMeta, 'description'> & { counts: Record<string, number> };
export type PlanListItem = Omit<PlanView, 'experiments'>;
export interface Lines {
  time: number[];
  series: { name: string; values: number[] }[];
}
export interface Started {
  mode: 'single' | 'plan';
  experiment_id?: string;
  session_id?: string;
  plan_id?: string;
  count: number;
}
export interface ResultDetail {
  experiment_id: string;
  record: {
    status?: string;
    plan_id?: string | null;
    error?: string | null;
    session_id?: string | null;
  } | null;
  artifacts: { path: string; sha256: string; bytes: number; media_type: string }[];
  summary: Record<string, unknown> | null;
}
export interface ContainerRow {
  container_id: string;
  experiment_id: string | null;
  name: string;
  image: string;
  status: string;
  running: boolean;
  created_at: string;
  labels: Record<string, string>;
  runtime: string;
  node: string;
}

const enc = encodeURIComponent;

export const wb = {
  models: () => call<ModelListItem[]>('GET', '/ui-api/models'),
  model: (id: string) => call<ModelMeta>('GET', `/ui-api/models/${enc(id)}`),
  upload: (filename: string, content: string) =>
    call<ModelMeta>('POST', '/ui-api/models', { filename, content }),
  examples: () =>
    call<{ models: { filename: string; bytes: number }[]; notebooks: { name: string; title: string }[] }>(
      'GET',
      '/ui-api/examples',
    ),
  addExample: (filename: string) => call<ModelMeta>('POST', `/ui-api/examples/models/${enc(filename)}`, {}),
  openExample: (name: string) =>
    call<{ session_id: string }>('POST', `/ui-api/examples/notebooks/${enc(name)}/open`, {}),
  check: (design: unknown) => call<{ count: number; mode: string }>('POST', '/ui-api/designs/check', design),
  run: (design: unknown) => call<Started>('POST', '/ui-api/designs/run', design),
  plans: () => call<PlanListItem[]>('GET', '/ui-api/plans'),
  plan: (id: string) => call<PlanView>('GET', `/ui-api/plans/${enc(id)}`),
  cancelPlan: (id: string) => call<{ cancelled: boolean }>('POST', `/ui-api/plans/${enc(id)}/cancel`, {}),
  planTable: (id: string) =>
    call<{ parameters: string[]; metrics: string[]; rows: Record<string, unknown>[] }>(
      'GET',
      `/ui-api/plans/${enc(id)}/table`,
    ),
  overlay: (id: string, variable: string, others: string[] = []) =>
    call<Lines>(
      'GET',
      `/ui-api/plans/${enc(id)}/overlay?variable=${enc(variable)}${others.length ? `&with=${enc(others.join(','))}` : ''}`,
    ),
  result: (id: string) => call<ResultDetail>('GET', `/ui-api/results/${enc(id)}`),
  sensitivity: (id: string) => call<SensitivityBars | null>('GET', `/ui-api/results/${enc(id)}/sensitivity`),
  trace: (id: string) =>
    call<{ objective: string; goal: string; values: number[]; best: number[] } | null>(
      'GET',
      `/ui-api/results/${enc(id)}/trace`,
    ),
  scenarios: (id: string, variable: string) =>
    call<Lines | null>('GET', `/ui-api/results/${enc(id)}/scenarios?variable=${enc(variable)}`),
  containers: () => call<ContainerRow[]>('GET', '/ui-api/containers'),
  stats: (id: string) =>
    call<Record<string, number | string | null>>('GET', `/ui-api/containers/${enc(id)}/stats`),
  logs: (id: string) =>
    call<{ stdout: string; stderr: string }>('GET', `/ui-api/containers/${enc(id)}/logs?tail=200`),
  destroy: (id: string) => call<{ removed: boolean }>('DELETE', `/ui-api/containers/${enc(id)}`),
};

/** The fan chart's bands, as Arrow over the wire (one float64 column per quantile). */
export async function fetchFan(id: string, variable?: string): Promise<FanData> {
  const res = await fetch(`/ui-api/results/${enc(id)}/fan${variable ? `?variable=${enc(variable)}` : ''}`, {
    headers: { Authorization: `token ${token()}`, Accept: 'application/vnd.apache.arrow.stream' },
  });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = ((await res.json()) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // not JSON
    }
    throw new ApiError(res.status, message);
  }
  const table = tableFromIPC(new Uint8Array(await res.arrayBuffer()));
  const col = (n: string) => Array.from(table.getChild(n)?.toArray() as Float64Array);
  return {
    variable: decodeURIComponent(res.headers.get('X-Peragus-Variable') ?? ''),
    variables: JSON.parse(decodeURIComponent(res.headers.get('X-Peragus-Variables') ?? '%5B%5D')) as string[],
    run_count: Number(res.headers.get('X-Peragus-Run-Count') ?? 0),
    approximate: res.headers.get('X-Peragus-Approximate') === 'true',
    time: col('time'),
    bands: ['p05', 'p25', 'p50', 'p75', 'p95'].map(col),
  };
}

/** Downloads a registered artifact (the token travels in a header). */
export async function downloadArtifact(id: string, path: string): Promise<void> {
  const res = await fetch(`/ui-api/results/${enc(id)}/artifact?path=${enc(path)}`, {
    headers: { Authorization: `token ${token()}` },
  });
  if (!res.ok) throw new ApiError(res.status, await res.text());
  const a = document.createElement('a');
  a.href = URL.createObjectURL(await res.blob());
  a.download = path.split('/').pop() ?? 'artifact';
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
