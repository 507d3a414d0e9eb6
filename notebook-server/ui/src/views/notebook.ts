// One experiment's notebook: cells with live outputs, editing, run/interrupt,
// export. Every change goes through the server; events (from this page or an
// MCP agent) update the view, so both sides see the same notebook.
import type { Cell, Output } from '../../../../srcmd/src/nbformat.ts';
import { api, download, events, type SessionDetail, type SessionEvent } from '../api.ts';
import { clear, h } from '../dom.ts';
import { applyChunk, renderOutput } from '../outputs.ts';
import { progressBar, stateBadge } from './widgets.ts';

type RunStatus = 'idle' | 'queued' | 'running' | 'ok' | 'error' | 'cancelled';

interface CellView {
  cell: Cell;
  root: HTMLElement;
  editor: HTMLTextAreaElement;
  status: HTMLElement;
  count: HTMLElement;
  outputs: HTMLElement;
  dirty: boolean;
  /** The outputs last drawn, so unchanged outputs (and their charts) are not redrawn. */
  drawn: string;
  /** The "show all / fold" toggle of a long output, and whether it is unfolded. */
  fold?: HTMLElement;
  unfolded?: boolean;
}

const FOLD_PX = 420;

export function notebookView(root: HTMLElement, sessionId: string): () => void {
  let detail: SessionDetail | null = null;
  const views = new Map<string, CellView>();
  const header = h('div', { class: 'nb-header' });
  const cellsBox = h('div', { class: 'cells' });
  const errorBox = h('div', { class: 'error-banner', hidden: true });
  clear(root);
  root.append(header, errorBox, cellsBox);

  const fail = (err: unknown) => {
    errorBox.hidden = false;
    errorBox.textContent = err instanceof Error ? err.message : String(err);
    setTimeout(() => {
      errorBox.hidden = true;
    }, 6000);
  };

  const runStatus = (id: string): RunStatus => {
    if (!detail) return 'idle';
    if (detail.running_cell_id === id) return 'running';
    if (detail.queued_cell_ids.includes(id)) return 'queued';
    return (detail.runs[id]?.status as RunStatus | undefined) ?? 'idle';
  };

  async function save(v: CellView): Promise<void> {
    if (!v.dirty) return;
    const source = v.editor.value;
    v.dirty = false;
    if (source !== v.cell.source) await api.updateCell(sessionId, v.cell.id, { source });
  }

  async function run(v: CellView): Promise<void> {
    await save(v);
    await api.execute(sessionId, v.cell.id);
  }

  function renderOutputs(v: CellView): void {
    const outputs = v.cell.cell_type === 'code' ? v.cell.outputs : [];
    const key = JSON.stringify(outputs);
    if (key === v.drawn) return;
    v.drawn = key;
    clear(v.outputs);
    for (const o of outputs) v.outputs.append(renderOutput(o, { sessionId }));
    requestAnimationFrame(() => foldLong(v));
  }

  /** Long outputs fold to a few hundred pixels, with a toggle to show them whole. */
  function foldLong(v: CellView): void {
    v.fold?.remove();
    v.fold = undefined;
    if (v.outputs.scrollHeight <= FOLD_PX) {
      v.outputs.classList.remove('folded');
      return;
    }
    v.outputs.classList.toggle('folded', !v.unfolded);
    const toggle = h('button', { class: 'fold-toggle' }, v.unfolded ? 'Fold output' : 'Show all output');
    toggle.addEventListener('click', () => {
      v.unfolded = !v.unfolded;
      v.outputs.classList.toggle('folded', !v.unfolded);
      toggle.textContent = v.unfolded ? 'Fold output' : 'Show all output';
    });
    v.outputs.after(toggle);
    v.fold = toggle;
  }

  const collapsedKey = (cellId: string) => `peragus_collapsed:${sessionId}:${cellId}`;

  async function move(v: CellView, delta: number): Promise<void> {
    const cells = detail?.cells ?? [];
    const at = cells.findIndex((c) => c.id === v.cell.id);
    const to = at + delta;
    if (at < 0 || to < 0 || to >= cells.length) return;
    await api.updateCell(sessionId, v.cell.id, { index: to });
  }

  function renderStatus(v: CellView): void {
    const s = runStatus(v.cell.id);
    v.root.dataset.status = s;
    v.status.textContent = s === 'idle' ? '' : s;
    v.status.className = `cell-status st-${s}`;
    const n = v.cell.cell_type === 'code' ? v.cell.execution_count : null;
    v.count.textContent = v.cell.cell_type === 'code' ? `[${s === 'running' ? '*' : (n ?? ' ')}]` : 'md';
  }

  function makeView(cell: Cell): CellView {
    const editor = h('textarea', { class: 'editor', spellcheck: 'false', rows: 1 });
    editor.value = cell.source;
    const status = h('span', { class: 'cell-status' });
    const count = h('span', { class: 'count' });
    const outputs = h('div', { class: 'outputs' });
    const v: CellView = { cell, root: h('div'), editor, status, count, outputs, dirty: false, drawn: '' };
    // Code cells are renamed in place (the srcmd `###### name.py`).
    const label =
      cell.cell_type === 'code'
        ? h('input', {
            type: 'text',
            class: 'filename-input',
            value: cell.filename ?? '',
            placeholder: 'name.py',
            title: 'Cell name (press Enter to rename)',
          })
        : h('span', { class: 'filename' }, 'markdown');
    if (label instanceof HTMLInputElement) {
      const rename = () => {
        const name = label.value.trim();
        if (v.cell.cell_type === 'code' && name && name !== (v.cell.filename ?? '')) {
          api.updateCell(sessionId, v.cell.id, { filename: name }).catch(fail);
        }
      };
      label.addEventListener('change', rename);
      label.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') label.blur();
      });
    }
    const collapseBtn = h('button', { class: 'collapse', title: 'Collapse / expand the cell' }, '▾');
    const setCollapsed = (on: boolean) => {
      v.root.classList.toggle('collapsed', on);
      collapseBtn.textContent = on ? '▸' : '▾';
      if (on) localStorage.setItem(collapsedKey(cell.id), '1');
      else localStorage.removeItem(collapsedKey(cell.id));
    };
    collapseBtn.addEventListener('click', () => setCollapsed(!v.root.classList.contains('collapsed')));
    const upBtn = h(
      'button',
      { class: 'move-up', title: 'Move up', onclick: () => move(v, -1).catch(fail) },
      '↑',
    );
    const downBtn = h(
      'button',
      { class: 'move-down', title: 'Move down', onclick: () => move(v, 1).catch(fail) },
      '↓',
    );
    const runBtn = h(
      'button',
      { class: 'run', title: 'Run (Shift+Enter)', onclick: () => run(v).catch(fail) },
      '▶ Run',
    );
    const delBtn = h(
      'button',
      {
        class: 'delete',
        title: 'Delete cell',
        onclick: () => api.deleteCell(sessionId, cell.id).catch(fail),
      },
      '✕',
    );
    v.root = h(
      'div',
      { class: `cell cell-${cell.cell_type}`, 'data-cell-id': cell.id },
      h('div', { class: 'cell-bar' }, collapseBtn, count, label, status, upBtn, downBtn, runBtn, delBtn),
      editor,
      outputs,
    );
    if (localStorage.getItem(collapsedKey(cell.id))) setCollapsed(true);
    const autosize = () => {
      editor.style.height = 'auto';
      editor.style.height = `${editor.scrollHeight + 2}px`;
    };
    editor.addEventListener('input', () => {
      v.dirty = true;
      autosize();
    });
    editor.addEventListener('blur', () => save(v).catch(fail));
    editor.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.shiftKey) {
        e.preventDefault();
        run(v).catch(fail);
      }
    });
    requestAnimationFrame(autosize);
    renderOutputs(v);
    renderStatus(v);
    return v;
  }

  function renderHeader(): void {
    if (!detail) return;
    clear(header);
    const d = detail;
    header.append(
      h('h1', {}, d.name),
      h(
        'div',
        { class: 'nb-meta' },
        `experiment ${d.experiment_id} · session ${d.id} · `,
        stateBadge(d.state),
      ),
      progressBar(d.progress),
      h(
        'div',
        { class: 'toolbar' },
        h('button', { onclick: () => addCell('code') }, '+ Code'),
        h('button', { onclick: () => addCell('markdown') }, '+ Markdown'),
        h(
          'button',
          { class: 'run-all', onclick: () => api.execute(sessionId, 'all').catch(fail) },
          '▶▶ Run all',
        ),
        h(
          'button',
          { class: 'interrupt', onclick: () => api.interrupt(sessionId).catch(fail) },
          '■ Interrupt',
        ),
        h('button', { onclick: () => api.restart(sessionId).catch(fail) }, '↻ Restart'),
        h('button', { onclick: () => download(sessionId, 'srcmd').catch(fail) }, 'Export .src.md'),
        h('button', { onclick: () => download(sessionId, 'ipynb').catch(fail) }, 'Export .ipynb'),
      ),
    );
  }

  async function addCell(cellType: 'code' | 'markdown'): Promise<void> {
    try {
      const cell = await api.addCell(sessionId, { cell_type: cellType, source: '' });
      await refresh();
      views.get(cell.id)?.editor.focus();
    } catch (err) {
      fail(err);
    }
  }

  /** Reconciles the view with a fresh snapshot; a cell being edited keeps the user's text. */
  function reconcile(next: SessionDetail): void {
    const first = detail === null;
    detail = next;
    events.seen(sessionId, next.seq);
    renderHeader();
    const ids = new Set(next.cells.map((c) => c.id));
    for (const [id, v] of views) {
      if (!ids.has(id)) {
        v.root.remove();
        views.delete(id);
      }
    }
    let prev: HTMLElement | null = null;
    for (const cell of next.cells) {
      let v = views.get(cell.id);
      if (!v) {
        v = makeView(cell);
        views.set(cell.id, v);
      } else {
        if (!v.dirty && v.editor.value !== cell.source) {
          v.editor.value = cell.source;
          v.editor.dispatchEvent(new Event('input'));
          v.dirty = false;
        }
        v.cell = cell;
        const input = v.root.querySelector<HTMLInputElement>('.filename-input');
        if (input && cell.cell_type === 'code' && document.activeElement !== input)
          input.value = cell.filename ?? '';
        renderOutputs(v);
        renderStatus(v);
      }
      const want: ChildNode | null = prev ? prev.nextSibling : cellsBox.firstChild;
      if (want !== v.root) cellsBox.insertBefore(v.root, want);
      prev = v.root;
    }
    if (first) for (const e of early.splice(0)) onEvent(e);
  }

  let refreshing: Promise<void> | null = null;
  let again = false;
  /** Coalesces bursts of refresh requests into at most one fetch in flight plus one after it. */
  function refresh(): Promise<void> {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = api
      .session(sessionId)
      .then(reconcile)
      .catch(fail)
      .finally(() => {
        refreshing = null;
        if (again) {
          again = false;
          void refresh();
        }
      });
    return refreshing;
  }

  // Events that arrive before the first snapshot are held, then applied if newer than it.
  const early: SessionEvent[] = [];

  function onEvent(e: SessionEvent): void {
    if (e.session_id !== sessionId) return;
    if (!detail) {
      early.push(e);
      return;
    }
    if (e.seq <= detail.seq) return;
    detail.seq = e.seq;
    const v = e.cell_id ? views.get(e.cell_id) : undefined;
    switch (e.type) {
      case 'notebook.cell.executing':
        detail.running_cell_id = e.cell_id;
        detail.queued_cell_ids = detail.queued_cell_ids.filter((id) => id !== e.cell_id);
        if (v && v.cell.cell_type === 'code') {
          v.cell.outputs = [];
          renderOutputs(v);
        }
        if (v) renderStatus(v);
        break;
      case 'notebook.cell.output':
        if (v && v.cell.cell_type === 'code') {
          applyChunk(v.cell.outputs as Output[], e.output, e.output_index);
          renderOutputs(v);
        }
        break;
      case 'notebook.cell.completed':
      case 'notebook.error':
        void refresh();
        break;
      case 'notebook.state.changed':
        detail.state = e.state;
        detail.running_cell_id = e.running_cell_id;
        detail.queued_cell_ids = e.queued_cell_ids;
        if (e.reason && /^cell_|^import|^reopened/.test(e.reason)) void refresh();
        renderHeader();
        for (const cv of views.values()) renderStatus(cv);
        break;
      case 'experiment.progress':
        detail.progress = {
          progress: e.progress,
          total: e.total,
          message: e.message,
          cell_id: e.cell_id,
          seq: e.seq,
        };
        renderHeader();
        break;
    }
  }

  const unsubscribe = events.subscribe(onEvent);
  void refresh();
  return unsubscribe;
}
