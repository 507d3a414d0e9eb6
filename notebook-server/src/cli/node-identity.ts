// Which experiment a node role serves. A cold container is told at start
// (PERAGUS_EXPERIMENT_ID); a warm-pool container starts before its experiment
// exists and is told at hand-over, through a file the host writes into the
// volume (PERAGUS_EXPERIMENT_ID_FILE, runtime/docker-handover.ts). The file is
// read at the first notebook_create after the hand-over and then kept: no
// experiment code has run in the container before that call.
import { readFileSync } from 'node:fs';
import { IDENTITY_ENV } from '../runtime/docker-claims.ts';
import { ExperimentIdSchema } from '../runtime/types.ts';

export function experimentIdentity(env: NodeJS.ProcessEnv = process.env): () => string | undefined {
  if (env.PERAGUS_EXPERIMENT_ID) {
    const fixed = env.PERAGUS_EXPERIMENT_ID;
    return () => fixed;
  }
  const file = env[IDENTITY_ENV];
  if (!file) return () => undefined;
  let known: string | undefined;
  return () => {
    if (known !== undefined) return known;
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      return undefined; // not handed over yet
    }
    if (!ExperimentIdSchema.safeParse(text).success) return undefined;
    known = text;
    return known;
  };
}
