// The argv and environment of a local experiment's process: under bubblewrap when it runs here
// (sandbox/bwrap.ts), inside the sandbox's cgroups when it has caps, always with an
// allow-listed environment.
import { bwrapArgs, type IsolationCheck, SANDBOX_ENV } from '../sandbox/bwrap.ts';
import { experimentEnv } from '../sandbox/env.ts';
import type { SandboxCgroups } from './local-cgroups.ts';
import { pysdCacheDir } from './paths.ts';

export interface SandboxedCommand {
  argv: string[];
  env: Record<string, string>;
}

export function sandboxedCommand(
  isolation: IsolationCheck,
  home: string,
  cmd: string[],
  workDir: string,
  env: Record<string, string>,
  { cwd, sockets, groups }: { cwd?: string; sockets?: [string, string][]; groups?: SandboxCgroups } = {},
): SandboxedCommand {
  const join = (argv: string[]) => (groups ? groups.joinArgv(argv) : argv);
  if (isolation.isolation !== 'bubblewrap') {
    return { argv: join(cmd), env: experimentEnv(env, { sandboxed: false }) };
  }
  return {
    argv: join([
      'bwrap',
      ...bwrapArgs(cmd, {
        workDir,
        home,
        readOnly: [pysdCacheDir(home)],
        ...(cwd ? { cwd } : {}),
        ...(sockets ? { sockets } : {}),
      }),
    ]),
    // In the sandbox's pid namespace the node's parent watch stands down (another
    // namespace); bwrap's --die-with-parent ends the sandbox with the host instead.
    env: experimentEnv({ ...SANDBOX_ENV, ...env }),
  };
}
