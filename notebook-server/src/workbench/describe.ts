// What the model page shows, from PySD: peragus_pysd's load summary (stocks,
// flows, auxiliaries, constants with units, docs and Vensim ranges, time
// settings) and its analysis (documentation table, dependency graph, units
// check). A model is code (a documentation string can run anything; a .py model
// is Python), so it is loaded where the plan check loads one: in a sandbox of its
// own (orchestrator/model-check.ts), never in the host. A translation error is
// located in the file: the variable and line.
import { runModelCheck } from '../orchestrator/model-check.ts';

export interface ModelElement {
  name: string;
  py_name: string;
  units: string | null;
  limits: [number | null, number | null] | null;
  doc: string | null;
  value?: number | null;
  initial_value?: number | null;
  stocks?: string[];
}

export interface ModelDescription {
  model_id: string;
  format: string;
  sha256: string;
  time: { initial_time: number; final_time: number; time_step: number; saveper: number; units?: string };
  stocks: ModelElement[];
  flows: ModelElement[];
  auxiliaries: ModelElement[];
  constants: ModelElement[];
  lookups: ModelElement[];
  counts: Record<string, number>;
  analysis?: {
    graph?: { edges: unknown[] };
    units_check?: { issues: unknown[] };
  };
}

/**
 * Translates `content` (the file `filename`) in the model check's sandbox and describes it; the
 * translation is kept in the shared cache on the way. Rejects with PySD's message.
 */
export async function describeModel(
  home: string,
  filename: string,
  content: string,
  timeoutMs = 120_000,
): Promise<ModelDescription> {
  const { reply, output, code } = await runModelCheck({
    home,
    model: { content, name: filename },
    describe: true,
    timeoutMs,
  });
  if (reply?.ok && reply.description && typeof reply.description === 'object') {
    return reply.description as ModelDescription;
  }
  if (reply) throw new Error(String(reply.error ?? 'the model could not be described'));
  throw new Error(`the model translator exited with code ${code}: ${output}`);
}

/** Vensim: `Name=`, `Name :=`, `Name(` … at the start of an equation block. */
const DEFINITION = /^\s*([^=~|:(\n][^=~|:(\n]*?)\s*(?:\[[^\]]*\])?\s*(?:=|:=|\(|==)/;

/**
 * Finds where PySD's complaint points in the model text: the quoted snippet of
 * a parse error ("… begins with 'X'"), or a variable name the error quotes;
 * returns the line (1-based) and the variable defined there.
 */
export function locateError(message: string, text: string): { variable: string | null; line: number | null } {
  const lines = text.split(/\r?\n/);
  const snippet = /begins with '([^']{2,})'/.exec(message)?.[1];
  let line: number | null = null;
  if (snippet) {
    const probe = snippet.slice(0, 40);
    const at = lines.findIndex((l) => l.includes(probe));
    if (at >= 0) line = at + 1;
  }
  if (line === null) {
    for (const m of message.matchAll(/['"]([^'"\n]{2,80})['"]/g)) {
      const name = m[1] as string;
      const at = lines.findIndex((l) => l.trimStart().startsWith(name));
      if (at >= 0) {
        line = at + 1;
        break;
      }
    }
  }
  if (line === null) return { variable: null, line: null };
  // The variable: the definition that starts the block holding that line.
  for (let i = line - 1; i >= 0; i--) {
    const l = lines[i] as string;
    if (i < line - 1 && /\|\s*$/.test(l)) break;
    const prev = i > 0 ? (lines[i - 1] as string) : '|';
    if (
      (i === 0 || /\|\s*$/.test(prev) || prev.trim() === '' || /^\{UTF-8\}/.test(prev)) &&
      DEFINITION.test(l)
    ) {
      return { variable: (DEFINITION.exec(l)?.[1] ?? '').trim() || null, line };
    }
  }
  return { variable: null, line };
}
