// `peragus rerun NOTEBOOK.src.md`: replays an exported notebook in a fresh
// session and reports, artifact by artifact, whether each checksum matches
// the one recorded in the outputs beside the notebook. Exit 1 on a mismatch.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeBundle } from '../../../srcmd/src/bundle.ts';
import type { Notebook, Output } from '../../../srcmd/src/nbformat.ts';
import { createNotebookServices } from '../app/notebook-services.ts';
import { RESULT_MIME } from '../pysd/result.ts';
import { copyReferencedInputs } from './rerun-inputs.ts';
import { formatTable } from './table.ts';

interface ArtifactRef {
  path: string;
  sha256: string;
}

/** Artifact references recorded by peragus_pysd results in a notebook's outputs. */
export function recordedArtifacts(outputs: Output[][]): ArtifactRef[] {
  const refs: ArtifactRef[] = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.path === 'string' && typeof o.sha256 === 'string')
        refs.push({ path: o.path, sha256: o.sha256 });
      else Object.values(o).forEach(visit);
    }
  };
  for (const list of outputs) {
    for (const o of list) {
      if ((o.output_type === 'display_data' || o.output_type === 'execute_result') && RESULT_MIME in o.data) {
        visit(o.data[RESULT_MIME]);
      }
    }
  }
  return refs;
}

/** The work dir the notebook was exported from: the parent of the nearest exports/ above it, else its folder. */
function inputsDir(notebookPath: string): string {
  for (let dir = dirname(notebookPath); dir !== dirname(dir); dir = dirname(dir)) {
    if (basename(dir) === 'exports') return dirname(dir);
  }
  return dirname(notebookPath);
}

export async function rerunCommand(argv: string[]): Promise<number | undefined> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { inputs: { type: 'string' }, json: { type: 'boolean' }, keep: { type: 'boolean' } },
  });
  const file = positionals[0];
  if (!file?.endsWith('.src.md'))
    throw new Error(
      'usage: peragus rerun NOTEBOOK.src.md [--inputs DIR] [--json] (see peragus rerun --help)',
    );
  if (!existsSync(file)) throw new Error(`${file} does not exist: give the path of an exported .src.md`);
  const srcmd = readFileSync(file, 'utf8');
  const outputsFile = file.replace(/\.src\.md$/, '.outputs.json');
  const outputs = existsSync(outputsFile) ? readFileSync(outputsFile, 'utf8') : null;
  const original: Notebook = decodeBundle(srcmd, outputs);
  const expected = recordedArtifacts(original.cells.map((c) => (c.cell_type === 'code' ? c.outputs : [])));

  // A fresh work dir holding the notebook's inputs (models, data), not its old results.
  const work = mkdtempSync(join(tmpdir(), 'peragus-rerun-'));
  const from = resolve(values.inputs ?? inputsDir(resolve(file)));
  const code = original.cells.filter((c) => c.cell_type === 'code').map((c) => c.source);
  const inputs = copyReferencedInputs(code, from, work);
  if (!values.json) {
    process.stderr.write(
      `rerun in ${work}: ${inputs.files.length} referenced input(s) copied from ${from}${inputs.files.length ? `: ${inputs.files.join(', ')}` : ''}\n`,
    );
  }
  const services = await createNotebookServices({ root: join(work, '.rerun'), poolSize: 0 });
  try {
    const session = await services.sessions.create({ name: original.title, work_dir: work });
    for (const cell of original.cells) {
      await session.addCell({
        id: cell.id,
        cell_type: cell.cell_type,
        source: cell.source,
        ...(cell.cell_type === 'code' && cell.filename ? { filename: cell.filename } : {}),
      });
    }
    const runs = await session.execute('all');
    const failed = runs.find((r) => r.status !== 'ok');
    if (failed) {
      process.stderr.write(
        `cell ${failed.cell_id} failed: ${failed.error?.ename}: ${failed.error?.evalue}\n`,
      );
    }
    const got = recordedArtifacts(runs.map((r) => r.outputs));
    const bySha = new Map(got.map((g) => [g.path, g.sha256]));
    const rows = expected.map((e) => {
      const now = bySha.get(e.path);
      return { path: e.path, expected: e.sha256, actual: now ?? null, match: now === e.sha256 };
    });
    const allMatch = !failed && rows.length > 0 && rows.every((r) => r.match);
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ match: allMatch, artifacts: rows, inputs: inputs.files }, null, 2)}\n`,
      );
    } else {
      const table = rows.map((r) => [
        r.path,
        r.match ? 'match' : 'MISMATCH',
        r.expected.slice(0, 12),
        r.actual?.slice(0, 12) ?? '(missing)',
      ]);
      process.stdout.write(`${formatTable(['artifact', 'checksum', 'recorded', 'rerun'], table)}\n`);
      process.stdout.write(
        rows.length === 0
          ? 'no artifact checksums recorded in this notebook: nothing to compare\n'
          : `${allMatch ? 'all' : 'NOT all'} ${rows.length} artifact checksums match\n`,
      );
    }
    return allMatch ? 0 : 1;
  } finally {
    await services.close();
    if (!values.keep) rmSync(work, { recursive: true, force: true });
  }
}
