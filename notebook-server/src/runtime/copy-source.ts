// What container_cp_in copies from — inline content or a file on the host —
// checked and read the same way on every runtime, with the same errors.
import { readFileSync, type Stats, statSync } from 'node:fs';
import { ContainerRuntimeError, type CopySource } from './types.ts';

/** The host file of a {path} source: it must exist and be a regular file. */
export function statSourceFile(path: string): Stats {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    throw new ContainerRuntimeError('file_not_found', `source file ${path} does not exist on the host`, {
      cause: err,
    });
  }
  if (!st.isFile()) throw new ContainerRuntimeError('copy_failed', `source ${path} is not a regular file`);
  return st;
}

export const NO_SOURCE = 'cpIn needs a source: {path} of a host file or {content}';

/** The bytes of a source, read whole (copies that stream use statSourceFile and read it themselves). */
export function sourceBytes(source: CopySource): Buffer {
  if ('content' in source && source.content !== undefined) {
    return typeof source.content === 'string'
      ? Buffer.from(source.content, 'utf8')
      : Buffer.from(source.content);
  }
  if ('path' in source && typeof source.path === 'string') {
    statSourceFile(source.path);
    return readFileSync(source.path);
  }
  throw new ContainerRuntimeError('copy_failed', NO_SOURCE);
}
