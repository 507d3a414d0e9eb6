// /ui-api: what the browser UI calls. Bodies are validated with the same zod
// input schemas as the MCP tools; sessions and events are the same objects, so
// edits from the UI and from an agent show up in each other live.
import express, { type Router } from 'express';
import { z } from 'zod';
import { isImageMediaType, mediaTypeOf } from '../artifacts/index.ts';
import { readInside } from '../confine/index.ts';
import { exportNotebook } from '../mcp/export.ts';
import type { ExperimentProgressEvent } from '../notebook/events.ts';
import type { Session, SessionInfo } from '../notebook/session.ts';
import {
  CellAddInput,
  CellExecuteInput,
  CellUpdateInput,
  NotebookCreateInput,
  NotebookFormat,
} from '../schemas/notebook-tools.ts';
import type { ExperimentSummary, HostContext, RemoteSessionInfo } from './context.ts';
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

export function summarize(ctx: HostContext, s: Session): SessionSummary {
  return summarizeInfo(ctx, s.info());
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
  const session = (id: string) => ctx.sessions.get(id);
  // A session in an experiment container (driven through the host's router), if the id is not local.
  const remote = async (id: string): Promise<RemoteSessionInfo | null> => {
    if (ctx.sessions.has(id) || !ctx.remote) return null;
    return ctx.remote.get(id);
  };
  const remoteCall = (id: string, tool: string, args: Record<string, unknown> = {}) => {
    if (!ctx.remote) throw new HttpError(404, `no session ${id}`, 'not_found');
    return ctx.remote.call(id, tool, args);
  };

  r.get('/ui-api/info', (_req, res) => {
    res.json({
      catalog: ctx.catalogQuery !== undefined,
      experiments: ctx.listExperiments !== undefined,
      plans: ctx.workbench !== undefined,
    });
  });

  r.get('/ui-api/sessions', async (_req, res) => {
    const list = ctx.sessions.list().map((s) => summarize(ctx, s));
    for (const info of (await ctx.remote?.list()) ?? []) list.push(summarizeInfo(ctx, info));
    list.sort((a, b) => b.created_at.localeCompare(a.created_at));
    res.json(list);
  });
  r.post('/ui-api/sessions', async (req, res) => {
    const body = CreateBody.parse(req.body ?? {});
    const s = await ctx.sessions.create(body);
    res.status(201).json(s.info());
  });
  r.get('/ui-api/sessions/:id', async (req, res) => {
    const far = await remote(req.params.id);
    if (far) {
      res.json({ ...far, progress: lastProgress(ctx, far.id) });
      return;
    }
    const s = session(req.params.id);
    res.json({ ...s.info(), progress: lastProgress(ctx, s.id) });
  });
  r.delete('/ui-api/sessions/:id', async (req, res) => {
    if (await remote(req.params.id)) await remoteCall(req.params.id, 'notebook_delete');
    else await ctx.sessions.delete(session(req.params.id).id);
    res.status(204).end();
  });

  r.post('/ui-api/sessions/:id/cells', async (req, res) => {
    const body = AddBody.parse(req.body ?? {});
    if (await remote(req.params.id)) {
      const { execute, timeout_ms, ...rest } = body;
      const added = await remoteCall(req.params.id, 'cell_add', { ...rest, execute: false });
      const cellId = String(added.cell_id);
      if (execute && body.cell_type === 'code') {
        fireAndLog(
          ctx,
          `execute ${cellId}`,
          remoteCall(req.params.id, 'cell_execute', { cell_id: cellId, timeout_ms }),
        );
      }
      res.status(201).json({
        id: cellId,
        cell_type: body.cell_type,
        source: body.source,
        outputs: [],
        execution_count: null,
        metadata: {},
      });
      return;
    }
    const s = session(req.params.id);
    const position =
      body.index !== undefined
        ? { index: body.index }
        : body.after !== undefined
          ? { after: body.after }
          : undefined;
    const cell = await s.addCell(
      {
        cell_type: body.cell_type,
        source: body.source,
        ...(body.filename !== undefined ? { filename: body.filename } : {}),
      },
      position,
    );
    if (body.execute && cell.cell_type === 'code') {
      fireAndLog(ctx, `execute ${cell.id}`, s.execute(cell.id, { timeoutMs: body.timeout_ms }));
    }
    res.status(201).json(cell);
  });
  r.patch('/ui-api/sessions/:id/cells/:cellId', async (req, res) => {
    const body = UpdateBody.parse(req.body ?? {});
    const { index, ...patch } = body;
    if (await remote(req.params.id)) {
      if (index !== undefined) {
        throw new HttpError(
          409,
          'cells of a container session cannot be moved from the browser',
          'not_supported',
        );
      }
      await remoteCall(req.params.id, 'cell_update', { cell_id: req.params.cellId, ...patch });
      const info = await ctx.remote?.get(req.params.id);
      res.json(info?.cells.find((c) => c.id === req.params.cellId) ?? { id: req.params.cellId });
      return;
    }
    const s = session(req.params.id);
    if (index !== undefined) await s.moveCell(req.params.cellId, index);
    res.json(await s.updateCell(req.params.cellId, patch));
  });
  r.delete('/ui-api/sessions/:id/cells/:cellId', async (req, res) => {
    if (await remote(req.params.id))
      await remoteCall(req.params.id, 'cell_delete', { cell_id: req.params.cellId });
    else await session(req.params.id).deleteCell(req.params.cellId);
    res.status(204).end();
  });
  r.post('/ui-api/sessions/:id/cells/:cellId/execute', async (req, res) => {
    const body = ExecuteBody.parse(req.body ?? {});
    const cellId = req.params.cellId;
    const far = await remote(req.params.id);
    if (far) {
      if (cellId !== 'all' && !far.cells.some((c) => c.id === cellId)) {
        throw new HttpError(404, `cell "${cellId}" not found in session "${far.id}"`, 'cell_not_found');
      }
      const args = {
        cell_id: cellId,
        ...(body.timeout_ms !== undefined ? { timeout_ms: body.timeout_ms } : {}),
      };
      fireAndLog(ctx, `execute ${cellId}`, remoteCall(far.id, 'cell_execute', args));
      res.status(202).json({ session_id: far.id, cell_id: cellId, queued: true });
      return;
    }
    const s = session(req.params.id);
    // Validate now (unknown cell, dead kernel) so the caller gets the error, then run in the background.
    if (cellId !== 'all') s.getCell(cellId);
    if (s.state === 'dead' || s.state === 'closed') {
      throw new HttpError(409, `session ${s.id} is ${s.state}; restart it first`, `session_${s.state}`);
    }
    const opts = { timeoutMs: body.timeout_ms };
    fireAndLog(ctx, `execute ${cellId}`, cellId === 'all' ? s.execute('all', opts) : s.execute(cellId, opts));
    res.status(202).json({ session_id: s.id, cell_id: cellId, queued: true });
  });
  r.post('/ui-api/sessions/:id/interrupt', async (req, res) => {
    if (await remote(req.params.id)) {
      res.json(await remoteCall(req.params.id, 'cell_interrupt'));
      return;
    }
    const s = session(req.params.id);
    const cancelled = s.cancel();
    res.json({ interrupted: await s.interrupt(), cancelled });
  });
  r.post('/ui-api/sessions/:id/restart', async (req, res) => {
    if (await remote(req.params.id)) {
      throw new HttpError(409, 'a container session restarts with its container', 'not_supported');
    }
    const s = session(req.params.id);
    await s.restart();
    res.json({ state: s.state });
  });

  r.get('/ui-api/sessions/:id/export', async (req, res) => {
    const format = NotebookFormat.parse(req.query.format ?? 'srcmd');
    const far = await remote(req.params.id);
    if (far) {
      const out = await remoteCall(far.id, 'notebook_export', { format, inline: true });
      const base = far.name.replace(/[^\w.-]+/g, '_') || far.id;
      const type = format === 'ipynb' ? 'application/x-ipynb+json' : 'text/markdown';
      res
        .type(type)
        .attachment(`${base}.${format === 'ipynb' ? 'ipynb' : 'src.md'}`)
        .send(String(out.content ?? ''));
      return;
    }
    // The same bundle as notebook_export: written to the work dir's exports/ (the .src.md with
    // its .outputs.json, checksums included, so `peragus rerun` can compare), and downloaded.
    const s = session(req.params.id);
    const out = await exportNotebook(s, format === 'ipynb' ? 'ipynb' : 'srcmd');
    const main = out.artifacts[0] as { path: string };
    const base = s.name.replace(/[^\w.-]+/g, '_') || s.id;
    res
      .type(format === 'ipynb' ? 'application/x-ipynb+json' : 'text/markdown')
      .attachment(`${base}.${format === 'ipynb' ? 'ipynb' : 'src.md'}`)
      .set('X-Peragus-Export', out.artifacts.map((a) => a.path).join(', '))
      .send(readInside(s.workDir, main.path, { what: 'export' }));
  });

  r.get('/ui-api/sessions/:id/timeseries', async (req, res) => {
    const far = await remote(req.params.id);
    const workDir = far ? far.host_work_dir : session(req.params.id).workDir;
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
    const far = await remote(req.params.id);
    const workDir = far ? far.host_work_dir : session(req.params.id).workDir;
    const path = z.string().min(1).max(1000).parse(req.query.path);
    const type = mediaTypeOf(path);
    if (!isImageMediaType(type))
      throw new HttpError(400, `${path} is not an image (png, jpeg or svg)`, 'unsupported');
    // Read without following links: a planted link never serves a host file (PathError → 403/404).
    res.type(type).send(readInside(workDir, path, { what: 'image', where: "the session's work dir" }));
  });

  r.get('/ui-api/experiments', async (_req, res) => {
    const fromSessions = new Map<string, ExperimentSummary & { session_ids: string[] }>();
    const all = [...ctx.sessions.list().map((s) => s.info()), ...((await ctx.remote?.list()) ?? [])];
    for (const s of all) {
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
