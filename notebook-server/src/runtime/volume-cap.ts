// The experiment volume's size cap (resources.disk, default 2 GiB).
//
// A bind-mounted host directory has no size of its own, and Docker 20.10 on
// overlay2 or vfs cannot cap one (--storage-opt size needs xfs with project
// quotas). So the volume itself is made a file system of that size: a sparse
// ext4 image (<experiment>/volume.ext4, no journal, blocks allocated only as
// written) loop-mounted at the work dir before the container starts. Writes
// past the cap fail with ENOSPC inside the experiment; nothing else on the
// host fills up.
//
// When the container goes, the volume's files are copied back into the plain
// work dir (the experiment's record stays readable on the host, as without a
// cap) and the image is deleted, so no loop device is held by a finished
// experiment; a re-created container of the same experiment (a retry, a
// resumed plan) gets a fresh capped volume holding those files.
//
// This needs root (mount) and mkfs.ext4 (e2fsprogs). Without them the
// volume is not capped and `capVolume` says why; the runtimes report that.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseMemory, type Resources } from './types.ts';

export const DEFAULT_DISK_BYTES = 2 * 2 ** 30;

export function diskCapOf(resources: Resources | undefined): number {
  return resources?.disk !== undefined ? parseMemory(resources.disk) : DEFAULT_DISK_BYTES;
}

export type VolumeCap = { capped: true; bytes: number; image: string } | { capped: false; reason: string };

export function isMountPoint(dir: string): boolean {
  try {
    return statSync(dir).dev !== statSync(dirname(dir)).dev;
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
}

/**
 * Mounts a capped volume at `workDir`, holding the files already there.
 * `owner` owns the new file system's root. Idempotent: an already mounted
 * volume is left as it is.
 */
export function capVolume(
  root: string,
  workDir: string,
  bytes: number,
  owner: { uid: number; gid: number } = { uid: 0, gid: 0 },
): VolumeCap {
  const image = join(root, 'volume.ext4');
  if (isMountPoint(workDir)) return { capped: true, bytes, image };
  if (process.getuid?.() !== 0) {
    return {
      capped: false,
      reason: 'the host does not run as root, so it cannot mount a size-capped volume',
    };
  }
  const staging = `${workDir}.capping`;
  try {
    rmSync(image, { force: true });
    run('truncate', ['-s', String(bytes), image]);
    run('mkfs.ext4', [
      '-q',
      '-F',
      '-m',
      '0',
      '-O',
      '^has_journal',
      '-E',
      `root_owner=${owner.uid}:${owner.gid}`,
      image,
    ]);
    // Files already there (an earlier container of this experiment) move into the volume.
    if (readdirSync(workDir).length > 0) {
      mkdirSync(staging, { recursive: true });
      run('mount', ['-o', 'loop,nosuid,nodev', image, staging]);
      try {
        rmdirSync(join(staging, 'lost+found'));
        run('cp', ['-a', '--', `${workDir}/.`, `${staging}/`]);
      } finally {
        run('umount', [staging]);
        rmdirSync(staging);
      }
      clearDir(workDir);
    }
    run('mount', ['-o', 'loop,nosuid,nodev', image, workDir]);
  } catch (err) {
    if (isMountPoint(staging)) releaseQuietly(staging);
    rmSync(staging, { recursive: true, force: true });
    rmSync(image, { force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return {
      capped: false,
      reason: `cannot mount a size-capped volume: ${stderr || (err as Error).message}`,
    };
  }
  try {
    rmdirSync(join(workDir, 'lost+found'));
  } catch {
    // already gone
  }
  return { capped: true, bytes, image };
}

/**
 * Ends the capped volume: its files are copied back into the plain work dir
 * (the experiment's record) and the image is deleted. Nothing to do when the
 * work dir is not a capped volume.
 */
export function releaseVolume(workDir: string): void {
  if (!isMountPoint(workDir)) return;
  const image = join(dirname(workDir), 'volume.ext4');
  const staging = `${workDir}.releasing`;
  try {
    mkdirSync(staging, { recursive: true });
    run('cp', ['-a', '--', `${workDir}/.`, `${staging}/`]);
  } catch {
    // a partial copy still beats losing the record; the image is kept below
  }
  releaseQuietly(workDir);
  if (isMountPoint(workDir)) return; // still busy: left mounted, the record stays visible
  try {
    for (const name of readdirSync(staging)) renameSync(join(staging, name), join(workDir, name));
    rmdirSync(staging);
    rmSync(image, { force: true });
  } catch {
    // files stay in the staging dir and the image: nothing is lost
  }
}

function releaseQuietly(dir: string): void {
  try {
    run('umount', [dir]);
  } catch {
    try {
      run('umount', ['-l', dir]);
    } catch {
      // still mounted
    }
  }
}

function clearDir(dir: string): void {
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
}
