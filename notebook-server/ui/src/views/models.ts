// Models: upload (drag and drop or a file picker), the example models, and
// the library of translated models (each opens its model page).
import { ApiError } from '../api.ts';
import { ago, clear, h } from '../dom.ts';
import { type ModelListItem, wb } from '../wb-api.ts';

const ACCEPT = '.mdl,.xmile,.xml,.stmx,.py';

export function modelsView(root: HTMLElement): () => void {
  const status = h('div', { class: 'upload-status', 'aria-live': 'polite' });
  const list = h('tbody');
  const examples = h('div', { class: 'examples' });
  const picker = h('input', { type: 'file', accept: ACCEPT, class: 'model-file', hidden: true });
  const drop = h(
    'div',
    { class: 'dropzone', tabindex: 0, role: 'button' },
    h('strong', {}, 'Drop a model here'),
    ' or ',
    h('button', { type: 'button', class: 'pick', onclick: () => picker.click() }, 'choose a file'),
    h('div', { class: 'muted' }, 'Vensim .mdl · XMILE .xmile / .stmx · PySD .py'),
  );
  clear(root);
  root.append(
    h('h1', {}, 'Models'),
    drop,
    picker,
    status,
    h('h2', {}, 'Examples'),
    examples,
    h('h2', {}, 'Library'),
    h(
      'table',
      { class: 'models' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Model', 'Format', 'Stocks', 'Flows', 'Aux', 'Constants', 'Added'].map((t) => h('th', {}, t)),
        ),
      ),
      list,
    ),
  );

  const show = (text: string, kind: 'busy' | 'error' | 'ok') => {
    status.textContent = text;
    status.className = `upload-status ${kind}`;
  };

  async function upload(file: File): Promise<void> {
    show(`translating ${file.name} with PySD…`, 'busy');
    try {
      const meta = await wb.upload(file.name, await file.text());
      show(`${file.name} translated`, 'ok');
      location.hash = `#/m/${meta.model_id}`;
    } catch (err) {
      show(err instanceof ApiError ? err.message : String(err), 'error');
    }
  }

  picker.addEventListener('change', () => {
    const f = picker.files?.[0];
    if (f) void upload(f);
    picker.value = '';
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files?.[0];
    if (f) void upload(f);
  });

  const row = (m: ModelListItem) =>
    h(
      'tr',
      { 'data-model-id': m.model_id },
      h('td', {}, h('a', { href: `#/m/${m.model_id}` }, m.filename)),
      h('td', {}, m.format),
      ...['stocks', 'flows', 'auxiliaries', 'constants'].map((k) =>
        h('td', { class: 'num' }, String(m.counts[k] ?? 0)),
      ),
      h('td', { title: m.uploaded_at }, ago(m.uploaded_at)),
    );

  wb.models()
    .then((ms) => {
      clear(list);
      if (ms.length === 0)
        list.append(
          h(
            'tr',
            {},
            h('td', { colspan: 7, class: 'empty' }, 'No models yet: upload one or add an example.'),
          ),
        );
      for (const m of ms) list.append(row(m));
    })
    .catch((err: Error) => show(err.message, 'error'));
  wb.examples()
    .then((ex) => {
      for (const e of ex.models) {
        examples.append(
          h(
            'button',
            {
              class: 'example-model',
              'data-example': e.filename,
              onclick: () => {
                show(`translating ${e.filename} with PySD…`, 'busy');
                wb.addExample(e.filename)
                  .then((m) => {
                    location.hash = `#/m/${m.model_id}`;
                  })
                  .catch((err: Error) => show(err.message, 'error'));
              },
            },
            e.filename,
          ),
        );
      }
    })
    .catch(() => undefined);
  return () => {};
}
