// /ui-api routes of the workbench: models, designs (check, run), plans (view,
// cancel, table, overlay) and experiment results (fan chart as Arrow,
// sensitivity, optimisation trace, scenarios, artifact download).
import { readFile } from 'node:fs/promises';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { BANDS } from '../workbench/charts.ts';
import type { Workbench } from '../workbench/workbench.ts';
import type { HostContext } from './context.ts';
import { HttpError } from './errors.ts';
import { examplesRouter } from './workbench-examples.ts';

const Upload = z.object({ filename: z.string().min(1).max(300), content: z.string() });
const VariableQuery = z.object({ variable: z.string().min(1).max(300).optional() });

export const ARROW_STREAM = 'application/vnd.apache.arrow.stream';

function wantsArrow(req: Request): boolean {
  return (req.headers.accept ?? '').includes(ARROW_STREAM) || req.query.format === 'arrow';
}

export function workbenchRouter(ctx: HostContext): Router {
  const r = express.Router();
  const wb = (): Workbench => {
    if (!ctx.workbench) throw new HttpError(501, 'this server has no workbench (no catalog)', 'no_workbench');
    return ctx.workbench;
  };

  r.get('/ui-api/models', (_req, res) => {
    res.json(
      wb()
        .models.list()
        .map(({ description, ...m }) => ({ ...m, counts: description.counts })),
    );
  });
  r.post('/ui-api/models', async (req, res) => {
    const body = Upload.parse(req.body ?? {});
    res.status(201).json(await wb().models.add(body.filename, body.content));
  });
  r.get('/ui-api/models/:id', (req, res) => {
    res.json(wb().models.get(req.params.id));
  });
  r.get('/ui-api/models/:id/source', (req, res) => {
    res.type('text/plain').send(wb().models.text(req.params.id));
  });

  r.post('/ui-api/designs/check', (req, res) => {
    const { count, experiment, input } = wb().check(req.body ?? {});
    res.json({ count, experiment, mode: input.mode });
  });
  r.post('/ui-api/designs/run', async (req, res) => {
    res.status(202).json(await wb().start(req.body ?? {}));
  });

  r.get('/ui-api/plans', async (_req, res) => {
    const w = wb();
    const out = [];
    for (const p of w.plans.list().slice(0, 200)) {
      const v = await w.plans.view(p.plan_id);
      const { experiments: _tiles, ...rest } = v;
      out.push(rest);
    }
    res.json(out);
  });
  r.get('/ui-api/plans/:id', async (req, res) => {
    res.json(await wb().plans.view(req.params.id));
  });
  r.post('/ui-api/plans/:id/cancel', async (req, res) => {
    await wb().plans.view(req.params.id);
    res.json({ cancelled: wb().cancelPlan(req.params.id) });
  });
  r.get('/ui-api/plans/:id/table', async (req, res) => {
    res.json(await wb().charts.planTable(req.params.id));
  });
  r.get('/ui-api/plans/:id/overlay', async (req, res) => {
    const { variable } = VariableQuery.parse(req.query);
    if (!variable) throw new HttpError(400, 'variable: choose a model variable to overlay', 'bad_variable');
    // ?with=planB,planC overlays other plans' experiments too (at most 9 more).
    const others = String(req.query.with ?? '')
      .split(',')
      .filter((id) => id !== '' && id !== req.params.id);
    if (others.length > 9) throw new HttpError(400, 'with: overlay at most 9 other plans', 'too_many');
    for (const id of [req.params.id, ...others]) await wb().plans.view(id);
    res.json(await wb().charts.overlay([req.params.id, ...others], variable));
  });

  r.get('/ui-api/results/:id', async (req, res) => {
    const w = wb();
    const id = req.params.id;
    const artifacts = await w.charts.artifacts(id);
    const record = ctx.listExperiments
      ? (await ctx.listExperiments()).find((e) => e.experiment_id === id)
      : undefined;
    res.json({
      experiment_id: id,
      record: record ?? null,
      artifacts: artifacts.map(({ store_path: _s, ...a }) => a),
      summary: await w.charts.summary(id),
    });
  });
  r.get('/ui-api/results/:id/fan', async (req, res) => {
    const { variable } = VariableQuery.parse(req.query);
    const fan = await wb().charts.fan(req.params.id, variable);
    if (!wantsArrow(req)) {
      res.json(fan);
      return;
    }
    // Columns time, p05 … p95 as float64; the rest of the answer travels in headers.
    const cols: Record<string, Float64Array> = { time: Float64Array.from(fan.time) };
    BANDS.forEach((b, i) => {
      cols[`p${String(Math.round(b * 100)).padStart(2, '0')}`] = Float64Array.from(fan.bands[i] as number[]);
    });
    const ipc = tableToIPC(tableFromArrays(cols), 'stream');
    res
      .type(ARROW_STREAM)
      .set('X-Peragus-Variable', encodeURIComponent(fan.variable))
      .set('X-Peragus-Variables', encodeURIComponent(JSON.stringify(fan.variables)))
      .set('X-Peragus-Run-Count', String(fan.run_count))
      .set('X-Peragus-Approximate', String(fan.approximate))
      .send(Buffer.from(ipc));
  });
  r.get('/ui-api/results/:id/sensitivity', async (req, res) => {
    res.json(await wb().charts.sensitivity(req.params.id));
  });
  r.get('/ui-api/results/:id/trace', async (req, res) => {
    res.json(await wb().charts.trace(req.params.id));
  });
  r.get('/ui-api/results/:id/scenarios', async (req, res) => {
    const { variable } = VariableQuery.parse(req.query);
    if (!variable) throw new HttpError(400, 'variable: choose a model variable', 'bad_variable');
    res.json(await wb().charts.scenarios(req.params.id, variable));
  });
  r.get('/ui-api/results/:id/artifact', async (req, res) => {
    const path = z.string().min(1).max(1000).parse(req.query.path);
    const a = (await wb().charts.artifacts(req.params.id)).find((x) => x.path === path);
    if (!a) throw new HttpError(404, `experiment ${req.params.id} has no artifact "${path}"`, 'not_found');
    res
      .type(a.media_type)
      .attachment(path.split('/').pop() ?? 'artifact')
      .send(await readFile(a.store_path));
  });

  r.use(examplesRouter(ctx));
  return r;
}
