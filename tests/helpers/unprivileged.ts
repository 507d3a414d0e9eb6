// Running Peragus as a user that is not root, from a root test or bench run: `nobody`, through
// setpriv, with a Python that user can run.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './sd-models.ts';

export const NOBODY = 65534;

/** `argv` run as `uid` (its own group, no supplementary groups). */
export function asUser(uid: number, argv: string[]): string[] {
  return ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv];
}

/** Whether this run is root and bubblewrap sandboxes for `nobody` here (user namespaces). */
export function nobodyCanSandbox(): boolean {
  if (process.getuid?.() !== 0) return false;
  const [file, ...args] = asUser(NOBODY, ['bwrap', '--ro-bind', '/', '/', '--unshare-net', 'true']) as [
    string,
    ...string[],
  ];
  return spawnSync(file, args).status === 0;
}

/**
 * A Python the unprivileged user can run, with the kernel venv's packages: that venv's own Python
 * may sit under /root (pyenv), which such a user cannot enter. Debian's python3.11, same ABI.
 */
export function unprivilegedPython(): string {
  const venv = join(REPO, 'test-artifacts/nonroot-python');
  const python = join(venv, 'bin/python');
  if (!existsSync(python)) {
    const made = spawnSync('/usr/bin/python3.11', ['-m', 'venv', '--without-pip', venv], {
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(`cannot make ${venv} from /usr/bin/python3.11: ${made.stderr}`);
    const kernelVenv = join(REPO, 'kernels/pysd/.venv/lib/python3.11/site-packages');
    const paths = `${kernelVenv}\n${join(REPO, 'kernels/pysd/python')}\n`;
    writeFileSync(join(venv, 'lib/python3.11/site-packages/peragus.pth'), paths);
    spawnSync('chmod', ['-R', 'a+rX', join(REPO, 'test-artifacts')]);
  }
  return python;
}
