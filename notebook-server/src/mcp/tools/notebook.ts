// notebook_* and cell_* tools over the SessionManager. Routable: on the host,
// a call naming a container runs in that container's node server instead.
import { decodeBundle } from '../../../../srcmd/src/bundle.ts';
import { decodeSrcmd } from '../../../../srcmd/src/decode.ts';
import type { Notebook } from '../../../../srcmd/src/nbformat.ts';
import { readInside } from '../../confine/fs.ts';
import type { EventBus } from '../../notebook/events.ts';
import { exportNotebook } from '../../notebook/export.ts';
import type { CellRunResult } from '../../notebook/run.ts';
import type { Session } from '../../notebook/session.ts';
import { NodeTools } from '../../schemas/node-tools.ts';
import { SessionName } from '../../schemas/notebook-tools.ts';
import type { NotebookContext } from '../context.ts';
import { artifactLinks } from '../links.ts';
import { summarizeOutputs } from '../outputs.ts';
import { defineTool, type ToolCall, type ToolDef, ToolInputError } from '../tool.ts';
import { watchSessionProgress } from './progress.ts';

/** Session.info() as the tools show it: the id as session_id, a cell count instead of the cells. */
export function sessionSummary(session: Session) {
  const { id, cells, seq: _seq, notebook_file: _file, runs: _runs, ...fields } = session.info();
  return { session_id: id, ...fields, cell_count: cells.length };
}

export function runSummary(session: Session, run: CellRunResult) {
  return {
    cell_id: run.cell_id,
    status: run.status,
    execution_count: run.execution_count,
    duration_ms: run.duration_ms,
    ...(run.error
      ? { error: { kind: run.error.kind, ename: run.error.ename, evalue: run.error.evalue } }
      : {}),
    outputs: summarizeOutputs(run.outputs, session.workDir, run.cell_id, session.fileOwner),
  };
}

/** Runs cells with progress notifications tied to the session's events. */
export async function executeWithProgress(
  events: EventBus,
  session: Session,
  target: string,
  timeoutMs: number | undefined,
  call: ToolCall,
): Promise<CellRunResult[]> {
  if (call.signal.aborted) throw new ToolInputError('the call was cancelled before the cell ran');
  const stop = watchSessionProgress(events, session, call);
  const onAbort = () => void session.stop();
  call.signal.addEventListener('abort', onAbort);
  try {
    const opts = timeoutMs !== undefined ? { timeoutMs } : {};
    const runs =
      target === 'all' ? await session.execute('all', opts) : [await session.execute(target, opts)];
    // A cell that ran but could not be saved fails the call: the caller must know its record is not on disk.
    const unsaved = runs.find((r) => r.persist_error);
    if (unsaved) {
      throw new ToolInputError(
        `cell ${unsaved.cell_id} ran (${unsaved.status}) but the notebook could not be saved: ${unsaved.persist_error}`,
      );
    }
    return runs;
  } finally {
    call.signal.removeEventListener('abort', onAbort);
    stop();
  }
}

/** Runs one generated cell and returns its run, or throws its Python error. */
export async function runCodeCell(
  events: EventBus,
  session: Session,
  source: string,
  filename: string,
  call: ToolCall,
  timeoutMs?: number,
): Promise<{ cell_id: string; run: CellRunResult }> {
  const cell = await session.addCell({ cell_type: 'code', source, filename });
  const [run] = await executeWithProgress(events, session, cell.id, timeoutMs, call);
  if (!run) throw new Error('the cell did not run');
  if (run.status !== 'ok') {
    const e = run.error;
    const detail = e ? `${e.ename}: ${e.evalue}` : run.status;
    throw new ToolInputError(`${filename} (cell ${cell.id}) failed: ${detail}`);
  }
  return { cell_id: cell.id, run };
}

/**
 * In a container, sessions of the container's own experiment work in the
 * experiment volume itself, so their artifact paths are paths under /experiment.
 */
function createOptions(ctx: NotebookContext, name: string, experimentId: string | undefined) {
  return {
    name,
    ...(experimentId ? { experiment_id: experimentId } : {}),
    ...(ctx.role === 'node' && experimentId !== undefined && experimentId === ctx.defaultExperimentId
      ? { work_dir: ctx.workDir }
      : {}),
  };
}

async function importNotebook(ctx: NotebookContext, args: Record<string, unknown>, nb: Notebook) {
  const name = (args.name as string | undefined) ?? nb.title;
  // The title stands in for a name: it must be one (no NUL, "/" or "../").
  if (!SessionName.safeParse(name).success) {
    throw new ToolInputError(
      `name: the notebook title ${JSON.stringify(name.slice(0, 80))} cannot be a session name (letters, digits, spaces, ".", "_" and "-" only); pass name explicitly`,
    );
  }
  const experimentId = (args.experiment_id as string | undefined) ?? ctx.defaultExperimentId;
  const session = await ctx.sessions.create(createOptions(ctx, name, experimentId));
  for (const cell of nb.cells) {
    await session.addCell({
      id: cell.id,
      cell_type: cell.cell_type,
      source: cell.source,
      ...(cell.cell_type === 'code' && cell.filename !== undefined ? { filename: cell.filename } : {}),
      metadata: cell.metadata,
    });
  }
  return session;
}

export function notebookTools(ctx: NotebookContext): ToolDef[] {
  const sessions = ctx.sessions;
  return [
    defineTool({
      name: 'notebook_create',
      ...NodeTools.notebook_create,
      description:
        'Create a notebook session (one Python PySD kernel) for an experiment. Returns session_id; every later call names it. With container_id it runs in that container.',
      hints: { readOnly: false, destructive: false, idempotent: false, openWorld: false },
      routable: true,
      handler: async (args) => {
        // In a container the node's own experiment is the default.
        const experimentId = args.experiment_id ?? ctx.defaultExperimentId;
        const session = await sessions.create(createOptions(ctx, args.name, experimentId));
        return sessionSummary(session);
      },
    }),
    defineTool({
      name: 'notebook_list',
      ...NodeTools.notebook_list,
      description: 'List notebook sessions (of the host, or of one container) with their kernel state.',
      hints: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
      routable: true,
      handler: async () => ({ sessions: sessions.list().map(sessionSummary) }),
    }),
    defineTool({
      name: 'notebook_delete',
      ...NodeTools.notebook_delete,
      description:
        "Delete a session: stops its kernel and removes its saved state (the work dir's files stay).",
      hints: { readOnly: false, destructive: true, idempotent: true, openWorld: false },
      routable: true,
      handler: async (args) => {
        await sessions.delete(args.session_id);
        return { deleted: args.session_id };
      },
    }),
    defineTool({
      name: 'notebook_import',
      ...NodeTools.notebook_import,
      description:
        'Create a session from a srcmd (.src.md) or ipynb notebook, given as content or a path in the work dir. Run it with cell_execute {cell_id: "all"}.',
      hints: { readOnly: false, destructive: false, idempotent: false, openWorld: true },
      routable: true,
      handler: async (args) => {
        let text = args.content;
        if (text === undefined) {
          if (!args.path) throw new ToolInputError('notebook_import needs content or path');
          text = readInside(ctx.workDir, args.path, { where: 'the work dir' }).toString('utf8');
        }
        let nb: Notebook;
        if (args.format === 'ipynb') {
          const { fromIpynb } = await import('../../../../srcmd/src/ipynb.ts');
          nb = fromIpynb(text);
        } else {
          nb = args.outputs ? decodeBundle(text, args.outputs) : decodeSrcmd(text);
        }
        const session = await importNotebook(ctx, args, nb);
        return sessionSummary(session);
      },
    }),
    defineTool({
      name: 'notebook_export',
      ...NodeTools.notebook_export,
      description:
        'Export a session as srcmd (with outputs JSON beside it), ipynb, json or markdown into its work dir. Returns artifact references and resource links (peragus:// URIs); the text itself only with inline: true.',
      hints: { readOnly: false, destructive: true, idempotent: true, openWorld: false },
      routable: true,
      handler: async (args) => {
        const session = sessions.get(args.session_id);
        return artifactLinks(session.id, await exportNotebook(session, args.format, args.path, args.inline));
      },
    }),
    defineTool({
      name: 'cell_add',
      ...NodeTools.cell_add,
      description: 'Add a code or markdown cell (default: at the end); optionally run it (execute: true).',
      hints: { readOnly: false, destructive: false, idempotent: false, openWorld: false },
      routable: true,
      handler: async (args, call) => {
        const session = sessions.get(args.session_id);
        const position =
          args.after !== undefined
            ? { after: args.after }
            : args.index !== undefined
              ? { index: args.index }
              : undefined;
        const cell = await session.addCell(
          {
            cell_type: args.cell_type,
            source: args.source,
            ...(args.filename !== undefined ? { filename: args.filename } : {}),
          },
          position,
        );
        if (!args.execute || cell.cell_type !== 'code')
          return { cell_id: cell.id, cell_type: cell.cell_type };
        const [run] = await executeWithProgress(ctx.events, session, cell.id, args.timeout_ms, call);
        return { cell_id: cell.id, cell_type: cell.cell_type, run: run ? runSummary(session, run) : null };
      },
    }),
    defineTool({
      name: 'cell_update',
      ...NodeTools.cell_update,
      description: "Change a cell's source or filename (a changed source clears its outputs).",
      hints: { readOnly: false, destructive: true, idempotent: true, openWorld: false },
      routable: true,
      handler: async (args) => {
        const session = sessions.get(args.session_id);
        const patch = {
          ...(args.source !== undefined ? { source: args.source } : {}),
          ...(args.filename !== undefined ? { filename: args.filename } : {}),
        };
        const cell = await session.updateCell(args.cell_id, patch);
        return { cell_id: cell.id, cell_type: cell.cell_type };
      },
    }),
    defineTool({
      name: 'cell_delete',
      ...NodeTools.cell_delete,
      description: 'Delete a cell from the session (its outputs go with it).',
      hints: { readOnly: false, destructive: true, idempotent: true, openWorld: false },
      routable: true,
      handler: async (args) => {
        await sessions.get(args.session_id).deleteCell(args.cell_id);
        return { deleted: args.cell_id };
      },
    }),
    defineTool({
      name: 'cell_execute',
      ...NodeTools.cell_execute,
      description:
        'Run one cell, or "all" code cells in order (stops at the first error). Returns each run with summarized outputs; images become artifacts.',
      hints: { readOnly: false, destructive: false, idempotent: false, openWorld: true },
      routable: true,
      handler: async (args, call) => {
        const session = sessions.get(args.session_id);
        const runs = await executeWithProgress(ctx.events, session, args.cell_id, args.timeout_ms, call);
        const summaries = runs.map((r) => runSummary(session, r));
        const failed = summaries.filter((r) => r.status !== 'ok').length;
        return { session_id: session.id, ran: summaries.length, failed, runs: summaries };
      },
    }),
    defineTool({
      name: 'cell_interrupt',
      ...NodeTools.cell_interrupt,
      description: 'Interrupt the running cell and cancel the queued ones.',
      hints: { readOnly: false, destructive: false, idempotent: true, openWorld: false },
      routable: true,
      handler: async (args) => {
        const session = sessions.get(args.session_id);
        const cancelled = session.cancel();
        const interrupted = await session.interrupt();
        return { interrupted, cancelled };
      },
    }),
    defineTool({
      name: 'notebook_restart',
      ...NodeTools.notebook_restart,
      description:
        'Restart a session\'s kernel (also a dead or crashed one): a fresh Python process, so variables and loaded models are gone; cells and outputs stay. Run cell_execute {cell_id: "all"} to rebuild the state.',
      hints: { readOnly: false, destructive: true, idempotent: false, openWorld: false },
      routable: true,
      handler: async (args) => {
        const session = sessions.get(args.session_id);
        await session.restart();
        return { ...sessionSummary(session), restarted: true };
      },
    }),
  ];
}
