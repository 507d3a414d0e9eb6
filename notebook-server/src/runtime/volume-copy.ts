// Copies into and out of an experiment's volume folder on the host: the local
// runtime's work dir, and a Docker experiment's bind-mount source (no tar
// archive through dockerd, whose archive endpoints re-exec the daemon binary
// for every copy: ~0.15 s and CPU that shows in neither dockerd's nor the
// container's account). Every path component is opened without following
// links (confine/), so a link the experiment planted is refused, never written
// or read through. Each runtime names its errors (mapError).
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

/** Docker's error names: a directory or a link where a regular file is expected is the archive path's code for them. */
export function dockerCopyError(err: unknown): unknown {
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

export function copyIntoVolume(
  workDir: string,
  owner: { uid: number; gid: number } | undefined,
  dest: string,
  source: CopySource,
  mapError: (err: unknown) => unknown,
): CopyInResult {
  const data = sourceBytes(source);
  try {
    const { rel } = writeInside(workDir, dest, data, {
      ...VOLUME,
      what: 'dest',
      ...(owner ? { owner } : {}),
    });
    return { path: rel, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.byteLength };
  } catch (err) {
    throw mapError(err);
  }
}

export function copyOutOfVolume(
  workDir: string,
  rel: string,
  dest: string,
  mapError: (err: unknown) => unknown,
): CopyOutResult {
  mkdirSync(dirname(dest), { recursive: true });
  try {
    const copied = copyOutOf(workDir, rel, dest, { ...VOLUME, what: 'src' });
    return { path: dest, sha256: copied.sha256, bytes: copied.bytes };
  } catch (err) {
    throw mapError(err);
  }
}
