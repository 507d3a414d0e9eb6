// A plan: one tile per experiment (queued, provisioning, running with its
// progress, finished, failed with the error), plan progress and ETA, cancel;
// then, across its experiments: a variable overlaid, parameter → metric
// scatter, and the table with parameters as columns. Polls once a second
// (one request whatever the plan's size) while the plan runs.
import { clear, h } from '../dom.ts';
import { lineChart } from '../plots.ts';
import { type PlanListItem, type PlanView, type Tile, wb } from '../wb-api.ts';
import { fmt, scatterChart } from '../wb-charts.ts';

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

export function planProgress(p: PlanListItem): HTMLElement {
  const c = p.counts;
  const done = c.finished + c.failed + c.cancelled;
  const pct = p.total ? (100 * done) / p.total : 0;
  return h(
    'div',
    { class: 'plan-progress progress', 'data-done': done, 'data-total': p.total },
    h('div', { class: 'progress-track' }, h('div', { class: 'progress-fill', style: `width:${pct}%` })),
    h(
      'span',
      { class: 'progress-label' },
      `${done}/${p.total} done`,
      c.failed ? ` · ${c.failed} failed` : '',
      c.running + c.provisioning + c.finishing
        ? ` · ${c.running + c.provisioning + c.finishing} running`
        : '',
      p.eta_ms !== null ? h('span', { class: 'eta' }, ` · about ${duration(p.eta_ms)} left`) : '',
      ` · ${duration(p.elapsed_ms)} elapsed`,
    ),
  );
}

function tile(t: Tile): HTMLElement {
  const fixed = Object.entries(t.fixed)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const pct = t.progress?.total ? Math.min(100, (100 * t.progress.progress) / t.progress.total) : null;
  const firstMetric = Object.entries(t.metrics).find(([k]) => k.endsWith('.mean') || !k.includes('.'));
  return h(
    t.state === 'finished' ? 'a' : 'div',
    {
      class: `tile st-${t.state.replace(' ', '-')}`,
      'data-state': t.state,
      'data-experiment-id': t.experiment_id,
      href: t.state === 'finished' ? `#/e/${t.experiment_id}` : null,
      title: t.error ?? t.experiment_id,
    },
    h(
      'div',
      { class: 'tile-head' },
      h('span', { class: 'tile-index' }, `#${t.index}`),
      h(
        'span',
        { class: 'tile-state' },
        t.step && t.state !== 'finished' ? `${t.state} · ${t.step}` : t.state,
      ),
    ),
    h('div', { class: 'tile-fixed' }, fixed || t.experiment_id),
    pct !== null
      ? h('div', { class: 'progress-track' }, h('div', { class: 'progress-fill', style: `width:${pct}%` }))
      : null,
    t.error ? h('div', { class: 'tile-error' }, t.error.slice(0, 160)) : null,
    firstMetric ? h('div', { class: 'tile-metric muted' }, `${firstMetric[0]} ${fmt(firstMetric[1])}`) : null,
  );
}

export function planView(root: HTMLElement, planId: string): () => void {
  const header = h('div', { class: 'plan-header' });
  const tiles = h('div', { class: 'tiles' });
  const compare = h('section', { class: 'plan-compare', hidden: true });
  const err = h('div', { class: 'error-banner', hidden: true });
  clear(root);
  root.append(header, err, tiles, compare);
  let last: PlanView | null = null;
  let compareFor = -1;
  let comparedAt = 0;

  function drawHeader(v: PlanView): void {
    const fixedNames = Object.keys(v.grid ?? {}).join(' × ');
    header.replaceChildren(
      h('h1', {}, v.name),
      h(
        'div',
        { class: 'plan-meta muted' },
        `${v.plan_id} · ${v.experiment_type} on ${v.model} · ${v.total} experiments${fixedNames ? ` over ${fixedNames}` : ''} · K=${v.parallel_limit} · `,
        h(
          'span',
          { class: `badge state-${v.status}`, 'data-plan-status': v.status },
          v.live ? 'running' : v.status,
        ),
      ),
      planProgress(v),
      v.live
        ? h(
            'button',
            {
              class: 'cancel-plan',
              onclick: () => {
                wb.cancelPlan(planId).catch((e: Error) => {
                  err.hidden = false;
                  err.textContent = e.message;
                });
              },
            },
            '■ Cancel plan',
          )
        : '',
    );
  }

  function drawTiles(v: PlanView): void {
    tiles.replaceChildren(...v.experiments.map(tile));
  }

  async function drawCompare(v: PlanView): Promise<void> {
    compare.hidden = false;
    const table = await wb.planTable(planId);
    const done = v.experiments.find((t) => t.state === 'finished');
    const summary = done ? (await wb.result(done.experiment_id).catch(() => null))?.summary : null;
    const CONTROL = new Set(['FINAL TIME', 'INITIAL TIME', 'SAVEPER', 'TIME STEP']);
    const cols = (summary?.columns as { variables?: string[]; parameters?: string[] } | undefined) ?? {};
    const variables = (cols.variables ?? []).filter(
      (x) => !CONTROL.has(x) && !(cols.parameters ?? []).includes(x),
    );
    const exp = v.experiment as { metrics?: { variable: string }[] };
    const firstVar = exp.metrics?.[0]?.variable;
    const fromRuns = variables.length ? variables : firstVar ? [firstVar] : [];
    const overlayVar = h(
      'select',
      { class: 'overlay-variable' },
      ...fromRuns.map((x) => h('option', { value: x }, x)),
    );
    if (firstVar && fromRuns.includes(firstVar)) overlayVar.value = firstVar;
    const overlayBox = h('div', { class: 'overlay-chart' });
    // Cross-plan: other plans on the same model can be overlaid too.
    const others = (await wb.plans().catch(() => [])).filter(
      (p) => p.plan_id !== planId && p.model === v.model && p.counts.finished > 0,
    );
    const withPlan = h(
      'select',
      { class: 'overlay-with' },
      h('option', { value: '' }, 'this plan only'),
      ...others.map((p) => h('option', { value: p.plan_id }, `+ ${p.name} (${p.plan_id})`)),
    );
    const drawOverlay = () => {
      overlayBox.replaceChildren(h('span', { class: 'muted' }, 'loading…'));
      wb.overlay(planId, overlayVar.value, withPlan.value ? [withPlan.value] : [])
        .then((o) => {
          overlayBox.replaceChildren();
          lineChart(overlayBox, {
            title: `${overlayVar.value}: median over each experiment's runs`,
            x: { name: 'time', values: o.time },
            series: o.series,
          });
        })
        .catch((e: Error) => overlayBox.replaceChildren(h('span', { class: 'error' }, e.message)));
    };
    overlayVar.addEventListener('change', drawOverlay);
    withPlan.addEventListener('change', drawOverlay);

    const sx = h(
      'select',
      { class: 'scatter-x' },
      ...table.parameters.map((p) => h('option', { value: p }, p)),
    );
    const preferred = table.metrics.filter((m) => m.endsWith('.mean'));
    const sy = h(
      'select',
      { class: 'scatter-y' },
      ...(preferred.length ? preferred : table.metrics).map((m) => h('option', { value: m }, m)),
    );
    const scatterBox = h('div', { class: 'scatter-box' });
    const drawScatter = () => {
      scatterBox.replaceChildren();
      const pts = table.rows
        .filter((r) => typeof r[sx.value] === 'number' && typeof r[sy.value] === 'number')
        .map((r) => ({ x: r[sx.value] as number, y: r[sy.value] as number, label: String(r.experiment_id) }));
      if (pts.length) scatterChart(scatterBox, pts, sx.value, sy.value);
    };
    sx.addEventListener('change', drawScatter);
    sy.addEventListener('change', drawScatter);

    const columns = [
      'experiment_id',
      'status',
      ...table.parameters,
      ...(preferred.length ? preferred : table.metrics),
    ];
    const tbl = h(
      'table',
      { class: 'plan-table results' },
      h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', {}, c)))),
      h(
        'tbody',
        {},
        ...table.rows.map((r) =>
          h(
            'tr',
            {},
            ...columns.map((c) =>
              h(
                'td',
                { class: typeof r[c] === 'number' ? 'num' : '' },
                c === 'experiment_id' ? h('a', { href: `#/e/${r[c]}` }, String(r[c])) : fmt(r[c]),
              ),
            ),
          ),
        ),
      ),
    );
    compare.replaceChildren(
      h('h2', {}, 'Compare experiments'),
      h('div', { class: 'form-line' }, 'Overlay ', overlayVar, ' ', others.length ? withPlan : ''),
      overlayBox,
      h('div', { class: 'form-line' }, 'Scatter ', sx, ' → ', sy),
      scatterBox,
      h('h2', {}, 'Table'),
      tbl,
    );
    drawOverlay();
    drawScatter();
  }

  let stop = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const load = () => {
    wb.plan(planId)
      .then((v) => {
        last = v;
        err.hidden = true;
        drawHeader(v);
        drawTiles(v);
        // Redrawn as experiments finish, at most every 5 s while running (charts are not free).
        const due = !v.live || Date.now() - comparedAt > 5000;
        if (v.counts.finished > 0 && v.counts.finished !== compareFor && due) {
          compareFor = v.counts.finished;
          comparedAt = Date.now();
          void drawCompare(v).catch((e: Error) => {
            compare.hidden = false;
            compare.replaceChildren(h('div', { class: 'error' }, e.message));
          });
        }
      })
      .catch((e: Error) => {
        err.hidden = false;
        err.textContent = e.message;
      })
      .finally(() => {
        if (!stop && (last === null || last.live)) timer = setTimeout(load, 1000);
      });
  };
  load();
  return () => {
    stop = true;
    clearTimeout(timer);
  };
}
