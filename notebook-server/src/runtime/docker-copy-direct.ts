// Copies of a Docker experiment's files straight through its volume on the
// host (the bind-mount source), as the local runtime does: no tar archive
// through dockerd, whose archive endpoints re-exec the daemon binary for every
// copy (~0.15 s and CPU that shows in neither dockerd's nor the container's
// account). The same confinement as everywhere else: every path component is
// opened without following links (confine/), so a link the container planted
// is refused, never written or read through.
import { createHash } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { copyOutOf } from '../confine/copy.ts';
import { writeInside } from '../confine/fs.ts';
import { PathError } from '../confine/relative.ts';
import { sourceBytes } from './copy-source.ts';
import { asRuntimeError, VOLUME } from './paths.ts';
import { ContainerRuntimeError, type CopyInResult, type CopyOutResult, type CopySource } from './types.ts';

/** The volume's host folder when this host can reach it (the bind-mount source), else undefined. */
export function hostVolume(workDir: string | undefined): string | undefined {
  if (!workDir) return undefined;
  try {
    return statSync(workDir).isDirectory() ? workDir : undefined;
  } catch {
    return undefined;
  }
}

function runtimeError(err: unknown): unknown {
  // A directory or a link where a regular file is expected: the archive path's code for them.
  if (err instanceof PathError && (err.code === 'not_a_file' || err.code === 'symlink')) {
    return new ContainerRuntimeError(
      'copy_failed',
      `${err.message}: copies take one regular file at a time`,
      {
        cause: err,
      },
    );
  }
  return asRuntimeError(err);
}

export function cpInDirect(
  workDir: string,
  owner: { uid: number; gid: number },
  dest: string,
  source: CopySource,
): CopyInResult {
  const data = sourceBytes(source);
  try {
    const { rel } = writeInside(workDir, dest, data, { ...VOLUME, what: 'dest', owner });
    return { path: rel, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.byteLength };
  } catch (err) {
    throw runtimeError(err);
  }
}

export function cpOutDirect(workDir: string, rel: string, dest: string): CopyOutResult {
  mkdirSync(dirname(dest), { recursive: true });
  try {
    const copied = copyOutOf(workDir, rel, dest, { ...VOLUME, what: 'src' });
    return { path: dest, sha256: copied.sha256, bytes: copied.bytes };
  } catch (err) {
    throw runtimeError(err);
  }
}
