// notebook_export: writes the session's notebook into its work dir in the
// requested format and returns artifact references (path, sha256, bytes,
// media type), plus the text itself when asked and small.
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { writeNotebookFiles } from '../../../srcmd/src/fs.ts';
import type { Notebook } from '../../../srcmd/src/nbformat.ts';
import { type ArtifactRef, artifactRef, mediaTypeOf } from '../artifacts/index.ts';
import { writeFileAtomic } from '../confine/atomic.ts';
import { withDirInside, writeInside } from '../confine/fs.ts';
import { confineRelative } from '../confine/relative.ts';
import type { Session } from './session.ts';

const INLINE_LIMIT = 64 * 1024;
const EXT = { srcmd: '.src.md', ipynb: '.ipynb', json: '.json', markdown: '.md' } as const;

export type ExportFormatName = keyof typeof EXT;

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
  const workDir = session.workDir;
  const base = session.name.replace(/[^\w.-]+/g, '_');
  // Written without following any link in the work dir (the kernel can plant them there), owned
  // by the experiment's user like the rest of its volume.
  const owner = session.fileOwner;
  const where = { where: "the session's work dir", ...(owner ? { owner } : {}) };
  const target = confineRelative(path ?? `exports/${base}${EXT[format]}`, where);
  const artifacts: ArtifactRef[] = [];
  let inline: string | undefined;
  if (format === 'srcmd') {
    const isFile = target.endsWith('.src.md');
    const dir = isFile ? posix.dirname(target) : target;
    const name = isFile ? posix.basename(target, '.src.md') : base;
    await withDirInside(workDir, dir, { ...where, create: true }, async (pinned, rel) => {
      const paths = await writeNotebookFiles(pinned, name, nb, (p, data) =>
        writeFileAtomic(p, data, { ...(owner ? { owner } : {}), sync: session.flush }),
      );
      const at = (file: string) => (rel === '.' ? posix.basename(file) : `${rel}/${posix.basename(file)}`);
      const text = readFileSync(paths.srcmd, 'utf8');
      artifacts.push(
        artifactRef(at(paths.srcmd), text, mediaTypeOf(paths.srcmd)),
        artifactRef(at(paths.outputs), readFileSync(paths.outputs), mediaTypeOf(paths.outputs)),
      );
      if (withText && text.length <= INLINE_LIMIT) inline = text;
    });
  } else {
    const text = await renderNotebook(nb, format);
    writeInside(workDir, target, text, where);
    artifacts.push(artifactRef(target, text, mediaTypeOf(EXT[format])));
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
