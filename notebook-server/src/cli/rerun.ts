// `peragus rerun NOTEBOOK.src.md`: replays an exported notebook in a fresh
// session and reports, artifact by artifact, whether each checksum matches
// the one recorded in the outputs beside the notebook. Exit 1 on a mismatch.
// With a host running on the home the session is the host's (the browser sees
// it run; deleted afterwards unless --keep); otherwise it runs in-process.
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeBundle } from '../../../srcmd/src/bundle.ts';
import type { Notebook, Output } from '../../../srcmd/src/nbformat.ts';
import { createNotebookServices, type NotebookServices } from '../app/notebook-services.ts';
import { sandboxedKernels } from '../app/session-kernels.ts';
import type { ArtifactRef as FullArtifactRef } from '../artifacts/index.ts';
import type { HostAddress } from '../hostlink/address.ts';
import { connectHost } from '../hostlink/client.ts';
import { findHostOrSay } from '../hostlink/find.ts';
import { newCellFrom } from '../notebook/cells.ts';
import { RESULT_MIME } from '../pysd/result.ts';
import { LocalRuntime } from '../runtime/local.ts';
import type { CliContext } from './context.ts';
import { copyReferencedInputs } from './rerun-inputs.ts';
import { formatTable } from './table.ts';

type ArtifactRef = Pick<FullArtifactRef, 'path' | 'sha256'>;

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

interface Replay {
  /** Outputs of every code cell of the rerun. */
  outputs: Output[][];
  /** Why the rerun failed (a cell's error), or null. */
  failure: string | null;
  /** Inputs copied, relative to the inputs dir. */
  inputs: string[];
  /** Where it ran: a work dir, and the host when there is one. */
  where: string;
  cleanup(): Promise<void>;
}

/**
 * In this process, in a temporary work dir (no home needed). The notebook's code is whoever wrote
 * it: its kernel runs in a sandbox of its own, as a host's would (app/session-kernels.ts).
 */
async function replayHere(original: Notebook, code: string[], from: string, keep: boolean): Promise<Replay> {
  const work = mkdtempSync(join(tmpdir(), 'peragus-rerun-'));
  // The sandbox hides its runtime's home: one of its own, apart from the work dir it shows.
  const home = mkdtempSync(join(tmpdir(), 'peragus-rerun-home-'));
  const local = new LocalRuntime({ home });
  const kernels = sandboxedKernels(local);
  const sandboxed = 'sandboxed' in kernels ? kernels.sandboxed : undefined;
  if (sandboxed?.owner) chownSync(work, sandboxed.owner.uid, sandboxed.owner.gid);
  if ('unsandboxed' in kernels)
    process.stderr.write(
      `peragus rerun: the notebook's code runs unsandboxed, as you: ${kernels.unsandboxed}\n`,
    );
  let services: NotebookServices | undefined;
  const cleanup = async () => {
    await services?.close();
    await local.close();
    rmSync(home, { recursive: true, force: true });
    if (!keep) rmSync(work, { recursive: true, force: true });
  };
  let inputs: string[];
  try {
    inputs = copyReferencedInputs(code, from, work).files;
    services = await createNotebookServices({
      root: join(work, '.rerun'),
      poolSize: 0,
      ...(sandboxed ? { kernelSource: sandboxed.start, fileOwner: sandboxed.owner } : {}),
    });
  } catch (err) {
    await cleanup();
    throw err;
  }
  try {
    const session = await services.sessions.create({ name: original.title, work_dir: work });
    for (const cell of original.cells) {
      await session.addCell({ id: cell.id, ...newCellFrom(cell) });
    }
    const runs = await session.execute('all');
    const bad = runs.find((r) => r.status !== 'ok');
    const failure = bad ? `cell ${bad.cell_id} failed: ${bad.error?.ename}: ${bad.error?.evalue}` : null;
    return { outputs: runs.map((r) => r.outputs), failure, inputs, where: work, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** On the running host, in a session of its own (the browser sees the rerun run). */
async function replayOnHost(
  address: HostAddress,
  srcmd: string,
  code: string[],
  from: string,
  keep: boolean,
): Promise<Replay> {
  const client = await connectHost(address);
  let sessionId: string | undefined;
  const cleanup = async () => {
    if (sessionId && !keep)
      await client.call('notebook_delete', { session_id: sessionId }).catch(() => undefined);
    await client.close();
  };
  try {
    const created = await client.call('notebook_import', { format: 'srcmd', content: srcmd });
    sessionId = String(created.session_id);
    const work = String(created.work_dir);
    const inputs = copyReferencedInputs(code, from, work).files;
    const ran = await client.call('cell_execute', { session_id: sessionId, cell_id: 'all' });
    const runs = (ran.runs ?? []) as {
      cell_id: string;
      status: string;
      error?: { ename?: string; evalue?: string };
    }[];
    const bad = runs.find((r) => r.status !== 'ok');
    const failure = bad ? `cell ${bad.cell_id} failed: ${bad.error?.ename}: ${bad.error?.evalue}` : null;
    const exported = await client.call('notebook_export', {
      session_id: sessionId,
      format: 'json',
      path: 'exports/rerun.json',
    });
    const path = (exported.artifacts as { path: string }[])[0]?.path ?? 'exports/rerun.json';
    const nb = JSON.parse(readFileSync(join(work, path), 'utf8')) as Notebook;
    const outputs = nb.cells.map((c) => (c.cell_type === 'code' ? c.outputs : []));
    return { outputs, failure, inputs, where: `${work} on the host ${address.url}`, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

export async function rerunCommand(argv: string[], cli: CliContext): Promise<number | undefined> {
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

  const from = resolve(values.inputs ?? inputsDir(resolve(file)));
  const code = original.cells.filter((c) => c.cell_type === 'code').map((c) => c.source);
  const address = await findHostOrSay(cli.config.home, cli.log);
  const replay = address
    ? await replayOnHost(address, srcmd, code, from, !!values.keep)
    : await replayHere(original, code, from, !!values.keep);
  if (!values.json) {
    const n = replay.inputs.length;
    cli.log.info(
      `rerun in ${replay.where}: ${n} referenced input(s) copied from ${from}${n ? `: ${replay.inputs.join(', ')}` : ''}`,
    );
  }
  try {
    const failed = replay.failure;
    if (failed) cli.log.error(failed);
    const got = recordedArtifacts(replay.outputs);
    const bySha = new Map(got.map((g) => [g.path, g.sha256]));
    const rows = expected.map((e) => {
      const now = bySha.get(e.path);
      return { path: e.path, expected: e.sha256, actual: now ?? null, match: now === e.sha256 };
    });
    const allMatch = !failed && rows.length > 0 && rows.every((r) => r.match);
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ match: allMatch, artifacts: rows, inputs: replay.inputs, where: replay.where }, null, 2)}\n`,
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
    await replay.cleanup();
  }
}
