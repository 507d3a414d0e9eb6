// Examples offered in the empty state: the models in notebooks/models (added
// to the model library) and the example notebooks notebooks/*.src.md (opened
// as a host session with the example models beside them, ready to run).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Router } from 'express';
import { decodeBundle } from '../../../srcmd/src/bundle.ts';
import { mkdirInside, writeInside } from '../confine/fs.ts';
import { newCellFrom } from '../notebook/cells.ts';
import { EXAMPLES_DIR } from '../workbench/models.ts';
import type { HostContext } from './context.ts';
import { HttpError } from './errors.ts';

function exampleNotebooks(): { name: string; title: string }[] {
  if (!existsSync(EXAMPLES_DIR)) return [];
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.src.md'))
    .sort()
    .map((f) => {
      const text = readFileSync(join(EXAMPLES_DIR, f), 'utf8');
      return { name: f, title: /^#\s+(.+)$/m.exec(text)?.[1]?.trim() ?? f };
    });
}

export function examplesRouter(ctx: HostContext): Router {
  const r = express.Router();
  r.get('/ui-api/examples', (_req, res) => {
    res.json({ models: ctx.workbench?.models.examples() ?? [], notebooks: exampleNotebooks() });
  });
  r.post('/ui-api/examples/models/:filename', async (req, res) => {
    if (!ctx.workbench) throw new HttpError(501, 'this server has no workbench', 'no_workbench');
    res.status(201).json(await ctx.workbench.models.addExample(req.params.filename));
  });
  r.post('/ui-api/examples/notebooks/:name/open', async (req, res) => {
    const known = exampleNotebooks().find((n) => n.name === req.params.name);
    if (!known) {
      const names = exampleNotebooks()
        .map((n) => n.name)
        .join(', ');
      throw new HttpError(404, `no example notebook "${req.params.name}"; examples: ${names}`, 'not_found');
    }
    const file = join(EXAMPLES_DIR, known.name);
    const outputsFile = file.replace(/\.src\.md$/, '.outputs.json');
    const nb = decodeBundle(
      readFileSync(file, 'utf8'),
      existsSync(outputsFile) ? readFileSync(outputsFile, 'utf8') : null,
    );
    const session = await ctx.sessions.create({ name: nb.title || known.title });
    // The models beside the example notebook go beside the session's notebook too, owned by
    // whoever its kernel runs as (PySD writes each translation beside its model).
    const owner = session.fileOwner ? { owner: session.fileOwner } : {};
    mkdirInside(session.workDir, 'models', owner);
    for (const f of readdirSync(join(EXAMPLES_DIR, 'models'), { withFileTypes: true })) {
      if (!f.isFile()) continue;
      writeInside(
        session.workDir,
        `models/${f.name}`,
        readFileSync(join(EXAMPLES_DIR, 'models', f.name)),
        owner,
      );
    }
    for (const cell of nb.cells) {
      await session.addCell(newCellFrom(cell));
    }
    res.status(201).json({ session_id: session.id, name: session.name });
  });
  return r;
}
