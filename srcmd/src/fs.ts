// The only module of srcmd that touches the file system. Every write goes to a temp
// file in the target's directory, is flushed, then renamed over the target, so a
// reader sees the old file or the new one, never half of one (notebook-server's
// confine/atomic.ts, the one atomic write of the code base).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic as writeAtomic } from '../../notebook-server/src/confine/atomic.ts';
import { type DecodeBundleOptions, decodeBundle, encodeBundle } from './bundle.ts';
import type { Notebook } from './nbformat.ts';

/** Replaces `path` with `data` atomically: the one implementation is confine/atomic.ts. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  writeAtomic(path, data);
}

export interface NotebookPaths {
  srcmd: string;
  outputs: string;
}

export function notebookPaths(dir: string, base: string): NotebookPaths {
  return { srcmd: join(dir, `${base}.src.md`), outputs: join(dir, `${base}.outputs.json`) };
}

/**
 * Writes `base.src.md` and `base.outputs.json` in `dir`. The .src.md is renamed into
 * place first: if we crash between the two renames, the older outputs file can only
 * lack outputs of new cells, which reads fine (deleted cells need unknownCells: 'drop').
 * `write` replaces one file atomically (a session's store passes one that skips files
 * still holding the same text).
 */
export async function writeNotebookFiles(
  dir: string,
  base: string,
  nb: Notebook,
  write: (path: string, data: string) => unknown = writeFileAtomic,
): Promise<NotebookPaths> {
  const paths = notebookPaths(dir, base);
  const bundle = encodeBundle(nb); // encode fully before touching any file
  await write(paths.srcmd, bundle.srcmd);
  await write(paths.outputs, bundle.outputs);
  return paths;
}

/** Reads one file's text; null when it does not exist. */
export type ReadText = (path: string) => Promise<string | null> | string | null;

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Reads `base.src.md` and, when present, `base.outputs.json` from `dir`. `read` reads one file
 * (a session's store passes one that never follows a link in its work dir).
 */
export async function readNotebookFiles(
  dir: string,
  base: string,
  options: DecodeBundleOptions = {},
  read: ReadText = readText,
): Promise<Notebook> {
  const paths = notebookPaths(dir, base);
  const srcmd = await read(paths.srcmd);
  if (srcmd === null) throw new Error(`${paths.srcmd}: the notebook file does not exist`);
  return decodeBundle(srcmd, await read(paths.outputs), options);
}
