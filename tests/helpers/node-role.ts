// Which processes are experiments' node roles, by command line: `peragus node --socket …`
// (bin/peragus.js or the bundle) or the role's startup snapshot (runtime/node-role-command.ts:
// `node --snapshot-blob … node-role.cjs --socket …`), whichever the host started.
export const isNodeRoleCommand = (cmd: string): boolean =>
  / node --socket |\/node-role\.cjs --socket /.test(cmd);

/**
 * A sandbox whose sessions the host serves itself (runtime/local.ts, SANDBOX_HOLDER): bubblewrap
 * (through setpriv under a root host) holding `/bin/cat`, the experiment's kernel forked into it.
 */
export const isHostedSandboxCommand = (cmd: string): boolean =>
  /\bbwrap .* -- (\S+ .* -- )?\/bin\/cat\s*$/.test(cmd);

/** What serves a local experiment: its node role, or the sandbox of one the host serves. */
export const isExperimentCommand = (cmd: string): boolean =>
  isNodeRoleCommand(cmd) || isHostedSandboxCommand(cmd);
