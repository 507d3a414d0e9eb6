// The local runtime's sandbox: every experiment process (the node role, its
// kernels, container_exec commands) runs under bubblewrap with no network,
// a read-only view of the system with the users' homes, /run (sockets such
// as Docker's) and the Peragus home hidden, a private /tmp, its own pid, IPC,
// UTS and cgroup namespaces, and only the experiment's work dir writable.
// A host running as root drops the sandbox to the experiment uid (the
// Docker image's, 10001) with no capabilities and no_new_privs.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSetting } from '../config/index.ts';
import type { Owner } from '../confine/walk.ts';
import { isMountRace, retryMountRaceSync } from './mount-race.ts';

export type Isolation = 'docker' | 'bubblewrap' | 'none';

/** The unprivileged user experiments run as when the host is root (the image's `peragus` user). */
export const EXPERIMENT_UID = 10001;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Hidden behind empty tmpfs: homes, runtime sockets, shared temp and mount dirs. */
const MASKED = ['/home', '/root', '/run', '/tmp', '/var/tmp', '/mnt', '/media', '/srv'];

/** Who sandboxed processes run as: the experiment uid under a root host, else the caller. */
export function sandboxOwner(): Owner | undefined {
  return process.getuid?.() === 0 ? { uid: EXPERIMENT_UID, gid: EXPERIMENT_UID } : undefined;
}

/**
 * Who a kernel the zygote forks into a sandbox runs as: the sandbox user under a root host; else
 * this process's user, in the sandbox's user namespace (bubblewrap made it for this user).
 */
export function forkOwner(): Owner {
  return sandboxOwner() ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

export interface SandboxOptions {
  /** The one writable directory, at the same path inside. */
  workDir: string;
  /** The Peragus home: hidden (other experiments, the catalog, plans). */
  home: string;
  /** Default: workDir. */
  cwd?: string;
  /** Host directories shown read-only at the same path (e.g. the shared PySD translation cache). */
  readOnly?: string[];
  /** Unix sockets of the host shown at another path inside ([host path, path inside], under /run). */
  sockets?: [string, string][];
}

/** Where a sandboxed node finds the kernel zygote's socket of its own experiment. */
export const ZYGOTE_SOCKET_INSIDE = '/run/peragus/kernel.sock';

const inside = (p: string, dir: string) => p === dir || p.startsWith(dir + sep);

/** Directories that must stay visible (read-only) even under a hidden dir: code, node, python. */
function neededPaths(): string[] {
  const paths = [REPO_ROOT, dirname(dirname(process.execPath))];
  const python = readSetting('python') ?? join(REPO_ROOT, 'kernels/pysd/.venv/bin/python');
  try {
    paths.push(dirname(dirname(realpathSync(python))));
  } catch {
    // no venv yet: the kernel will say so
  }
  return paths;
}

/**
 * The bwrap argv (without the program) that runs `cmd` in the sandbox. `needed`: the code, node and
 * Python folders shown read-only (given by tests; a checkout lives anywhere).
 */
export function bwrapArgs(cmd: string[], options: SandboxOptions, needed = neededPaths()): string[] {
  const home = resolve(options.home);
  const workDir = resolve(options.workDir);
  const masks = [...MASKED.filter((m) => existsSync(m)), home];
  const hidden = (p: string) => masks.some((m) => inside(p, m));
  // A private /dev/shm too: Python's multiprocessing locks live there.
  const args = [
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--perms',
    '1777',
    '--tmpfs',
    '/dev/shm',
    '--proc',
    '/proc',
  ];
  for (const m of masks) {
    if (m !== home && masks.some((o) => o !== m && inside(m, o))) continue;
    if (m === '/tmp' || m === '/var/tmp') args.push('--perms', '1777');
    args.push('--tmpfs', m);
  }
  // Parents made inside a hidden dir must be traversable by the sandbox user.
  const parents = (p: string) => {
    const out: string[] = [];
    // Below a hidden dir only: the tmpfs roots keep their own modes (/tmp stays 1777).
    for (let d = dirname(p); d !== '/' && hidden(d) && !masks.includes(d); d = dirname(d)) out.unshift(d);
    for (const d of out) args.push('--perms', '0755', '--dir', d);
  };
  let homeShown = false;
  for (const p of needed) {
    if (p === home) {
      // Hidden, the code would be gone; shown, the home would be: neither can run safely.
      throw new Error(
        `PERAGUS_HOME (${home}) is the folder of Peragus's own code, node or Python, which every sandbox ` +
          'must see: set PERAGUS_HOME to a folder of its own (the default is ~/.peragus)',
      );
    }
    if (!hidden(p) || !existsSync(p)) continue;
    parents(p);
    args.push('--ro-bind', p, p);
    homeShown ||= inside(home, p);
  }
  // A home inside one of them (a checkout under ~ with PERAGUS_HOME=.peragus in it) would be seen
  // through that bind: hidden again, below it. What the sandbox needs of the home is bound after.
  if (homeShown) args.push('--tmpfs', home);
  // tsx's compile cache of the host, read-only: the node role starts warm.
  const owner = sandboxOwner();
  const tsxCache = join(tmpdir(), `tsx-${process.geteuid?.() ?? 0}`);
  if (existsSync(tsxCache)) args.push('--ro-bind', tsxCache, `/tmp/tsx-${owner?.uid ?? process.geteuid?.()}`);
  for (const given of options.readOnly ?? []) {
    // By its real path: bubblewrap cannot make a mount point under a link (~/models -> /data/models).
    let p: string;
    try {
      p = realpathSync(given);
    } catch {
      continue; // missing: nothing to bind
    }
    parents(p);
    args.push('--ro-bind', p, p);
  }
  for (const [socket, at] of options.sockets ?? []) {
    args.push('--perms', '0755', '--dir', dirname(at), '--ro-bind', socket, at);
  }
  parents(workDir);
  args.push('--bind', workDir, workDir);
  args.push(
    // Ends with its spawner (the host): no orphan survives a kill -9 of the host.
    '--die-with-parent',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-net',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--hostname',
    'peragus-experiment',
    '--chdir',
    options.cwd ?? workDir,
  );
  if (!owner) return [...args, '--', ...cmd];
  return [
    ...args,
    // Just enough to switch to the experiment user; setpriv then drops everything.
    '--cap-add',
    'CAP_SETUID',
    '--cap-add',
    'CAP_SETGID',
    '--cap-add',
    'CAP_SETPCAP',
    '--',
    'setpriv',
    `--reuid=${owner.uid}`,
    `--regid=${owner.gid}`,
    '--clear-groups',
    '--no-new-privs',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--',
    ...cmd,
  ];
}

/** Environment of a sandboxed process on top of its allow-listed variables. */
export const SANDBOX_ENV = { HOME: '/tmp', TMPDIR: '/tmp' } as const;

export interface IsolationCheck {
  isolation: Isolation;
  /** Why bubblewrap is not used (when isolation is "none"). */
  reason?: string;
}

let checked: IsolationCheck | undefined;

/**
 * Whether model checks are forked from the kernel zygote into sandboxes of their own (its check
 * server then imports PySD's translators): bubblewrap, as probed (`check`) or else as configured.
 * A check runs as the sandbox user under a root host, else as the host's user in the sandbox's
 * user namespaces (nsjoin.py), without capabilities either way.
 */
export function forkedChecks(check?: IsolationCheck): boolean {
  return check ? check.isolation === 'bubblewrap' : readSetting('sandbox') !== 'none';
}

/**
 * Whether the local runtime can sandbox with bubblewrap here: PERAGUS_SANDBOX=none
 * turns it off on purpose; otherwise one real sandboxed `sh -c 'exit 0'` is tried
 * (cached for the process).
 */
export function localIsolation(env: NodeJS.ProcessEnv = process.env): IsolationCheck {
  if (readSetting('sandbox', env) === 'none') {
    return { isolation: 'none', reason: 'PERAGUS_SANDBOX=none turned the sandbox off' };
  }
  if (checked) return checked;
  const dir = mkdtempSync(join(tmpdir(), 'peragus-bwrap-probe-'));
  try {
    const owner = sandboxOwner();
    if (owner) chownSync(dir, owner.uid, owner.gid);
    const args = bwrapArgs(['/bin/sh', '-c', 'echo ok > probe'], { workDir: dir, home: join(dir, 'home') });
    // A mount race must not turn the sandbox off for this process's life (mount-race.ts).
    const r = retryMountRaceSync(
      () => spawnSync('bwrap', args, { encoding: 'utf8', timeout: 10_000, env: { PATH: env.PATH ?? '' } }),
      (run) => run.status === 1 && isMountRace(run.stderr ?? ''),
    );
    if (r.error) {
      const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
      checked = {
        isolation: 'none',
        reason: missing ? 'bwrap is not installed (Debian: apt-get install bubblewrap)' : r.error.message,
      };
    } else if (r.status !== 0 || !existsSync(join(dir, 'probe'))) {
      checked = {
        isolation: 'none',
        reason: `bwrap cannot run here: ${(r.stderr || `exit ${r.status}`).trim()}`,
      };
    } else {
      checked = { isolation: 'bubblewrap' };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return checked;
}

/** The start-up warning when the local runtime cannot sandbox, or null when it can. */
export function isolationWarning(check: IsolationCheck): string | null {
  if (check.isolation !== 'none') return null;
  return (
    `peragus: WARNING: the local runtime is NOT sandboxed (${check.reason}). ` +
    'Experiment code runs as this user with access to its files and the network. ' +
    'Install bubblewrap, or use PERAGUS_RUNTIME=docker for untrusted experiments.\n'
  );
}
