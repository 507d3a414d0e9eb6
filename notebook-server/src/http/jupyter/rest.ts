// Jupyter Server REST subset that @jupyterlab/services uses: /api (version),
// kernelspecs, kernels, sessions. Contents live in contents.ts.
import express, { type Router } from 'express';
import { z } from 'zod';
import { loadKernelSpec } from '../../kernel/launcher.ts';
import { KERNEL_NAME } from '../../notebook/kernel-service.ts';
import type { Session } from '../../notebook/session.ts';
import type { HostContext } from '../context.ts';
import { HttpError } from '../errors.ts';
import { JupyterKernels } from './kernels.ts';
import { nameFromPath, pathOf, sessionAt } from './notebooks.ts';

/** The Jupyter Server version we answer like (the REST shapes we follow). */
export const JUPYTER_SERVER_VERSION = '2.14.0';

const KernelStartBody = z.object({ name: z.string().optional(), path: z.string().optional() }).loose();
const SessionCreateBody = z
  .object({
    path: z.string().optional(),
    name: z.string().optional(),
    type: z.string().optional(),
    kernel: z.object({ name: z.string().optional(), id: z.string().optional() }).loose().optional(),
  })
  .loose();

export function kernelspecsModel(specPath?: string) {
  const spec = loadKernelSpec(specPath);
  return {
    default: KERNEL_NAME,
    kernelspecs: {
      [KERNEL_NAME]: {
        name: KERNEL_NAME,
        spec: {
          argv: spec.argv,
          display_name: spec.display_name,
          language: spec.language,
          interrupt_mode: spec.interrupt_mode,
          env: spec.env ?? {},
          metadata: spec.metadata ?? {},
        },
        resources: {},
      },
    },
  };
}

export function jupyterRouter(ctx: HostContext, kernels: JupyterKernels): Router {
  const r = express.Router();

  r.get('/api/kernelspecs', (_req, res) => {
    res.json(kernelspecsModel());
  });

  // ---- kernels --------------------------------------------------------------
  r.get('/api/kernels', (_req, res) => {
    res.json(kernels.list());
  });
  r.post('/api/kernels', async (req, res) => {
    const body = KernelStartBody.parse(req.body ?? {});
    const model = await kernels.start(body.name);
    res.status(201).location(`/api/kernels/${model.id}`).json(model);
  });
  r.get('/api/kernels/:id', (req, res) => {
    res.json(kernels.model(req.params.id));
  });
  r.delete('/api/kernels/:id', async (req, res) => {
    await kernels.shutdown(req.params.id);
    res.status(204).end();
  });
  r.post('/api/kernels/:id/interrupt', async (req, res) => {
    await kernels.interrupt(req.params.id);
    res.status(204).end();
  });
  r.post('/api/kernels/:id/restart', async (req, res) => {
    res.json(await kernels.restart(req.params.id));
  });

  // ---- sessions: one of ours = one notebook document + its kernel -----------
  const sessionModel = (s: Session) => {
    const path = pathOf(ctx.sessions, s);
    return {
      id: s.id,
      path,
      name: s.name,
      type: 'notebook',
      kernel: kernels.model(s.id),
      notebook: { path },
    };
  };
  const find = (id: string): Session => {
    if (!ctx.sessions.has(id)) throw new HttpError(404, `Session not found: ${id}`, 'NoSuchSession');
    return ctx.sessions.get(id);
  };

  r.get('/api/sessions', (_req, res) => {
    res.json(ctx.sessions.list().map(sessionModel));
  });
  r.post('/api/sessions', async (req, res) => {
    const body = SessionCreateBody.parse(req.body ?? {});
    JupyterKernels.checkName(body.kernel?.name);
    const path = body.path ?? body.name ?? 'Untitled.ipynb';
    const existing = sessionAt(ctx.sessions, path);
    if (existing) {
      res.status(201).json(sessionModel(existing));
      return;
    }
    const session = await ctx.sessions.create({ name: nameFromPath(path) });
    res.status(201).location(`/api/sessions/${session.id}`).json(sessionModel(session));
  });
  r.get('/api/sessions/:id', (req, res) => {
    res.json(sessionModel(find(req.params.id)));
  });
  r.patch('/api/sessions/:id', (req, res) => {
    const session = find(req.params.id);
    const body = SessionCreateBody.parse(req.body ?? {});
    JupyterKernels.checkName(body.kernel?.name);
    // A session keeps its kernel and document: changing them is a no-op we report honestly.
    if (body.kernel?.id !== undefined && body.kernel.id !== session.id) {
      throw new HttpError(400, 'a notebook session keeps its own kernel', 'KernelFixed');
    }
    res.json(sessionModel(session));
  });
  r.delete('/api/sessions/:id', (req) => {
    find(req.params.id);
    throw new HttpError(
      409,
      `session ${req.params.id} is an experiment notebook; delete it with notebook_delete or DELETE /api/contents/<path>`,
      'SessionKernel',
    );
  });

  return r;
}
