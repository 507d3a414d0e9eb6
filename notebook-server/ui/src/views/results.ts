// One experiment's results, from the catalog (so they outlive its container):
// a fan chart of any variable (percentile bands over all runs, Arrow over the
// wire), sensitivity indices as bars with confidence intervals, the
// optimisation trace, scenario comparison, and its artifacts for export.
import { clear, h } from '../dom.ts';
import { lineChart } from '../plots.ts';
import { downloadArtifact, fetchFan, type ResultDetail, wb } from '../wb-api.ts';
import { barChart, fanChart, fmt } from '../wb-charts.ts';

export function resultsView(root: HTMLElement, id: string): () => void {
  clear(root);
  const err = h('div', { class: 'error-banner', hidden: true });
  const fail = (e: Error) => {
    err.hidden = false;
    err.textContent = e.message;
  };
  root.append(h('h1', {}, id), err);
  // The bands are fetched at once, alongside the experiment's record (first paint).
  const firstFan = fetchFan(id);
  firstFan.catch(() => undefined);
  wb.result(id)
    .then((r) => draw(r))
    .catch(fail);

  function draw(r: ResultDetail): void {
    const s = (r.summary ?? {}) as {
      experiment_type?: string;
      run_count?: number;
      columns?: { variables?: string[]; parameters?: string[] };
    };
    const rec = r.record;
    root.append(
      h(
        'div',
        { class: 'result-meta muted' },
        `${s.experiment_type ?? 'experiment'} · ${s.run_count ?? '?'} runs · ${rec?.status ?? ''}`,
        rec?.plan_id ? [' · plan ', h('a', { href: `#/p/${rec.plan_id}` }, rec.plan_id)] : '',
        // A plan's notebook went with its container; its export is below.
        rec?.session_id && !rec.plan_id ? [' · ', h('a', { href: `#/s/${rec.session_id}` }, 'notebook')] : '',
      ),
    );
    // Fan chart
    const fanBox = h('div', { class: 'fan-box' });
    const picker = h('select', { class: 'fan-variable' });
    const note = h('span', { class: 'muted fan-note' });
    const drawFan = (variable?: string, pending?: ReturnType<typeof fetchFan>) => {
      const t0 = performance.now();
      (pending ?? fetchFan(id, variable))
        .then((fan) => {
          if (picker.options.length === 0)
            for (const v of fan.variables) picker.append(h('option', { value: v }, v));
          picker.value = fan.variable;
          fanBox.replaceChildren();
          fanChart(fanBox, fan);
          note.textContent = ` ${fan.run_count} runs · ${fan.time.length} time points · ${Math.round(performance.now() - t0)} ms`;
        })
        .catch(fail);
    };
    picker.addEventListener('change', () => drawFan(picker.value));
    root.append(
      h(
        'section',
        { class: 'fan' },
        h('h2', {}, 'Fan chart'),
        h('div', { class: 'form-line' }, 'Variable ', picker, note),
        fanBox,
      ),
    );
    drawFan(undefined, firstFan);

    // Sensitivity
    const sens = h('section', { class: 'sensitivity', hidden: true });
    root.append(sens);
    wb.sensitivity(id)
      .then((b) => {
        if (!b) return;
        sens.hidden = false;
        sens.append(
          h(
            'h2',
            {},
            b.method === 'morris'
              ? 'Morris elementary effects'
              : `${b.method === 'fast' ? 'FAST' : 'Sobol'} sensitivity indices`,
          ),
          h('div', { class: 'muted' }, b.note),
        );
        for (const [metric, bars] of Object.entries(b.by_metric)) {
          const groups = [
            {
              name: b.value_label,
              color: '#2458d6',
              bars: bars.map((x) => ({ label: x.parameter, value: x.value, conf: x.conf })),
            },
          ];
          if (b.total_label && bars.some((x) => x.total !== null)) {
            groups.push({
              name: b.total_label,
              color: '#ff7f0e',
              bars: bars.map((x) => ({ label: x.parameter, value: x.total ?? 0, conf: x.total_conf })),
            });
          }
          const box = h('div', { class: 'bars', 'data-metric': metric });
          sens.append(box);
          barChart(box, groups, metric);
        }
      })
      .catch(fail);

    // Optimisation trace
    if (s.experiment_type === 'optimization') {
      const box = h('section', { class: 'trace' }, h('h2', {}, 'Optimisation trace'));
      root.append(box);
      wb.trace(id)
        .then((t) => {
          if (!t) return;
          lineChart(box, {
            title: `${t.goal === 'max' ? 'maximise' : 'minimise'} ${t.objective}`,
            x: { name: 'evaluation', values: t.values.map((_, i) => i + 1) },
            series: [
              { name: 'objective', values: t.values },
              { name: 'best so far', values: t.best },
            ],
          });
        })
        .catch(fail);
    }
    // Scenario comparison
    if (s.experiment_type === 'scenarios') {
      const box = h('section', { class: 'scenario-compare' }, h('h2', {}, 'Scenarios'));
      const vpick = h(
        'select',
        { class: 'scenario-variable' },
        ...(s.columns?.variables ?? []).map((v) => h('option', { value: v }, v)),
      );
      const chart = h('div');
      const drawS = () =>
        wb
          .scenarios(id, vpick.value)
          .then((l) => {
            chart.replaceChildren();
            if (l)
              lineChart(chart, { title: vpick.value, x: { name: 'time', values: l.time }, series: l.series });
          })
          .catch(fail);
      vpick.addEventListener('change', () => void drawS());
      box.append(vpick, chart);
      root.append(box);
      void drawS();
    }
    // Artifacts and export
    const notebook = r.artifacts.find((a) => a.path.endsWith('.src.md'));
    root.append(
      h(
        'section',
        { class: 'artifacts' },
        h('h2', {}, 'Export'),
        notebook
          ? h(
              'button',
              { class: 'export-notebook', onclick: () => downloadArtifact(id, notebook.path).catch(fail) },
              `Download notebook (${notebook.path.split('/').pop()})`,
            )
          : null,
        h(
          'table',
          { class: 'results' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, 'artifact'),
              h('th', {}, 'type'),
              h('th', {}, 'bytes'),
              h('th', {}, 'sha256'),
            ),
          ),
          h(
            'tbody',
            {},
            ...r.artifacts.map((a) =>
              h(
                'tr',
                {},
                h(
                  'td',
                  {},
                  h(
                    'a',
                    {
                      href: '#',
                      class: 'artifact-link',
                      onclick: (e: Event) => {
                        e.preventDefault();
                        downloadArtifact(id, a.path).catch(fail);
                      },
                    },
                    a.path,
                  ),
                ),
                h('td', {}, a.media_type),
                h('td', { class: 'num' }, fmt(a.bytes)),
                h('td', { class: 'mono' }, a.sha256.slice(0, 12)),
              ),
            ),
          ),
        ),
      ),
    );
  }
  return () => {};
}
