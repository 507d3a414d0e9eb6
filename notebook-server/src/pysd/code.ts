// Code builders: validated tool inputs → the Python source of one notebook
// cell, written as a modeller would write it: keyword arguments as Python
// literals, one per line when long.
//
//     import peragus_pysd
//
//     peragus_pysd.run_experiment(
//         model_id="teacup-1a2b3c4d",
//         experiment={"type": "lhs", "samples": 50, "parameters": {"Characteristic Time": [5, 15]}},
//     )
//
// A model is referenced by its path beside the notebook and its sha256 (the
// load refuses a different file), never inlined. Every string goes through
// pyString, so no input can end its literal (see literal.ts).

import type {
  PysdExperimentRunArgs,
  PysdModelAnalyzeArgs,
  PysdModelLoadArgs,
  PysdVisualizeArgs,
} from '../schemas/pysd-tools.ts';
import { pyCall } from './literal.ts';

/** `import peragus_pysd` + `peragus_pysd.<fn>(key=literal, …)`. */
export function pysdCall(fn: string, kwargs: Record<string, unknown>, comment?: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(fn)) throw new TypeError(`not a function name: ${fn}`);
  const note = comment ? `# ${comment.replace(/[\r\n]+/g, ' ')}\n` : '';
  return `import peragus_pysd\n\n${note}${pyCall(`peragus_pysd.${fn}`, kwargs)}\n`;
}

/**
 * Cell for pysd_model_load: the model file sits at `source` beside the
 * notebook (the tool writes given content there first), checked by sha256;
 * the path is confined to the kernel's cwd (the session work dir).
 */
export function modelLoadCode(
  a: Pick<PysdModelLoadArgs, 'source' | 'format' | 'name'> & { sha256?: string },
): string {
  return pysdCall(
    'load_model',
    { source: a.source, sha256: a.sha256, format: a.format, name: a.name, confine_to: '.' },
    a.sha256 ? `${a.source} is kept beside this notebook; sha256 checks it is the same file` : undefined,
  );
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
