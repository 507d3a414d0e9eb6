// Paths from clients name files inside a session's work dir and never escape
// it: no absolute paths, no "..", no symlink that leads outside.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { ToolInputError } from './tool.ts';

export function resolveInWorkDir(workDir: string, clientPath: string, what = 'path'): string {
  if (clientPath.trim() === '' || clientPath.includes('\0')) {
    throw new ToolInputError(`${what} is empty or invalid: give a path relative to the work dir`);
  }
  if (isAbsolute(clientPath)) {
    throw new ToolInputError(
      `${what} "${clientPath}" is absolute: give a path relative to the session's work dir (${workDir})`,
    );
  }
  const root = realpathSync(workDir);
  const target = resolve(root, clientPath);
  const inside = (p: string) => {
    const rel = relative(root, p);
    return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
  };
  if (!inside(target)) {
    throw new ToolInputError(
      `${what} "${clientPath}" escapes the session's work dir: paths must stay inside it`,
    );
  }
  // Follow symlinks of the deepest existing ancestor: a link must not lead out.
  let probe = target;
  while (!existsSync(probe)) probe = dirname(probe);
  if (!inside(realpathSync(probe))) {
    throw new ToolInputError(
      `${what} "${clientPath}" leads outside the session's work dir through a symlink`,
    );
  }
  return target;
}
