// nbformat outputs → DOM. HTML outputs go into a sandboxed iframe (no
// scripts): kernel output is untrusted and this page holds the token.
import type { Output } from '../../../srcmd/src/nbformat.ts';
import { h, stripAnsi } from './dom.ts';
import { fromPandasSplit, isTimeSeries, lineChart, TIMESERIES_MIME } from './plots.ts';
import { PROGRESS_MIME, RESULT_MIME, renderProgress, renderResult } from './result.ts';

/** What an output needs to know about where it is shown. */
export interface OutputContext {
  sessionId: string;
}

const text = (t: string | string[]) => (Array.isArray(t) ? t.join('') : t);

function renderBundle(data: Record<string, unknown>, into: HTMLElement, ctx: OutputContext): void {
  const plain = data['text/plain'];
  if (data[RESULT_MIME] !== undefined) {
    into.append(
      renderResult(ctx.sessionId, data[RESULT_MIME], plain === undefined ? undefined : text(plain as string)),
    );
    return;
  }
  if (data[PROGRESS_MIME] !== undefined) {
    into.append(renderProgress(data[PROGRESS_MIME]));
    return;
  }
  const ts = data[TIMESERIES_MIME];
  if (isTimeSeries(ts)) {
    // Drawn after insertion so the chart knows its width.
    queueMicrotask(() => lineChart(into, ts));
    return;
  }
  const json = data['application/json'];
  const split = json !== undefined ? fromPandasSplit(json) : null;
  if (split) {
    queueMicrotask(() => lineChart(into, split));
    return;
  }
  for (const mime of ['image/png', 'image/jpeg']) {
    const b64 = data[mime];
    if (typeof b64 === 'string' || Array.isArray(b64)) {
      into.append(
        h('img', { class: 'out-image', src: `data:${mime};base64,${text(b64 as string).trim()}`, alt: mime }),
      );
      return;
    }
  }
  const svg = data['image/svg+xml'];
  if (typeof svg === 'string' || Array.isArray(svg)) {
    const src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text(svg as string))}`;
    into.append(h('img', { class: 'out-image', src, alt: 'svg' }));
    return;
  }
  const html = data['text/html'];
  if (typeof html === 'string' || Array.isArray(html)) {
    const frame = h('iframe', { class: 'out-html', sandbox: '', title: 'html output' });
    frame.srcdoc = `<style>body{font:13px system-ui;margin:4px}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px}</style>${text(html as string)}`;
    frame.addEventListener('load', () => {
      const doc = frame.contentDocument;
      if (doc) frame.style.height = `${Math.min(600, doc.documentElement.scrollHeight + 4)}px`;
    });
    into.append(frame);
    return;
  }
  if (plain !== undefined) into.append(h('pre', { class: 'out-text' }, text(plain as string)));
}

export function renderOutput(o: Output, ctx: OutputContext): HTMLElement {
  const box = h('div', { class: `output out-${o.output_type}` });
  switch (o.output_type) {
    case 'stream':
      box.classList.add(`out-${o.name}`);
      box.append(h('pre', {}, stripAnsi(text(o.text))));
      break;
    case 'error':
      box.append(
        h('div', { class: 'out-ename' }, `${o.ename}: ${o.evalue}`),
        h('pre', { class: 'out-traceback' }, stripAnsi(o.traceback.join('\n'))),
      );
      break;
    case 'display_data':
    case 'execute_result':
      renderBundle(o.data as Record<string, unknown>, box, ctx);
      break;
  }
  return box;
}

/** Merges a streamed chunk the way the server does: stream text at the same index is appended. */
export function applyChunk(outputs: Output[], chunk: Output, index: number): void {
  const at = outputs[index];
  if (at && at.output_type === 'stream' && chunk.output_type === 'stream' && at.name === chunk.name) {
    at.text = text(at.text) + text(chunk.text);
  } else {
    outputs[index] = chunk;
  }
}
