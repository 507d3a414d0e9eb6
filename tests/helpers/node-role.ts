// Which processes are experiments' node roles, by command line: `peragus node --socket …`
// (bin/peragus.js or the bundle) or the role's startup snapshot (runtime/node-role-command.ts:
// `node --snapshot-blob … node-role.cjs --socket …`), whichever the host started.
export const isNodeRoleCommand = (cmd: string): boolean =>
  / node --socket |\/node-role\.cjs --socket /.test(cmd);
