// Whether the Docker tests can run: the daemon answers and the experiment
// image exists. In CI they must run, so there a missing daemon or image fails
// the suite; elsewhere the tests are skipped with a loud message.
import { execFileSync } from 'node:child_process';
import { defaultImage } from '../../notebook-server/src/runtime/docker.ts';

export function dockerReason(): string | null {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 10_000 });
  } catch {
    return 'the Docker daemon is not reachable (start dockerd; scripts/ci-docker.sh does it)';
  }
  try {
    execFileSync('docker', ['image', 'inspect', defaultImage()], { stdio: 'pipe', timeout: 10_000 });
  } catch {
    return `the image ${defaultImage()} is missing (build it with container-image/build.sh)`;
  }
  return null;
}

/** True when Docker tests should run; throws in CI when they cannot. */
export function dockerTestsEnabled(): boolean {
  const reason = dockerReason();
  if (reason === null) return true;
  if (process.env.CI) throw new Error(`Docker tests must run in CI, but ${reason}`);
  process.stderr.write(`\n!!! Docker tests SKIPPED: ${reason} !!!\n\n`);
  return false;
}

/** A container's processes as the host sees them (not this process's children): host pids and command lines. */
export function containerProcesses(containerId: string): { pid: number; args: string }[] {
  return execFileSync('docker', ['top', containerId, '-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .slice(1)
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((m) => m !== null)
    .map((m) => ({ pid: Number(m[1]), args: m[2]!.trim() }));
}
