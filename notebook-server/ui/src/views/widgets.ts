// Small shared pieces: state badges and progress bars.
import type { Progress } from '../api.ts';
import { h } from '../dom.ts';

export function stateBadge(state: string): HTMLElement {
  return h('span', { class: `badge state-${state}`, 'data-state': state }, state.replace('_', ' '));
}

export function progressBar(p: Progress | null | undefined): HTMLElement {
  if (!p) return h('div', { class: 'progress empty' });
  const pct = p.total ? Math.min(100, (100 * p.progress) / p.total) : null;
  const label = p.total ? `${p.progress}/${p.total}` : String(p.progress);
  return h(
    'div',
    { class: 'progress', title: p.message ?? '' },
    h(
      'div',
      { class: 'progress-track' },
      h('div', { class: 'progress-fill', style: `width:${pct ?? 100}%` }),
    ),
    h('span', { class: 'progress-label' }, `${label}${p.message ? ` · ${p.message}` : ''}`),
  );
}
