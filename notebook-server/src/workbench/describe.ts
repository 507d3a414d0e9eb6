// Translates a model once in a short-lived Python process (the kernel's venv)
// and returns what the model page shows: peragus_pysd's load summary (stocks,
// flows, auxiliaries, constants with units, docs and Vensim ranges, time
// settings) and its analysis (documentation table, dependency graph, units
// check). A translation error is located in the file: the variable and line.
import { spawn } from 'node:child_process';
import { resolvePython } from '../kernel/launcher.ts';

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

const SCRIPT = `
import json, sys, peragus_pysd
from peragus_pysd.errors import PeragusError
try:
    info = dict(peragus_pysd.load_model(sys.argv[1], confine_to="."))
    a = dict(peragus_pysd.analyze_model(info["model_id"]))
    info["analysis"] = {"graph": a.get("graph"), "units_check": a.get("units_check")}
    print("\\x1ePERAGUS" + json.dumps(info, default=str))
except PeragusError as e:
    print("\\x1eERROR" + json.dumps({"type": type(e).__name__, "message": str(e)}))
`;

import { PeragusError } from '../errors/index.ts';

export class ModelTranslationFailure extends PeragusError {
  constructor(
    message: string,
    readonly variable: string | null,
    readonly line: number | null,
  ) {
    super('untranslatable_model', message);
  }
}

/** Runs load + analyze in `dir` (the model's folder; PySD's translation cache lands under it). */
export function describeModel(dir: string, file: string, timeoutMs = 120_000): Promise<ModelDescription> {
  return new Promise((resolve, reject) => {
    const child = spawn(resolvePython(), ['-c', SCRIPT, file], {
      cwd: dir,
      env: { ...process.env, MPLBACKEND: 'Agg', PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const ok = out.lastIndexOf('\x1ePERAGUS');
      if (ok >= 0) {
        resolve(JSON.parse(out.slice(ok + 8)) as ModelDescription);
        return;
      }
      const bad = out.lastIndexOf('\x1eERROR');
      if (bad >= 0) {
        const e = JSON.parse(out.slice(bad + 6)) as { type: string; message: string };
        reject(new Error(e.message));
        return;
      }
      reject(
        new Error(
          `the model translator exited with code ${code}: ${err.trim().split('\n').slice(-3).join(' ')}`,
        ),
      );
    });
  });
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
