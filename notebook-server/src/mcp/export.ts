// notebook_export: writes the session's notebook into its work dir in the
// requested format and returns artifact references (path, sha256, bytes,
// media type), plus the text itself when asked and small.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { writeFileAtomic, writeNotebookFiles } from '../../../srcmd/src/fs.ts';
import type { Notebook } from '../../../srcmd/src/nbformat.ts';
import type { Session } from '../notebook/session.ts';
import type { ArtifactRef } from './outputs.ts';
import { resolveInWorkDir } from './paths.ts';

const INLINE_LIMIT = 64 * 1024;
const EXT = { srcmd: '.src.md', ipynb: '.ipynb', json: '.json', markdown: '.md' } as const;
const MEDIA = {
  srcmd: 'text/markdown',
  ipynb: 'application/x-ipynb+json',
  json: 'application/json',
  markdown: 'text/markdown',
} as const;

export type ExportFormatName = keyof typeof EXT;

function ref(workDir: string, abs: string, mediaType: string): ArtifactRef {
  const data = readFileSync(abs);
  return {
    path: relative(workDir, abs),
    sha256: createHash('sha256').update(data).digest('hex'),
    bytes: data.length,
    media_type: mediaType,
  };
}

export async function renderNotebook(
  nb: Notebook,
  format: Exclude<ExportFormatName, 'srcmd'>,
): Promise<string> {
  if (format === 'json') return `${JSON.stringify(nb, null, 2)}\n`;
  if (format === 'ipynb') {
    const { toIpynb } = await import('../../../srcmd/src/ipynb.ts');
    return toIpynb(nb);
  }
  const { toMarkdown } = await import('../../../srcmd/src/markdown.ts');
  return toMarkdown(nb);
}

export async function exportNotebook(
  session: Session,
  format: ExportFormatName,
  path?: string,
  withText = false,
) {
  const nb = session.toNotebook();
  const workDir = session.work_dir;
  const base = session.name.replace(/[^\w.-]+/g, '_');
  const target = resolveInWorkDir(workDir, path ?? `exports/${base}${EXT[format]}`);
  const artifacts: ArtifactRef[] = [];
  let inline: string | undefined;
  if (format === 'srcmd') {
    const dir = target.endsWith('.src.md') ? target.slice(0, target.lastIndexOf('/')) : target;
    const name = target.endsWith('.src.md') ? target.slice(dir.length + 1, -'.src.md'.length) : base;
    const paths = await writeNotebookFiles(dir, name, nb);
    artifacts.push(ref(workDir, paths.srcmd, MEDIA.srcmd), ref(workDir, paths.outputs, 'application/json'));
    const text = readFileSync(paths.srcmd, 'utf8');
    if (withText && text.length <= INLINE_LIMIT) inline = text;
  } else {
    const text = await renderNotebook(nb, format);
    await writeFileAtomic(target, text);
    artifacts.push(ref(workDir, target, MEDIA[format]));
    if (withText && text.length <= INLINE_LIMIT) inline = text;
  }
  return {
    session_id: session.id,
    format,
    cell_count: nb.cells.length,
    artifacts,
    ...(inline !== undefined ? { content: inline } : {}),
  };
}
