// Where SDXorg's test-model suite lives: PERAGUS_SD_TEST_MODELS, else
// ../shared/sd-test-models beside the repo. Tests that need it fail loudly
// when it is absent, unless PERAGUS_ALLOW_NO_SD_MODELS=1.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..', '..');

export function sdModelsDir(): string | null {
  const dir = process.env.PERAGUS_SD_TEST_MODELS ?? resolve(REPO, '..', 'shared', 'sd-test-models');
  return existsSync(join(dir, 'samples')) ? dir : null;
}

/** The suite's path, or a loud failure naming how to provide it. */
export function requireSdModels(): string | null {
  const dir = sdModelsDir();
  if (dir) return dir;
  const msg =
    'SDXorg test models not found: set PERAGUS_SD_TEST_MODELS or place them at ../shared/sd-test-models ' +
    '(set PERAGUS_ALLOW_NO_SD_MODELS=1 to run without them)';
  if (process.env.PERAGUS_ALLOW_NO_SD_MODELS === '1') {
    process.stderr.write(`\n!!! ${msg}: the tests that need them are NOT run !!!\n\n`);
    return null;
  }
  throw new Error(msg);
}
