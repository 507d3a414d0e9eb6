// pysd_* tools: each call becomes one code cell calling peragus_pysd, so the
// exported notebook replays it. The cell displays a structured result
// (application/vnd.peragus.result+json) that becomes the tool result.
import { dirname } from 'node:path';
import type { ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import { PNG_MEDIA_TYPE } from '../../artifacts/index.ts';
import { hashInside } from '../../confine/copy.ts';
import { readInside, writeInside } from '../../confine/fs.ts';
import { confineRelative, PathError } from '../../confine/relative.ts';
import type { Session } from '../../notebook/session.ts';
import {
  cellName,
  experimentRunCode,
  modelAnalyzeCode,
  modelLoadCode,
  visualizeCode,
} from '../../pysd/code.ts';
import { PysdCellError, parsePysdResult } from '../../pysd/result.ts';
import { NodeTools } from '../../schemas/node-tools.ts';
import type { NotebookContext } from '../context.ts';
import { artifactLinks } from '../links.ts';
import { defineTool, type ToolCall, type ToolDef, ToolInputError } from '../tool.ts';
import { runCodeCell } from './notebook.ts';

type Fn = 'load_model' | 'run_experiment' | 'analyze_model' | 'visualize';

/** The result the cell displayed, as a plain object; a Python error becomes the tool error. */
function resultOf(run: { outputs: Parameters<typeof parsePysdResult>[0] }, fn: Fn): Record<string, unknown> {
  try {
    return parsePysdResult(run.outputs, fn).result;
  } catch (err) {
    if (err instanceof PysdCellError) throw new ToolInputError(err.message, { code: err.code });
    throw err;
  }
}

export function pysdTools(ctx: NotebookContext): ToolDef[] {
  const { sessions, events } = ctx;
  /** Runs one peragus_pysd cell in the session; its displayed result (plus cell id and duration). */
  const pysdCell = async (session: Session, code: string, fn: Fn, call: ToolCall, detail?: string) => {
    const { cell_id, run } = await runCodeCell(events, session, code, cellName(fn, detail), call);
    return { cell_id, duration_ms: run.duration_ms, ...resultOf(run, fn) };
  };
  return [
    defineTool({
      name: 'pysd_model_load',
      ...NodeTools.pysd_model_load,
      description:
        "Translate a model (Vensim .mdl, XMILE .xmile/.stmx, PySD .py) once and keep it in the session's kernel. source is relative to the session's work dir; with content, the content is written there first. Returns model_id, stocks, flows, auxiliaries, constants (units, limits, docs, values) and time settings.",
      hints: { readOnly: false, destructive: true, idempotent: true, openWorld: false },
      routable: true,
      handler: async (args, call) => {
        const session = sessions.get(args.session_id);
        // Checked here too, for a clear message before any cell is added.
        const where = { what: 'source', where: "the session's work dir" };
        confineRelative(args.source, where);
        // The model goes beside the notebook (no link followed); the cell names it by path and sha256.
        if (args.content !== undefined) writeInside(session.workDir, args.source, args.content, where);
        let sha256: string | undefined;
        try {
          sha256 = hashInside(session.workDir, args.source, where).sha256;
        } catch (err) {
          // A missing model is reported by the cell, with PySD's own message.
          if (!(err instanceof PathError && err.code === 'not_found')) throw err;
        }
        const { content: _inline, ...rest } = args;
        return pysdCell(
          session,
          modelLoadCode({ ...rest, ...(sha256 ? { sha256 } : {}) }),
          'load_model',
          call,
        );
      },
    }),
    defineTool({
      name: 'pysd_experiment_run',
      ...NodeTools.pysd_experiment_run,
      description:
        'Run an experiment on a loaded model: single, sweep, grid, monte_carlo, lhs, sobol, morris, fast, optimization, scenarios. ' +
        'Parameters by model name ("Characteristic Time") or Python name: value | [min, max] (a range) | {values: [...]} (exact values) | {dist: ...}. ' +
        'Writes all runs to one file (parquet default, csv, netcdf) and returns run_count, results_dir, artifacts (path, sha256, bytes, media_type, uri; also as resource links), metrics, sensitivity indices or the optimum. ' +
        'Long runs: call it as an MCP task, or keep the call open (progress notifications).',
      hints: { readOnly: false, destructive: false, idempotent: true, openWorld: false },
      routable: true,
      task: true,
      handler: async (args, call) => {
        const session = sessions.get(args.session_id);
        const r = await pysdCell(
          session,
          experimentRunCode(args),
          'run_experiment',
          call,
          args.experiment.type,
        );
        const artifacts = ((r as { artifacts?: unknown }).artifacts ?? []) as { path: string }[];
        const first = artifacts[0];
        return artifactLinks(session.id, {
          ...r,
          artifacts,
          ...(first ? { results_dir: dirname(first.path) } : {}),
        } as { artifacts: { path: string }[] });
      },
    }),
    defineTool({
      name: 'pysd_model_analyze',
      ...NodeTools.pysd_model_analyze,
      description:
        'Documentation table, stock/flow structure, dependency graph, parameter list with ranges, and a units check of a loaded model.',
      hints: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
      routable: true,
      handler: async (args, call) => {
        return pysdCell(sessions.get(args.session_id), modelAnalyzeCode(args), 'analyze_model', call);
      },
    }),
    defineTool({
      name: 'pysd_visualize',
      ...NodeTools.pysd_visualize,
      description:
        'Plot a model run or an experiment result: timeseries, fan (sweep), scatter, tornado (sensitivity). Writes a PNG artifact, returned as a resource link (read it with resources/read); preview: true adds a small inline image.',
      hints: { readOnly: false, destructive: true, idempotent: true, openWorld: false },
      routable: true,
      handler: async (args, call) => {
        const session = sessions.get(args.session_id);
        const info = await pysdCell(session, visualizeCode(args), 'visualize', call, args.kind);
        const { preview, ...rest } = info as { preview?: unknown; artifacts?: { path: string }[] } & Record<
          string,
          unknown
        >;
        const image = args.preview ? previewImage(preview, session.workDir, rest) : undefined;
        return artifactLinks(session.id, rest, image ? [image] : []);
      },
    }),
  ];
}

/** The small inline preview: the base64 PNG the cell returned, or the artifact itself when small. */
function previewImage(
  preview: unknown,
  workDir: string,
  info: Record<string, unknown>,
): ContentBlock | undefined {
  const p = preview as { data?: string; base64?: string; media_type?: string } | string | undefined;
  const data = typeof p === 'string' ? p : (p?.base64 ?? p?.data);
  if (data) return { type: 'image', data, mimeType: PNG_MEDIA_TYPE };
  const artifact = (info.artifacts as { path: string; bytes: number }[] | undefined)?.[0];
  if (artifact && artifact.bytes < 200_000) {
    return {
      type: 'image',
      // The path comes from the kernel: read inside the work dir, never through a link.
      data: readInside(workDir, artifact.path, { where: "the session's work dir" }).toString('base64'),
      mimeType: PNG_MEDIA_TYPE,
    };
  }
  return undefined;
}
