// Which experiment a node role serves, and whether it is scratch (a plan's: its sessions do not
// flush each write). A cold container is told at start (PERAGUS_EXPERIMENT_ID, `--scratch`); a
// warm-pool container starts before its experiment exists and is told at hand-over, through a
// file the host writes into the volume (PERAGUS_EXPERIMENT_ID_FILE, runtime/docker-handover.ts):
// the id on its first line, `scratch` on the next for a scratch experiment. The file is read at
// the first notebook_create after the hand-over and then kept: no experiment code has run in the
// container before that call.
import { readFileSync } from 'node:fs';
import { ExperimentIdSchema } from '../ids/index.ts';
import { SCRATCH_LINE } from '../runtime/docker-claims.ts';

export interface ExperimentIdentity {
  /** Undefined until a warm-pool node is handed over. */
  id(): string | undefined;
  scratch(): boolean;
}

export function experimentIdentity(
  config: { experimentId?: string | undefined; experimentIdFile?: string | undefined },
  { scratch = false }: { scratch?: boolean } = {},
): ExperimentIdentity {
  if (config.experimentId) {
    const fixed = config.experimentId;
    return { id: () => fixed, scratch: () => scratch };
  }
  const file = config.experimentIdFile;
  if (!file) return { id: () => undefined, scratch: () => scratch };
  let known: { id: string; scratch: boolean } | undefined;
  const read = () => {
    if (known !== undefined) return known;
    let lines: string[];
    try {
      lines = readFileSync(file, 'utf8').split('\n');
    } catch {
      return undefined; // not handed over yet
    }
    const id = lines[0]?.trim() ?? '';
    if (!ExperimentIdSchema.safeParse(id).success) return undefined;
    known = { id, scratch: scratch || lines[1]?.trim() === SCRATCH_LINE };
    return known;
  };
  return { id: () => read()?.id, scratch: () => read()?.scratch ?? scratch };
}
