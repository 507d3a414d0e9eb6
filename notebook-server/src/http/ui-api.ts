// /ui-api: what the browser UI calls. Bodies are validated with the same zod
// input schemas as the MCP tools; sessions and events are the same objects, so
// edits from the UI and from an agent show up in each other live.
import express, { type Router } from 'express';
import { z } from 'zod';
import { isImageMediaType, mediaTypeOf } from '../artifacts/index.ts';
import { readInside } from '../confine/fs.ts';
import type { ExperimentProgressEvent } from '../notebook/events.ts';
import type { SessionInfo } from '../notebook/session.ts';
import { SessionDirectory } from '../notebook/session-directory.ts';
import {
  CellAddInput,
  CellExecuteInput,
  CellUpdateInput,
  NotebookCreateInput,
  NotebookFormat,
} from '../schemas/notebook-tools.ts';
import type { ExperimentSummary, HostContext } from './context.ts';
import { HttpError } from './errors.ts';
import { readSeries } from './timeseries.ts';

const CreateBody = z.object(NotebookCreateInput).omit({ container_id: true });
const AddBody = z.object(CellAddInput).omit({ session_id: true, container_id: true });
const UpdateBody = z
  .object(CellUpdateInput)
  .pick({ source: true, filename: true })
  .extend({
    index: z.number().int().min(0).max(100_000).optional().describe('Move the cell to this position.'),
  });
const ExecuteBody = z.object(CellExecuteInput).pick({ timeout_ms: true });
const SeriesQuery = z.object({
  path: z.string().min(1),
  variable: z.string().optional(),
  labels: z.string().optional(),
  max_runs: z.coerce.number().int().positive().max(500).optional(),
});
const QueryBody = z.object({
  sql: z.string().min(1).max(20_000),
  limit: z.number().int().positive().max(100_000).optional(),
});

type Progress = Pick<
  z.infer<typeof ExperimentProgressEvent>,
  'progress' | 'total' | 'message' | 'cell_id' | 'seq'
>;

export interface SessionSummary {
  id: string;
  experiment_id: string;
  name: string;
  state: string;
  running_cell_id: string | null;
  queued_cell_ids: string[];
  created_at: string;
  updated_at: string;
  seq: number;
  cell_count: number;
  error_count: number;
  progress: Progress | null;
}

function lastProgress(ctx: HostContext, id: string): Progress | null {
  const events = ctx.events.replay(id);
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e?.type === 'experiment.progress') {
      const { progress, total, message, cell_id, seq } = e;
      return { progress, total, message, cell_id, seq };
    }
  }
  return null;
}

function summarizeInfo(ctx: HostContext, info: SessionInfo): SessionSummary {
  return {
    id: info.id,
    experiment_id: info.experiment_id,
    name: info.name,
    state: info.state,
    running_cell_id: info.running_cell_id,
    queued_cell_ids: info.queued_cell_ids,
    created_at: info.created_at,
    updated_at: info.updated_at,
    seq: info.seq,
    cell_count: info.cells.length,
    error_count: Object.values(info.runs).filter((r) => r.status === 'error').length,
    progress: lastProgress(ctx, info.id),
  };
}

/** Runs in the background: the result reaches the UI as events. */
function fireAndLog(ctx: HostContext, what: string, p: Promise<unknown>): void {
  p.catch((err: Error) => ctx.log?.(`${what} failed: ${err.message}`));
}

export function uiApiRouter(ctx: HostContext): Router {
  const r = express.Router();
  // Host sessions and those in experiment containers, behind one SessionHandle.
  const directory = new SessionDirectory(ctx.sessions, ctx.remote);
  const find = (id: string) => directory.find(id);

  r.get('/ui-api/info', (_req, res) => {
    res.json({
      catalog: ctx.catalogQuery !== undefined,
      experiments: ctx.listExperiments !== undefined,
      plans: ctx.workbench !== undefined,
    });
  });

  r.get('/ui-api/sessions', async (_req, res) => {
    const list = (await directory.list()).map((info) => summarizeInfo(ctx, info));
    list.sort((a, b) => b.created_at.localeCompare(a.created_at));
    res.json(list);
  });
  r.post('/ui-api/sessions', async (req, res) => {
    const body = CreateBody.parse(req.body ?? {});
    const s = await ctx.sessions.create(body);
    res.status(201).json(s.info());
  });
  r.get('/ui-api/sessions/:id', async (req, res) => {
    const info = await (await find(req.params.id)).info();
    res.json({ ...info, progress: lastProgress(ctx, info.id) });
  });
  r.delete('/ui-api/sessions/:id', async (req, res) => {
    await (await find(req.params.id)).delete();
    res.status(204).end();
  });

  r.post('/ui-api/sessions/:id/cells', async (req, res) => {
    const { execute, timeout_ms, ...request } = AddBody.parse(req.body ?? {});
    const s = await find(req.params.id);
    const cell = await s.addCell(request);
    if (execute && cell.cell_type === 'code') {
      fireAndLog(ctx, `execute ${cell.id}`, s.execute(cell.id, { timeoutMs: timeout_ms }));
    }
    res.status(201).json(cell);
  });
  r.patch('/ui-api/sessions/:id/cells/:cellId', async (req, res) => {
    const { index, ...patch } = UpdateBody.parse(req.body ?? {});
    const s = await find(req.params.id);
    res.json(await s.updateCell(req.params.cellId, patch, index));
  });
  r.delete('/ui-api/sessions/:id/cells/:cellId', async (req, res) => {
    await (await find(req.params.id)).deleteCell(req.params.cellId);
    res.status(204).end();
  });
  r.post('/ui-api/sessions/:id/cells/:cellId/execute', async (req, res) => {
    const body = ExecuteBody.parse(req.body ?? {});
    const cellId = req.params.cellId;
    const s = await find(req.params.id);
    // Validate now (unknown cell, dead kernel) so the caller gets the error, then run in the background.
    await s.checkRunnable(cellId);
    fireAndLog(ctx, `execute ${cellId}`, s.execute(cellId, { timeoutMs: body.timeout_ms }));
    res.status(202).json({ session_id: s.id, cell_id: cellId, queued: true });
  });
  r.post('/ui-api/sessions/:id/interrupt', async (req, res) => {
    res.json(await (await find(req.params.id)).interrupt());
  });
  r.post('/ui-api/sessions/:id/restart', async (req, res) => {
    res.json(await (await find(req.params.id)).restart());
  });

  r.get('/ui-api/sessions/:id/export', async (req, res) => {
    const format = NotebookFormat.parse(req.query.format ?? 'srcmd');
    const s = await find(req.params.id);
    // A host session writes the same bundle as notebook_export into its work dir's exports/.
    const out = await s.exportNotebook(format === 'ipynb' ? 'ipynb' : 'srcmd');
    const base = s.name.replace(/[^\w.-]+/g, '_') || s.id;
    res
      .type(format === 'ipynb' ? 'application/x-ipynb+json' : 'text/markdown')
      .attachment(`${base}.${format === 'ipynb' ? 'ipynb' : 'src.md'}`);
    if (out.written) res.set('X-Peragus-Export', out.written.join(', '));
    res.send(out.content);
  });

  r.get('/ui-api/sessions/:id/timeseries', async (req, res) => {
    const workDir = (await find(req.params.id)).hostWorkDir;
    const q = SeriesQuery.parse(req.query);
    const labels = q.labels?.split(',').filter((l) => l !== '');
    res.json(
      await readSeries({
        workDir,
        path: q.path,
        ...(q.variable !== undefined ? { variable: q.variable } : {}),
        ...(labels ? { labels } : {}),
        ...(q.max_runs !== undefined ? { maxRuns: q.max_runs } : {}),
      }),
    );
  });

  // Images a cell wrote into the session's work dir (pysd_visualize PNGs), drawn at full size.
  r.get('/ui-api/sessions/:id/image', async (req, res) => {
    const workDir = (await find(req.params.id)).hostWorkDir;
    const path = z.string().min(1).max(1000).parse(req.query.path);
    const type = mediaTypeOf(path);
    if (!isImageMediaType(type))
      throw new HttpError(400, `${path} is not an image (png, jpeg or svg)`, 'unsupported');
    // Read without following links: a planted link never serves a host file (PathError → 403/404).
    res.type(type).send(readInside(workDir, path, { what: 'image', where: "the session's work dir" }));
  });

  r.get('/ui-api/experiments', async (_req, res) => {
    const fromSessions = new Map<string, ExperimentSummary & { session_ids: string[] }>();
    for (const s of await directory.list()) {
      const e = fromSessions.get(s.experiment_id) ?? { experiment_id: s.experiment_id, session_ids: [] };
      e.session_ids.push(s.id);
      fromSessions.set(s.experiment_id, e);
    }
    const catalog = ctx.listExperiments ? await ctx.listExperiments() : [];
    for (const e of catalog) {
      fromSessions.set(e.experiment_id, {
        ...e,
        session_ids: fromSessions.get(e.experiment_id)?.session_ids ?? [],
      });
    }
    res.json([...fromSessions.values()]);
  });

  r.post('/ui-api/catalog/query', async (req, res) => {
    if (!ctx.catalogQuery) throw new HttpError(501, 'this server has no catalog', 'no_catalog');
    const body = QueryBody.parse(req.body ?? {});
    res.json(await ctx.catalogQuery(body.sql, { limit: body.limit ?? 1000 }));
  });

  return r;
}
