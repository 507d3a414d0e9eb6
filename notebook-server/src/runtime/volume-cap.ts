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
//
// The commands run asynchronously, as few processes as can do the job (one
// to make and mount an empty volume, one to copy back and unmount): each
// spawn forks the host, whose page tables make that ≈ 8–16 ms of CPU for a
// host of 160–350 MB, and a synchronous one blocked every experiment's calls.
import { execFile } from 'node:child_process';
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

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr }));
      else resolve();
    });
  });
}

/** `sh -c SCRIPT` with `args` as $1, $2, …: values are never parsed by the shell. */
const sh = (script: string, args: string[]) => run('sh', ['-c', script, 'sh', ...args]);

/**
 * One volume operation per work dir at a time: concurrent creates of one experiment (only one
 * wins the container name) must find the volume mounted once, as they did when these calls
 * were synchronous, not make and mount the same image side by side.
 */
const pending = new Map<string, Promise<unknown>>();
function onePerDir<T>(workDir: string, op: () => Promise<T>): Promise<T> {
  const next = (pending.get(workDir) ?? Promise.resolve()).catch(() => undefined).then(op);
  pending.set(workDir, next);
  const forget = () => {
    if (pending.get(workDir) === next) pending.delete(workDir);
  };
  next.then(forget, forget);
  return next;
}

const MAKE_IMAGE = 'truncate -s "$2" "$1" && mkfs.ext4 -q -F -m 0 -O ^has_journal -E "root_owner=$3" "$1"';
const MOUNT = 'mount -o loop,nosuid,nodev "$1" "$4"';
/** Unmounts $1, lazily when it is busy. */
const UNMOUNT = 'umount "$1" 2>/dev/null || umount -l "$1"';

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
): Promise<VolumeCap> {
  return onePerDir(workDir, () => cap(root, workDir, bytes, owner));
}

async function cap(
  root: string,
  workDir: string,
  bytes: number,
  owner: { uid: number; gid: number },
): Promise<VolumeCap> {
  const image = join(root, 'volume.ext4');
  if (isMountPoint(workDir)) return { capped: true, bytes, image };
  if (process.getuid?.() !== 0) {
    return {
      capped: false,
      reason: 'the host does not run as root, so it cannot mount a size-capped volume',
    };
  }
  const staging = `${workDir}.capping`;
  const args = [image, String(bytes), `${owner.uid}:${owner.gid}`, workDir];
  try {
    rmSync(image, { force: true });
    if (readdirSync(workDir).length === 0) {
      await sh(`${MAKE_IMAGE} && ${MOUNT}`, args);
    } else {
      // Files already there (an earlier container of this experiment) move into the volume.
      await sh(MAKE_IMAGE, args);
      mkdirSync(staging, { recursive: true });
      await run('mount', ['-o', 'loop,nosuid,nodev', image, staging]);
      try {
        rmdirSync(join(staging, 'lost+found'));
        await run('cp', ['-a', '--', `${workDir}/.`, `${staging}/`]);
      } finally {
        await run('umount', [staging]);
        rmdirSync(staging);
      }
      clearDir(workDir);
      await sh(MOUNT, args);
    }
  } catch (err) {
    if (isMountPoint(staging)) await releaseQuietly(staging);
    if (isMountPoint(workDir)) await releaseQuietly(workDir);
    rmSync(staging, { recursive: true, force: true });
    rmSync(image, { force: true });
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
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
export function releaseVolume(workDir: string): Promise<void> {
  return onePerDir(workDir, () => release(workDir));
}

async function release(workDir: string): Promise<void> {
  if (!isMountPoint(workDir)) return;
  const image = join(dirname(workDir), 'volume.ext4');
  const staging = `${workDir}.releasing`;
  mkdirSync(staging, { recursive: true });
  // One process: the copy (a partial one still beats losing the record), then the unmount
  // (lazily when busy). Whether it worked is read from the mount table below, not the exit code.
  await sh(`cp -a -- "$1/." "$2/"; ${UNMOUNT}`, [workDir, staging]).catch(() => undefined);
  if (isMountPoint(workDir)) return; // still busy: left mounted, the record stays visible
  try {
    for (const name of readdirSync(staging)) renameSync(join(staging, name), join(workDir, name));
    rmdirSync(staging);
    rmSync(image, { force: true });
  } catch {
    // files stay in the staging dir and the image: nothing is lost
  }
}

async function releaseQuietly(dir: string): Promise<void> {
  await sh(UNMOUNT, [dir]).catch(() => undefined);
}

function clearDir(dir: string): void {
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
}
