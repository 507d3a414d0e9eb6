// /api/contents: every notebook session is `<name>.ipynb` at the root. Reads
// export the session as nbformat 4.5; saves write the cells back; new files and
// uploads create sessions; delete removes the session.
import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { fromIpynb, toIpynbObject } from '../../../../srcmd/src/ipynb.ts';
import type { Session } from '../../notebook/session.ts';
import type { HostContext } from '../context.ts';
import { HttpError } from '../errors.ts';
import { applyNotebook, nameFromPath, normalizePath, notebookPaths, pathOf, sessionAt } from './notebooks.ts';

const SaveBody = z
  .object({
    type: z.string().optional(),
    format: z.string().nullable().optional(),
    content: z.unknown().optional(),
    path: z.string().optional(),
  })
  .loose();
const CreateBody = z
  .object({ type: z.string().optional(), ext: z.string().optional(), copy_from: z.string().optional() })
  .loose();

const BOOT = new Date().toISOString();

function notebookModel(ctx: HostContext, s: Session, withContent: boolean, knownPath?: string) {
  const info = s.info();
  const path = knownPath ?? pathOf(ctx.sessions, s);
  const content = withContent ? toIpynbObject(s.toNotebook()) : null;
  return {
    name: path,
    path,
    type: 'notebook',
    writable: true,
    created: info.created_at,
    last_modified: info.updated_at,
    mimetype: null,
    format: withContent ? 'json' : null,
    content,
    size: content ? JSON.stringify(content).length : null,
  };
}

function dirModel(ctx: HostContext, withContent: boolean) {
  const entries = [...notebookPaths(ctx.sessions)].map(([path, s]) => notebookModel(ctx, s, false, path));
  // ISO-8601 strings sort by time.
  const newest = [BOOT, ...entries.map((e) => e.last_modified)].sort().at(-1) as string;
  return {
    name: '',
    path: '',
    type: 'directory',
    writable: true,
    created: BOOT,
    last_modified: newest,
    mimetype: null,
    format: withContent ? 'json' : null,
    content: withContent ? entries : null,
    size: null,
  };
}

/** The path after /api/contents, URL-decoded. */
function pathParam(req: Request): string {
  const raw = (req.params as Record<string, string | string[] | undefined>).path;
  const joined = Array.isArray(raw) ? raw.join('/') : (raw ?? '');
  return normalizePath(joined);
}

function notFound(path: string): HttpError {
  return new HttpError(404, `No such file or directory: ${path}`, 'NotFound');
}

function ipynbText(content: unknown): string {
  return typeof content === 'string' ? content : JSON.stringify(content);
}

/** A name not yet used by any document: Untitled, Untitled1, … */
function untitled(ctx: HostContext): string {
  const taken = notebookPaths(ctx.sessions);
  for (let i = 0; ; i++) {
    const name = `Untitled${i === 0 ? '' : i}`;
    if (!taken.has(`${name}.ipynb`)) return name;
  }
}

async function createFrom(ctx: HostContext, name: string, text: string | undefined): Promise<Session> {
  const session = await ctx.sessions.create({ name });
  if (text !== undefined) await applyNotebook(session, fromIpynb(text));
  return session;
}

export function contentsRouter(ctx: HostContext): Router {
  const r = express.Router();
  const withContent = (req: Request) => req.query.content !== '0';

  const get = (req: Request, res: express.Response) => {
    const path = pathParam(req);
    if (path === '') {
      res.json(dirModel(ctx, withContent(req)));
      return;
    }
    const s = sessionAt(ctx.sessions, path);
    if (!s) throw notFound(path);
    res.json(notebookModel(ctx, s, withContent(req)));
  };
  r.get('/api/contents', get);
  r.get('/api/contents/*path', (req, res, next) => {
    if (pathParam(req).endsWith('/checkpoints')) return next();
    get(req, res);
  });

  // Checkpoints: sessions persist every change, so there is one implicit checkpoint.
  const checkpoint = (s: Session) => ({ id: 'checkpoint', last_modified: s.info().updated_at });
  const docOf = (req: Request) => {
    const path = pathParam(req).replace(/\/checkpoints(\/.*)?$/, '');
    const s = sessionAt(ctx.sessions, path);
    if (!s) throw notFound(path);
    return s;
  };
  r.get('/api/contents/*path', (req, res) => {
    res.json([checkpoint(docOf(req))]);
  });
  r.post('/api/contents/*path', async (req, res, next) => {
    const path = pathParam(req);
    if (!/\/checkpoints(\/[^/]+)?$/.test(path)) return next();
    const s = docOf(req);
    if (/\/checkpoints$/.test(path)) res.status(201).json(checkpoint(s));
    else res.status(204).end();
  });
  r.delete('/api/contents/*path', async (req, res, next) => {
    const path = pathParam(req);
    if (/\/checkpoints\/[^/]+$/.test(path)) {
      docOf(req);
      res.status(204).end();
      return;
    }
    next();
  });

  r.put('/api/contents/*path', async (req, res) => {
    const path = pathParam(req);
    const body = SaveBody.parse(req.body ?? {});
    if (body.type === 'directory') {
      if (path === '') return void res.json(dirModel(ctx, false));
      throw new HttpError(400, 'directories are not supported: notebooks live at the root', 'NotSupported');
    }
    if (!path.toLowerCase().endsWith('.ipynb') || path.includes('/')) {
      throw new HttpError(
        400,
        `only notebooks at the root (<name>.ipynb) can be saved, not "${path}"`,
        'NotSupported',
      );
    }
    if (body.type !== undefined && body.type !== 'notebook') {
      throw new HttpError(400, `only notebooks can be saved, not ${body.type}`, 'NotSupported');
    }
    const existing = sessionAt(ctx.sessions, path);
    const text = body.content === undefined || body.content === null ? undefined : ipynbText(body.content);
    if (existing) {
      if (text !== undefined) await applyNotebook(existing, fromIpynb(text));
      res.json(notebookModel(ctx, existing, false));
      return;
    }
    const created = await createFrom(ctx, nameFromPath(path), text);
    res.status(201).json(notebookModel(ctx, created, false));
  });

  const create = async (req: Request, res: express.Response) => {
    const dir = pathParam(req);
    if (dir !== '') throw notFound(dir);
    const body = CreateBody.parse(req.body ?? {});
    if (body.copy_from !== undefined) {
      const src = sessionAt(ctx.sessions, body.copy_from);
      if (!src) throw notFound(body.copy_from);
      const copy = await createFrom(ctx, `${src.name}-Copy`, JSON.stringify(toIpynbObject(src.toNotebook())));
      res.status(201).json(notebookModel(ctx, copy, false));
      return;
    }
    if (body.type !== undefined && body.type !== 'notebook') {
      throw new HttpError(400, `only notebooks can be created, not ${body.type}`, 'NotSupported');
    }
    const session = await createFrom(ctx, untitled(ctx), undefined);
    res.status(201).json(notebookModel(ctx, session, false));
  };
  r.post('/api/contents', create);
  r.post('/api/contents/*path', create);

  r.patch('/api/contents/*path', () => {
    throw new HttpError(400, 'renaming notebooks is not supported', 'NotSupported');
  });
  r.delete('/api/contents/*path', async (req, res) => {
    const path = pathParam(req);
    const s = sessionAt(ctx.sessions, path);
    if (!s) throw notFound(path);
    await ctx.sessions.delete(s.id);
    res.status(204).end();
  });

  return r;
}
