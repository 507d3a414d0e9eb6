// The one rule for client-supplied paths, for every face (MCP, HTTP, runtime,
// catalog, time series): a path names a file inside a root and is checked
// lexically here (no NUL, no absolute path except under the root's mount
// name, nothing that normalises out through ".."). What is on disk is checked
// by ./fs.ts, which never follows a link.
import { posix } from 'node:path';
import { PeragusError } from '../errors/index.ts';

export type PathErrorCode = 'invalid_path' | 'symlink' | 'not_found' | 'not_a_file';

/** A refused path; faces map the code (HTTP 400/403/404, runtime invalid_path/file_not_found). */
export class PathError extends PeragusError {
  override readonly name = 'PathError';
  declare readonly code: PathErrorCode;
  constructor(code: PathErrorCode, message: string, options?: { cause?: unknown; fix?: string }) {
    super(code, message, options);
  }
}

export interface RelativeOptions {
  /** What the path is, for messages ("dest", "artifact path"). */
  what?: string;
  /** How the root is called in messages ("/experiment", "the session's work dir"). */
  where?: string;
  /** Absolute paths under this prefix (e.g. /experiment) are accepted and made relative. */
  mount?: string;
  /** Accept the root itself ("." or the mount); default false. */
  allowRoot?: boolean;
}

/**
 * Normalises a client path to a relative POSIX path inside the root, or
 * throws a PathError naming the path, the rule and the fix.
 */
export function confineRelative(input: string, options: RelativeOptions = {}): string {
  const what = options.what ?? 'path';
  const where = options.where ?? options.mount ?? 'the work dir';
  if (typeof input !== 'string' || input.trim() === '') {
    throw new PathError('invalid_path', `${what} is empty: give a path relative to ${where}`);
  }
  if (input.includes('\0')) throw new PathError('invalid_path', `${what} contains a NUL byte`);
  let candidate = input.replaceAll('\\', '/');
  if (candidate.startsWith('/')) {
    const normalised = posix.normalize(candidate);
    const mount = options.mount;
    if (!mount || (normalised !== mount && !normalised.startsWith(`${mount}/`))) {
      throw new PathError(
        'invalid_path',
        mount
          ? `${what} "${input}" is an absolute path outside ${mount}: give a path relative to ${mount}`
          : `${what} "${input}" is absolute: give a path relative to ${where}`,
      );
    }
    candidate = normalised === mount ? '.' : normalised.slice(mount.length + 1);
  }
  const rel = posix.normalize(candidate).replace(/\/+$/, '');
  if (rel === '..' || rel.startsWith('../')) {
    throw new PathError(
      'invalid_path',
      `${what} "${input}" escapes ${where} through "..": paths must stay inside it`,
    );
  }
  if (rel === '.' || rel === '') {
    if (options.allowRoot) return '.';
    throw new PathError('invalid_path', `${what} "${input}" names ${where} itself, not a file`);
  }
  return rel;
}
