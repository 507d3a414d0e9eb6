// Plans: every plan of this host (the browser's and agents'), newest first,
// with live progress; they stay listed after teardown and host restarts.
import { clear, h } from '../dom.ts';
import { type PlanListItem, wb } from '../wb-api.ts';
import { planProgress } from './plan.ts';

export function plansView(root: HTMLElement): () => void {
  const body = h('div', { class: 'plan-list' });
  clear(root);
  root.append(h('h1', {}, 'Plans'), body);
  const draw = (list: PlanListItem[]) => {
    clear(body);
    if (list.length === 0)
      body.append(h('div', { class: 'empty' }, 'No plans yet: design one from a model page (Models).'));
    for (const p of list) {
      body.append(
        h(
          'div',
          { class: 'plan-row', 'data-plan-id': p.plan_id },
          h('a', { href: `#/p/${p.plan_id}`, class: 'plan-name' }, p.name),
          h(
            'span',
            { class: 'muted' },
            ` ${p.experiment_type} · ${p.model} · ${p.total} experiments · ${p.status}${p.live ? '' : ' (not running here)'}`,
          ),
          planProgress(p),
        ),
      );
    }
  };
  let stop = false;
  const load = () => {
    wb.plans()
      .then(draw)
      .catch(() => undefined)
      .finally(() => {
        if (!stop) timer = setTimeout(load, 1500);
      });
  };
  let timer = setTimeout(load, 0);
  return () => {
    stop = true;
    clearTimeout(timer);
  };
}
