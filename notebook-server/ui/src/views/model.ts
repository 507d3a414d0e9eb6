// A model page: its stocks, flows, auxiliaries and constants (units, the
// ranges Vensim records, documentation, values), time settings, and the
// experiment form built from its constants.
import { clear, h } from '../dom.ts';
import { type ModelDescription, wb } from '../wb-api.ts';
import { designForm } from './design-form.ts';

type El = ModelDescription['constants'][number];

function range(l: El['limits']): string {
  if (!l) return '';
  return `[${l[0] ?? '?'}, ${l[1] ?? '?'}]`;
}

function table(title: string, items: El[], extra?: { head: string; cell: (e: El) => string }): HTMLElement {
  if (items.length === 0) return h('div');
  return h(
    'section',
    { class: `model-section model-${title.toLowerCase()}` },
    h('h2', {}, `${title} (${items.length})`),
    h(
      'table',
      { class: 'elements' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'Name'),
          h('th', {}, 'Units'),
          h('th', {}, 'Range'),
          extra ? h('th', {}, extra.head) : null,
          h('th', {}, 'Documentation'),
        ),
      ),
      h(
        'tbody',
        {},
        ...items.map((e) =>
          h(
            'tr',
            { 'data-name': e.name },
            h('td', {}, h('strong', {}, e.name), h('div', { class: 'muted mono' }, e.py_name)),
            h('td', {}, e.units ?? ''),
            h('td', { class: 'mono' }, range(e.limits)),
            extra ? h('td', { class: 'num' }, extra.cell(e)) : null,
            h('td', { class: 'doc' }, e.doc ?? ''),
          ),
        ),
      ),
    ),
  );
}

export function modelView(root: HTMLElement, id: string): () => void {
  clear(root);
  root.append(h('div', { class: 'muted' }, 'loading model…'));
  wb.model(id)
    .then((m) => {
      const d = m.description;
      const t = d.time;
      clear(root);
      root.append(
        h('h1', { class: 'model-title' }, m.filename),
        h(
          'div',
          { class: 'model-meta' },
          `${m.format} · sha256 ${m.sha256.slice(0, 12)}… · time ${t.initial_time} → ${t.final_time} ${t.units ?? ''}, dt ${t.time_step}, saveper ${t.saveper}`,
          d.analysis?.units_check ? ` · units check: ${d.analysis.units_check.issues.length} issue(s)` : '',
        ),
        h(
          'div',
          { class: 'toolbar' },
          h('a', { class: 'button', href: '#design' }, 'Design an experiment ↓'),
        ),
        table('Stocks', d.stocks, { head: 'Initial', cell: (e) => String(e.initial_value ?? '') }),
        table('Flows', d.flows),
        table('Auxiliaries', d.auxiliaries),
        table('Constants', d.constants, { head: 'Value', cell: (e) => String(e.value ?? '') }),
        h('h2', { id: 'design' }, 'Design an experiment'),
        designForm(m),
      );
    })
    .catch((err: Error) => {
      clear(root);
      root.append(h('div', { class: 'error-banner' }, err.message));
    });
  return () => {};
}
