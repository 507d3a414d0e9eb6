// Single-file copies between host and container through the Engine API's tar
// archive endpoints, hashing the bytes on the way.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import { openTemp } from '../confine/atomic.ts';
import { NO_SOURCE, statSourceFile } from './copy-source.ts';

import { apiMessage, fail, statusOf } from './docker-errors.ts';
import { own, userOf } from './docker-inspect.ts';
import { experimentLayout, resolveExperimentPath } from './paths.ts';
import { packTar, readTar, type TarWriteEntry } from './tar.ts';
import {
  ContainerRuntimeError,
  type CopyInResult,
  type CopyOutResult,
  type CopySource,
  EXPERIMENT_MOUNT,
  LABELS,
} from './types.ts';
import { copyIntoVolume, copyOutOfVolume, dockerCopyError, hostVolume } from './volume-copy.ts';

export async function cpIn(
  docker: Docker,
  id: string,
  dest: string,
  source: CopySource,
): Promise<CopyInResult> {
  const target = resolveExperimentPath(dest, 'dest');
  const { container, info } = await own(docker, id);
  const { uid, gid } = userOf(info);
  const volume = hostVolume(info.Config.Labels?.[LABELS.workDir]);
  if (volume) return copyIntoVolume(volume, { uid, gid }, target.relative, source, dockerCopyError);
  const hash = createHash('sha256');
  let size: number;
  let body: AsyncIterable<Uint8Array> | Uint8Array;
  let file: Readable | undefined;

  if ('content' in source && source.content !== undefined) {
    const buf = typeof source.content === 'string' ? Buffer.from(source.content, 'utf8') : source.content;
    size = buf.byteLength;
    hash.update(buf);
    body = buf;
  } else if ('path' in source && typeof source.path === 'string') {
    const st = statSourceFile(source.path);
    size = st.size;
    const stream = createReadStream(source.path);
    file = stream;
    body = (async function* () {
      for await (const chunk of stream) {
        hash.update(chunk as Buffer);
        yield chunk as Buffer;
      }
    })();
  } else {
    throw new ContainerRuntimeError('copy_failed', NO_SOURCE);
  }

  // Parent directories go in the archive too, owned by the container's user.
  const parts = target.relative.split('/');
  const entries: TarWriteEntry[] = [];
  for (let i = 1; i < parts.length; i++) {
    entries.push({ name: parts.slice(0, i).join('/'), type: 'directory', mode: 0o755, uid, gid });
  }
  entries.push({ name: target.relative, type: 'file', mode: 0o644, uid, gid, size, body });

  const tar = packTar(entries);
  try {
    await container.putArchive(tar, { path: EXPERIMENT_MOUNT });
  } catch (err) {
    if (err instanceof ContainerRuntimeError) throw err;
    const status = statusOf(err);
    if (status === undefined) fail(docker, err);
    throw new ContainerRuntimeError(
      'copy_failed',
      `copy into ${id}:${target.container} failed: ${apiMessage(err)}`,
      {
        cause: err,
      },
    );
  } finally {
    // A refusal can come before the body was read: release the archive and the host file.
    tar.destroy();
    file?.destroy();
  }
  return { path: target.relative, sha256: hash.digest('hex'), bytes: size };
}

export async function cpOut(
  docker: Docker,
  home: string,
  id: string,
  src: string,
  destHostPath?: string,
): Promise<CopyOutResult> {
  const source = resolveExperimentPath(src, 'src');
  const { container, info } = await own(docker, id);
  const workDir = info.Config.Labels?.[LABELS.workDir];
  let dest: string;
  if (destHostPath) {
    dest = resolve(destHostPath);
    if (existsSync(dest) && statSync(dest).isDirectory()) dest = join(dest, basename(source.relative));
  } else {
    const root = workDir ? dirname(workDir) : experimentLayout(home, info.Id).root;
    dest = join(root, 'out', ...source.relative.split('/'));
  }

  const volume = hostVolume(workDir);
  if (volume) return copyOutOfVolume(volume, source.relative, dest, dockerCopyError);

  let archive: Readable;
  try {
    archive = (await container.getArchive({ path: source.container })) as unknown as Readable;
  } catch (err) {
    if (statusOf(err) === 404) {
      throw new ContainerRuntimeError(
        'file_not_found',
        `no file "${source.relative}" in ${EXPERIMENT_MOUNT} of container ${id}`,
        {
          cause: err,
        },
      );
    }
    if (statusOf(err) === undefined) fail(docker, err);
    throw new ContainerRuntimeError(
      'copy_failed',
      `copy out of ${id}:${source.container} failed: ${apiMessage(err)}`,
      {
        cause: err,
      },
    );
  }

  // Written beside the target and renamed, so a failed copy never leaves a half file.
  mkdirSync(dirname(dest), { recursive: true });
  const temp = openTemp(dest, { sync: false });
  try {
    for await (const entry of readTar(archive)) {
      if (entry.header.type === 'directory') {
        throw new ContainerRuntimeError(
          'copy_failed',
          `"${source.relative}" is a directory: cp_out copies one file at a time`,
        );
      }
      if (entry.header.type !== 'file') {
        throw new ContainerRuntimeError(
          'copy_failed',
          `"${source.relative}" is a ${entry.header.type}${entry.header.linkname ? ` to ${entry.header.linkname}` : ''}, not a regular file`,
        );
      }
      const hash = createHash('sha256');
      let bytes = 0;
      await pipeline(
        (async function* () {
          for await (const chunk of entry.body) {
            hash.update(chunk);
            bytes += chunk.length;
            yield chunk;
          }
        })(),
        createWriteStream(temp.path, { fd: temp.fd, autoClose: false }),
      );
      temp.commit();
      return { path: dest, sha256: hash.digest('hex'), bytes };
    }
    throw new ContainerRuntimeError('copy_failed', `the archive of "${source.relative}" was empty`);
  } catch (err) {
    temp.discard();
    if (err instanceof ContainerRuntimeError) throw err;
    throw new ContainerRuntimeError(
      'copy_failed',
      `copy out of ${id}:${source.container} failed: ${String(err)}`,
      {
        cause: err,
      },
    );
  } finally {
    // Every way out (the file returned, a refusal, an error) closes the response,
    // or its docker.sock connection stays open until the daemon times it out.
    archive.destroy();
  }
}
