// Containers of this host: runtime, node, image, state; live stats of the
// selected one (sampled every 2 s), its logs, and destroy.
import { ago, clear, h } from '../dom.ts';
import { type ContainerRow, wb } from '../wb-api.ts';
import { fmt } from '../wb-charts.ts';

const mb = (b: unknown) => (typeof b === 'number' ? `${(b / 1e6).toFixed(0)} MB` : '');

export function containersView(root: HTMLElement): () => void {
  const body = h('tbody');
  const detail = h('div', { class: 'container-detail' });
  clear(root);
  root.append(
    h('h1', {}, 'Containers'),
    h(
      'table',
      { class: 'containers' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Container', 'Experiment', 'Runtime', 'Node', 'Image', 'State', 'Created', ''].map((t) =>
            h('th', {}, t),
          ),
        ),
      ),
      body,
    ),
    detail,
  );
  let selected: string | null = null;
  let stop = false;
  const draw = (list: ContainerRow[]) => {
    clear(body);
    if (list.length === 0)
      body.append(h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No live containers.')));
    for (const c of list) {
      body.append(
        h(
          'tr',
          { 'data-container-id': c.container_id, class: c.container_id === selected ? 'selected' : '' },
          h(
            'td',
            { class: 'mono' },
            h(
              'a',
              {
                href: '#',
                onclick: (e: Event) => {
                  e.preventDefault();
                  selected = c.container_id;
                  void sample();
                },
              },
              c.container_id,
            ),
          ),
          h('td', { class: 'mono' }, c.experiment_id ?? ''),
          h('td', {}, c.runtime),
          h('td', {}, c.node),
          h('td', { class: 'mono' }, c.image),
          h('td', {}, c.running ? 'running' : c.status),
          h('td', {}, ago(c.created_at)),
          h(
            'td',
            {},
            h(
              'button',
              {
                class: 'destroy',
                onclick: () =>
                  wb
                    .destroy(c.container_id)
                    .then(refresh)
                    .catch(() => undefined),
              },
              'Destroy',
            ),
          ),
        ),
      );
    }
  };
  const sample = async () => {
    if (!selected) return;
    const id = selected;
    try {
      const [s, logs] = await Promise.all([wb.stats(id), wb.logs(id)]);
      detail.replaceChildren(
        h('h2', {}, id),
        h(
          'div',
          { class: 'stats' },
          `CPU ${fmt(s.cpu_percent)} % · memory ${mb(s.memory_usage_bytes)} of ${mb(s.memory_limit_bytes)} · pids ${s.pids}${s.pids_limit ? ` of ${s.pids_limit}` : ''}`,
        ),
        h('pre', { class: 'logs' }, `${logs.stdout}${logs.stderr}`.slice(-20_000)),
      );
    } catch (e) {
      detail.replaceChildren(h('div', { class: 'muted' }, `${id}: ${(e as Error).message}`));
      selected = null;
    }
  };
  const refresh = () => wb.containers().then(draw);
  const tick = () => {
    Promise.all([refresh(), sample()])
      .catch(() => undefined)
      .finally(() => {
        if (!stop) timer = setTimeout(tick, 2000);
      });
  };
  let timer = setTimeout(tick, 0);
  return () => {
    stop = true;
    clearTimeout(timer);
  };
}
