// Plain Markdown export for reading (reports, PR descriptions): title, markdown cells,
// code in python fences, outputs as text. One-way; srcmd is the format that reads back.
import { fenceFor } from './lines.ts';
import type { Notebook, Output } from './nbformat.ts';

export interface MarkdownOptions {
  /** Include outputs (default true). */
  outputs?: boolean;
  /** Embed images as data: URIs (default false: a short placeholder, keeps the file small). */
  inlineImages?: boolean;
}

const text = (v: unknown): string => (Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '');

// ANSI colour codes from IPython tracebacks are noise outside a terminal.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ESC is the point
const stripAnsi = (s: string): string => s.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');

function fenced(body: string, info = ''): string {
  const trimmed = body.replace(/\n$/, '');
  const fence = fenceFor(trimmed);
  return `${fence}${info}\n${trimmed}\n${fence}`;
}

function richOutput(data: Record<string, unknown>, options: MarkdownOptions): string {
  const image = Object.keys(data).find((m) => m.startsWith('image/'));
  if (image) {
    if (options.inlineImages && image !== 'image/svg+xml') {
      return `![output](data:${image};base64,${text(data[image]).replace(/\s+/g, '')})`;
    }
    return `*[${image} output not shown]*`;
  }
  if ('text/markdown' in data) return text(data['text/markdown']);
  if ('text/plain' in data) return fenced(text(data['text/plain']), 'text');
  const first = Object.keys(data)[0];
  return first ? `*[${first} output not shown]*` : '';
}

export function outputToMarkdown(o: Output, options: MarkdownOptions = {}): string {
  switch (o.output_type) {
    case 'stream':
      return fenced(stripAnsi(text(o.text)), 'text');
    case 'display_data':
    case 'execute_result':
      return richOutput(o.data, options);
    case 'error': {
      const tb = o.traceback.length > 0 ? o.traceback.join('\n') : `${o.ename}: ${o.evalue}`;
      return fenced(stripAnsi(tb), 'text');
    }
  }
}

/** Notebook → plain Markdown with outputs rendered as text. */
export function toMarkdown(nb: Notebook, options: MarkdownOptions = {}): string {
  const parts = [`# ${nb.title.replace(/\s+/g, ' ').trim()}`];
  for (const cell of nb.cells) {
    if (cell.cell_type === 'markdown') {
      if (cell.source.trim() !== '') parts.push(cell.source.trim());
      continue;
    }
    parts.push(`${cell.filename ? `**${cell.filename}**\n\n` : ''}${fenced(cell.source, 'python')}`);
    if (options.outputs === false) continue;
    for (const o of cell.outputs) {
      const rendered = outputToMarkdown(o, options);
      if (rendered !== '') parts.push(rendered);
    }
  }
  return `${parts.join('\n\n')}\n`;
}
