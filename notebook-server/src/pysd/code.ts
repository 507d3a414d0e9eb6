// Code builders: validated tool inputs → the Python source of one notebook cell.
//
// The arguments travel as one JSON document inside a raw, triple-single-quoted
// Python string that `json.loads` reads back:
//
//     peragus_pysd.run_experiment(**json.loads(r'''
//     {"model_id": "teacup-1a2b3c4d", "experiment": {...}}
//     '''))
//
// The JSON is ASCII-only and every `'` is written as the JSON escape \u0027,
// so the text holds no quote character at all: nothing in any input can end
// the Python string, and a raw string hands every backslash escape to
// json.loads untouched. The cell is the record of the action, readable, and an
// exported notebook replays it.
import type {
  PysdExperimentRunArgs,
  PysdModelAnalyzeArgs,
  PysdModelLoadArgs,
  PysdVisualizeArgs,
} from './schemas.ts';

/** JSON text safe to place between r''' and ''' (ASCII, no quote characters). */
export function safeJson(value: unknown, indent = 2): string {
  const text = JSON.stringify(value, null, indent);
  if (text === undefined) throw new TypeError('value is not JSON-serialisable');
  return text.replace(/[\u007f-\uffff']/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `peragus_pysd.<fn>(**json.loads(r'''...'''))` with the given keyword arguments. */
export function pysdCall(fn: string, kwargs: Record<string, unknown>): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(fn)) throw new TypeError(`not a function name: ${fn}`);
  const args = Object.fromEntries(Object.entries(kwargs).filter(([, v]) => v !== undefined));
  return `import json\nimport peragus_pysd\n\nperagus_pysd.${fn}(**json.loads(r'''\n${safeJson(args)}\n'''))\n`;
}

/** Cell for pysd_model_load: the path is confined to the kernel's cwd (the session work dir). */
export function modelLoadCode(a: Pick<PysdModelLoadArgs, 'source' | 'format' | 'name' | 'content'>): string {
  return pysdCall('load_model', {
    source: a.source,
    format: a.format,
    name: a.name,
    content: a.content,
    confine_to: '.',
  });
}

export function experimentRunCode(
  a: Pick<PysdExperimentRunArgs, 'model_id' | 'experiment'> &
    Partial<Pick<PysdExperimentRunArgs, 'output_format' | 'name'>>,
): string {
  return pysdCall('run_experiment', {
    model_id: a.model_id,
    experiment: a.experiment,
    output_format: a.output_format,
    name: a.name,
  });
}

export function modelAnalyzeCode(a: Pick<PysdModelAnalyzeArgs, 'model_id'>): string {
  return pysdCall('analyze_model', { model_id: a.model_id });
}

export function visualizeCode(a: Omit<PysdVisualizeArgs, 'session_id' | 'container_id'>): string {
  const { target, kind, variables, x, y, metric, max_runs, title, path } = a;
  return pysdCall('visualize', { target, kind, variables, x, y, metric, max_runs, title, path });
}

/** A short cell name for each tool (the `###### name.py` of srcmd). */
export function cellName(
  fn: 'load_model' | 'run_experiment' | 'analyze_model' | 'visualize',
  detail?: string,
): string {
  const suffix = detail ? `_${detail.replace(/[^a-zA-Z0-9_]+/g, '_').slice(0, 40)}` : '';
  return `${fn}${suffix}.py`;
}
