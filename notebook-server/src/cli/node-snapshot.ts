// The node role's entry in its V8 startup snapshot (scripts/build-bundle.mjs):
//   node --snapshot-blob dist/bundle/cli/node-role.blob dist/bundle/cli/node-role.cjs ARGS…
// runs `peragus node ARGS…` with every module below already loaded. While the
// snapshot is built, this only names what runs after deserialization; nothing
// here may read the environment, the clock or randomness before that point.
// Run as a plain script (node node-role.cjs ARGS…), it starts the role at once.
import { startupSnapshot } from 'node:v8';
import { cliContext } from './context.ts';
import { failCommand } from './exit.ts';
import { type NodeEntry, nodeCommand } from './node.ts';
import { warmSchemas } from './snapshot-warm.ts';

function start(entry: NodeEntry): void {
  // argv[1] is the script (with or without the snapshot): the role's arguments follow.
  nodeCommand(process.argv.slice(2), cliContext(), entry).then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (err: unknown) => failCommand('node', err),
  );
}

if (startupSnapshot.isBuildingSnapshot()) {
  warmSchemas();
  startupSnapshot.setDeserializeMainFunction(() => start('snapshot'));
} else start('cli');
