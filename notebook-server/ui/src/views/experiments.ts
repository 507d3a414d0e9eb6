// Experiments list: every notebook session with live state and progress.
import { api, events, type SessionEvent, type SessionSummary } from '../api.ts';
import { ago, clear, h } from '../dom.ts';
import { wb } from '../wb-api.ts';
import { progressBar, stateBadge } from './widgets.ts';

export function experimentsView(root: HTMLElement): () => void {
  const table = h('tbody');
  const nameInput = h('input', { type: 'text', placeholder: 'new notebook name', class: 'new-name' });
  const message = h('div', { class: 'error-banner', hidden: true });
  clear(root);
  root.append(
    h('h1', {}, 'Experiments'),
    h(
      'form',
      {
        class: 'new-session',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const name = nameInput.value.trim();
          if (!name) return;
          api
            .createSession(name)
            .then((s) => {
              location.hash = `#/s/${s.id}`;
            })
            .catch((err: Error) => {
              message.hidden = false;
              message.textContent = err.message;
            });
        },
      },
      nameInput,
      h('button', { type: 'submit' }, 'New notebook'),
    ),
    message,
    h(
      'table',
      { class: 'sessions' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Notebook', 'Experiment', 'State', 'Progress', 'Cells', 'Errors', 'Updated'].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      table,
    ),
  );

  /** The empty state offers the example notebooks and models instead of a blank page. */
  const examples = h('div', { class: 'empty-examples' });
  const emptyState = () => examples;
  wb.examples()
    .then((ex) => {
      examples.replaceChildren(
        h(
          'p',
          {},
          'No notebooks yet. Start from an example, or upload a model on the ',
          h('a', { href: '#/models' }, 'Models'),
          ' page.',
        ),
        h(
          'div',
          { class: 'example-list' },
          ...ex.notebooks.map((n) =>
            h(
              'button',
              {
                class: 'open-example',
                'data-example': n.name,
                onclick: () =>
                  wb
                    .openExample(n.name)
                    .then((s) => {
                      location.hash = `#/s/${s.session_id}`;
                    })
                    .catch((err: Error) => {
                      message.hidden = false;
                      message.textContent = err.message;
                    }),
              },
              `Open “${n.title}”`,
            ),
          ),
          ...ex.models.map((m) =>
            h(
              'button',
              {
                class: 'example-model',
                onclick: () =>
                  wb
                    .addExample(m.filename)
                    .then((mm) => {
                      location.hash = `#/m/${mm.model_id}`;
                    })
                    .catch((err: Error) => {
                      message.hidden = false;
                      message.textContent = err.message;
                    }),
              },
              `Model ${m.filename}`,
            ),
          ),
        ),
      );
    })
    .catch(() => examples.append('No notebooks yet.'));
  const rows = new Map<string, SessionSummary>();
  const render = () => {
    clear(table);
    const list = [...rows.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
    if (list.length === 0) table.append(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, emptyState())));
    for (const s of list) {
      table.append(
        h(
          'tr',
          { 'data-session-id': s.id, class: 'session-row' },
          h('td', {}, h('a', { href: `#/s/${s.id}` }, s.name)),
          h('td', { class: 'mono' }, s.experiment_id),
          h('td', {}, stateBadge(s.state)),
          h('td', {}, progressBar(s.progress)),
          h('td', { class: 'num' }, String(s.cell_count)),
          h('td', { class: 'num' }, s.error_count ? String(s.error_count) : ''),
          h('td', { title: s.updated_at }, ago(s.updated_at)),
        ),
      );
    }
  };

  let timer: ReturnType<typeof setTimeout> | null = null;
  const load = () => {
    timer = null;
    api
      .sessions()
      .then((list) => {
        rows.clear();
        for (const s of list) {
          rows.set(s.id, s);
          events.seen(s.id, s.seq);
        }
        render();
      })
      .catch((err: Error) => {
        message.hidden = false;
        message.textContent = err.message;
      });
  };
  /** Bursts of events (a sweep streams many) cost one refetch. */
  const soon = () => {
    timer ??= setTimeout(load, 250);
  };

  const onEvent = (e: SessionEvent) => {
    const s = rows.get(e.session_id);
    if (!s) return soon();
    if (e.type === 'notebook.state.changed') {
      s.state = e.state;
      s.running_cell_id = e.running_cell_id;
      if (e.reason === 'deleted' || e.state === 'closed' || e.reason?.startsWith('cell_')) soon();
    } else if (e.type === 'experiment.progress') {
      s.progress = {
        progress: e.progress,
        total: e.total,
        message: e.message,
        cell_id: e.cell_id,
        seq: e.seq,
      };
    } else if (e.type === 'notebook.cell.completed') {
      soon();
    }
    s.updated_at = e.timestamp;
    render();
  };

  const unsubscribe = events.subscribe(onEvent);
  load();
  const tick = setInterval(render, 30_000);
  return () => {
    unsubscribe();
    clearInterval(tick);
    if (timer) clearTimeout(timer);
  };
}
