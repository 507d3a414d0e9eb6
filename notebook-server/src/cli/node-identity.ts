// Which experiment a node role serves. A cold container is told at start
// (PERAGUS_EXPERIMENT_ID); a warm-pool container starts before its experiment
// exists and is told at hand-over, through a file the host writes into the
// volume (PERAGUS_EXPERIMENT_ID_FILE, runtime/docker-handover.ts). The file is
// read at the first notebook_create after the hand-over and then kept: no
// experiment code has run in the container before that call.
import { readFileSync } from 'node:fs';
import { ExperimentIdSchema } from '../ids/index.ts';

export function experimentIdentity(config: {
  experimentId?: string | undefined;
  experimentIdFile?: string | undefined;
}): () => string | undefined {
  if (config.experimentId) {
    const fixed = config.experimentId;
    return () => fixed;
  }
  const file = config.experimentIdFile;
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
