// /ui-api/containers: this host's experiment containers (runtime, node,
// labels), one stats sample, recent logs, and destroy.
import { hostname } from 'node:os';
import express, { type Router } from 'express';
import { z } from 'zod';
import type { HostContext } from './context.ts';
import { HttpError } from './errors.ts';

const Tail = z.coerce.number().int().min(1).max(5000).default(200);

export function containersRouter(ctx: HostContext): Router {
  const r = express.Router();
  const svc = () => {
    if (!ctx.containers)
      throw new HttpError(501, 'this server runs no experiment containers', 'no_containers');
    return ctx.containers;
  };
  const known = async (id: string) => {
    const c = (await svc().list()).find((x) => x.container_id === id);
    if (!c)
      throw new HttpError(404, `no container "${id}" of this host (it may have been destroyed)`, 'not_found');
    return c;
  };
  r.get('/ui-api/containers', async (_req, res) => {
    const node = hostname();
    res.json((await svc().list()).map((c) => ({ ...c, node })));
  });
  r.get('/ui-api/containers/:id/stats', async (req, res) => {
    await known(req.params.id);
    res.json(await svc().runtimeOf(req.params.id).stats(req.params.id));
  });
  r.get('/ui-api/containers/:id/logs', async (req, res) => {
    await known(req.params.id);
    const tail = Tail.parse(req.query.tail ?? undefined);
    res.json(await svc().runtimeOf(req.params.id).logs(req.params.id, { tail }));
  });
  r.delete('/ui-api/containers/:id', async (req, res) => {
    await known(req.params.id);
    res.json(await svc().destroy(req.params.id));
  });
  return r;
}
