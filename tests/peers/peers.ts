// The test peers' venv (tests/peers/.venv, from tests/peers/requirements.txt):
// Jupyter Server, papermill, nbclient. `npm test` installs it (scripts/setup.mjs
// → setup-peers.mjs); a missing venv fails the test with the command to run.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/sd-models.ts';

export const PEERS_VENV = process.env.PERAGUS_PEERS_VENV ?? join(REPO, 'tests/peers/.venv');

export function peerBin(name: string): string {
  const path = join(PEERS_VENV, 'bin', name);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`node scripts/setup-peers.mjs\` (npm test does it first)`);
  }
  return path;
}
