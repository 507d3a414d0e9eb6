// The argv that starts a local experiment's node role. From the bundle's V8
// startup snapshot when this host runs from the bundle and set-up built a
// snapshot for this very node binary: the role then starts in about half the
// CPU (its modules arrive evaluated instead of being compiled and run). Else
// from the bundle itself, or through bin/peragus.js when this host runs from
// the TypeScript sources (it picks the bundle or tsx by freshness).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const FROM_BUNDLE = existsSync(join(HERE, 'peragus.mjs'));

/** The snapshot beside the bundle (names as scripts/build-bundle.mjs writes them), if this node can run it. */
function snapshotBesideBundle(): { script: string; blob: string } | undefined {
  const script = join(HERE, 'node-role.cjs');
  const blob = join(HERE, 'node-role.blob');
  try {
    const stamp = JSON.parse(readFileSync(join(HERE, 'node-role.blob.json'), 'utf8')) as {
      node?: string;
      execPath?: string;
    };
    // A blob runs only on the binary that built it; another one would refuse to start.
    const ours = stamp.node === process.version && stamp.execPath === process.execPath;
    return ours && existsSync(script) && existsSync(blob) ? { script, blob } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `peragus node` in the experiment image, from the node role's startup snapshot (the Dockerfile
 * builds it; its CMD is this with the socket and work dir of a Docker experiment).
 */
export const IMAGE_NODE_CMD = [
  'node',
  '--snapshot-blob',
  '/opt/peragus/app/dist/bundle/cli/node-role.blob',
  '/opt/peragus/app/dist/bundle/cli/node-role.cjs',
];

let snapshot: { script: string; blob: string } | undefined | null = null;

/** `peragus node ARGS…` as an argv: from the snapshot when `useSnapshot` and one fits, else the bundle or bin/. */
export function nodeRoleArgv(args: string[], useSnapshot: boolean): string[] {
  if (!FROM_BUNDLE) return [process.execPath, resolve(HERE, '../../../bin/peragus.js'), 'node', ...args];
  if (snapshot === null) snapshot = snapshotBesideBundle();
  if (useSnapshot && snapshot) {
    return [process.execPath, '--snapshot-blob', snapshot.blob, snapshot.script, ...args];
  }
  return [process.execPath, join(HERE, 'peragus.mjs'), 'node', ...args];
}
