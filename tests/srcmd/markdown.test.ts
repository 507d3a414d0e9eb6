import { describe, expect, it } from 'vitest';
import { toMarkdown } from '../../srcmd/src/markdown.ts';
import type { Notebook } from '../../srcmd/src/nbformat.ts';

const nb: Notebook = {
  title: 'Teacup',
  language: 'python',
  metadata: {},
  cells: [
    { id: 'm', cell_type: 'markdown', source: 'Some **text**.', metadata: {} },
    {
      id: 'c',
      cell_type: 'code',
      filename: 'run.py',
      source: 'print("```")\nmodel.run()',
      execution_count: 1,
      metadata: {},
      outputs: [
        { output_type: 'stream', name: 'stdout', text: '```\n' },
        { output_type: 'execute_result', execution_count: 1, data: { 'text/plain': '42' }, metadata: {} },
        { output_type: 'display_data', data: { 'image/png': 'iVBOR', 'text/plain': 'fig' }, metadata: {} },
        { output_type: 'display_data', data: { 'text/markdown': '*rich*' }, metadata: {} },
        { output_type: 'error', ename: 'E', evalue: 'v', traceback: ['\u001b[0;31mE\u001b[0m: v'] },
      ],
    },
  ],
};

describe('markdown export', () => {
  it('renders cells and outputs as text', () => {
    expect(toMarkdown(nb)).toBe(
      [
        '# Teacup',
        '',
        'Some **text**.',
        '',
        '**run.py**',
        '',
        '````python',
        'print("```")',
        'model.run()',
        '````',
        '',
        '````text',
        '```',
        '````',
        '',
        '```text',
        '42',
        '```',
        '',
        '*[image/png output not shown]*',
        '',
        '*rich*',
        '',
        '```text',
        'E: v',
        '```',
        '',
      ].join('\n'),
    );
  });

  it('can inline images and omit outputs', () => {
    expect(toMarkdown(nb, { inlineImages: true })).toContain('![output](data:image/png;base64,iVBOR)');
    expect(toMarkdown(nb, { outputs: false })).not.toContain('42');
  });
});
