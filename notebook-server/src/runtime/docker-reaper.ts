// Docker containers are not children of the process that created them, so a
// kill -9 of `peragus run` would leave its plan's containers running. A small
// detached watchdog (plain node, no dependencies) waits for that process to go
// and then removes the containers carrying the plan's label and this home's
// work-dir prefix. A run that ends normally stops the watchdog.
import { spawn } from 'node:child_process';
import { CREATED_BY, LABELS } from './types.ts';

const SCRIPT = `
const { execFileSync } = require('node:child_process');
const [pid, plan, home, createdBy, createdByValue, workDirLabel, labelKey] = process.argv.slice(1);
const alive = () => { try { process.kill(Number(pid), 0); return true; } catch (e) { return e.code === 'EPERM'; } };
const docker = (args) => execFileSync('docker', args, { encoding: 'utf8', timeout: 60000 });
setInterval(() => {
  if (alive()) return;
  try {
    const ids = docker(['ps', '-aq', '--filter', 'label=' + labelKey + '=' + plan, '--filter', 'label=' + createdBy + '=' + createdByValue])
      .split(/\\s+/).filter(Boolean);
    const ours = ids.filter((id) => {
      const dir = docker(['inspect', '-f', '{{index .Config.Labels "' + workDirLabel + '"}}', id]).trim();
      return dir.startsWith(home + '/');
    });
    if (ours.length > 0) docker(['rm', '-f', ...ours]);
  } catch {}
  process.exit(0);
}, 500);
`;

/** `labelKey=value` picks the containers: a plan's (plan=<id>) or a warm pool's (peragus.pool_owner=<token>). */
export function startDockerReaper(value: string, home: string, labelKey = 'plan'): { stop(): void } {
  const child = spawn(
    process.execPath,
    ['-e', SCRIPT, String(process.pid), value, home, LABELS.createdBy, CREATED_BY, LABELS.workDir, labelKey],
    { detached: true, stdio: 'ignore' },
  );
  child.on('error', () => undefined);
  child.unref();
  return {
    stop() {
      try {
        child.kill('SIGTERM');
      } catch {
        // already gone
      }
    },
  };
}
