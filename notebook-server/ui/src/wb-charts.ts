// Workbench charts: fan charts (percentile bands over runs, uPlot bands),
// sensitivity bars with confidence intervals and parameter → metric scatter
// (small SVGs: a few dozen marks need no chart library).
import uPlot from 'uplot';
import { h } from './dom.ts';
import type { FanData } from './wb-api.ts';

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

const width = (box: HTMLElement) => Math.max(360, Math.min(1000, (box.clientWidth || 900) - 8));

export function fanChart(box: HTMLElement, fan: FanData, height = 320): uPlot {
  const wrap = h('div', { class: 'chart fan-chart', 'data-chart': 'fan', 'data-runs': fan.run_count });
  box.append(wrap);
  const blue = (a: number) => `rgba(36, 88, 214, ${a})`;
  const opts: uPlot.Options = {
    title: `${fan.variable}: median and 50% / 90% bands over ${fan.run_count} runs${fan.approximate ? ' (t-digest quantiles)' : ''}`,
    width: width(box),
    height,
    scales: { x: { time: false } },
    axes: [{ label: 'time' }, { label: fan.variable, size: 72 }],
    series: [
      { label: 'time' },
      { label: 'p05', stroke: blue(0.25), width: 1 },
      { label: 'p25', stroke: blue(0.45), width: 1 },
      { label: 'median', stroke: blue(1), width: 2 },
      { label: 'p75', stroke: blue(0.45), width: 1 },
      { label: 'p95', stroke: blue(0.25), width: 1 },
    ],
    bands: [
      { series: [5, 1], fill: blue(0.12) },
      { series: [4, 2], fill: blue(0.22) },
    ],
  };
  return new uPlot(opts, [fan.time, ...fan.bands] as uPlot.AlignedData, wrap);
}

export interface Bar {
  label: string;
  value: number;
  conf: number | null;
}

/** Horizontal bars with ±conf whiskers (e.g. S1 and ST per parameter). */
export function barChart(
  box: HTMLElement,
  groups: { name: string; color: string; bars: Bar[] }[],
  title: string,
): SVGSVGElement {
  const labels = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.label)))];
  const w = width(box);
  const left = 170;
  const row = 16 * groups.length + 12;
  const hgt = 40 + labels.length * row + 30;
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => b.value + (b.conf ?? 0))));
  const min = Math.min(0, ...groups.flatMap((g) => g.bars.map((b) => b.value - (b.conf ?? 0))));
  const x = (v: number) => left + ((v - min) / (max - min)) * (w - left - 20);
  const root = svg('svg', { width: w, height: hgt, class: 'bar-chart', 'data-chart': 'bars', role: 'img' });
  root.append(svg('text', { x: 8, y: 18, class: 'chart-title' }, title));
  labels.forEach((label, i) => {
    const y0 = 36 + i * row;
    root.append(
      svg('text', { x: left - 8, y: y0 + row / 2 + 2, 'text-anchor': 'end', class: 'bar-label' }, label),
    );
    groups.forEach((g, j) => {
      const b = g.bars.find((bb) => bb.label === label);
      if (!b) return;
      const y = y0 + 6 + j * 16;
      const rect = svg('rect', {
        x: Math.min(x(0), x(b.value)),
        y,
        width: Math.abs(x(b.value) - x(0)),
        height: 12,
        fill: g.color,
        class: 'bar',
        'data-parameter': label,
        'data-value': b.value,
      });
      rect.append(
        svg(
          'title',
          {},
          `${g.name} ${label}: ${b.value.toPrecision(3)}${b.conf !== null ? ` ± ${b.conf.toPrecision(2)}` : ''}`,
        ),
      );
      root.append(rect);
      if (b.conf !== null) {
        const lo = x(b.value - b.conf);
        const hi = x(b.value + b.conf);
        root.append(
          svg('line', {
            x1: lo,
            x2: hi,
            y1: y + 6,
            y2: y + 6,
            stroke: '#222',
            'stroke-width': 1.2,
            class: 'ci',
          }),
          svg('line', { x1: lo, x2: lo, y1: y + 2, y2: y + 10, stroke: '#222' }),
          svg('line', { x1: hi, x2: hi, y1: y + 2, y2: y + 10, stroke: '#222' }),
        );
      }
    });
  });
  const axisY = hgt - 22;
  root.append(svg('line', { x1: left, x2: w - 20, y1: axisY, y2: axisY, stroke: '#999' }));
  for (const t of [min, (min + max) / 2, max]) {
    root.append(
      svg('text', { x: x(t), y: axisY + 14, 'text-anchor': 'middle', class: 'tick' }, t.toPrecision(2)),
    );
  }
  groups.forEach((g, j) => {
    root.append(
      svg('rect', { x: w - 160 + j * 70, y: 8, width: 10, height: 10, fill: g.color }),
      svg('text', { x: w - 146 + j * 70, y: 17, class: 'tick' }, g.name),
    );
  });
  box.append(root);
  return root;
}

/** Points of (x, y) with labels on hover. */
export function scatterChart(
  box: HTMLElement,
  points: { x: number; y: number; label: string }[],
  xName: string,
  yName: string,
): SVGSVGElement {
  const w = width(box);
  const hgt = 300;
  const pad = { l: 70, r: 20, t: 30, b: 40 };
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (v: number) => pad.l + ((v - x0) / (x1 - x0 || 1)) * (w - pad.l - pad.r);
  const sy = (v: number) => hgt - pad.b - ((v - y0) / (y1 - y0 || 1)) * (hgt - pad.t - pad.b);
  const root = svg('svg', { width: w, height: hgt, class: 'scatter-chart', 'data-chart': 'scatter' });
  root.append(
    svg('line', { x1: pad.l, x2: w - pad.r, y1: hgt - pad.b, y2: hgt - pad.b, stroke: '#999' }),
    svg('line', { x1: pad.l, x2: pad.l, y1: pad.t, y2: hgt - pad.b, stroke: '#999' }),
    svg('text', { x: (w + pad.l) / 2, y: hgt - 6, 'text-anchor': 'middle', class: 'tick' }, xName),
    svg('text', { x: pad.l, y: 14, class: 'tick axis-name' }, `↑ ${yName}`),
  );
  for (const t of [x0, (x0 + x1) / 2, x1])
    root.append(
      svg('text', { x: sx(t), y: hgt - pad.b + 14, 'text-anchor': 'middle', class: 'tick' }, fmt(t)),
    );
  for (const t of [y0, (y0 + y1) / 2, y1])
    root.append(svg('text', { x: pad.l - 6, y: sy(t) + 4, 'text-anchor': 'end', class: 'tick' }, fmt(t)));
  for (const p of points) {
    const c = svg('circle', { cx: sx(p.x), cy: sy(p.y), r: 5, fill: 'rgba(36,88,214,0.7)', class: 'point' });
    c.append(svg('title', {}, `${p.label}: ${xName}=${fmt(p.x)}, ${yName}=${fmt(p.y)}`));
    root.append(c);
  }
  box.append(root);
  return root;
}

export function fmt(v: unknown): string {
  if (typeof v !== 'number') return v === null || v === undefined ? '' : String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e7) return String(v);
  return Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toPrecision(4);
}
