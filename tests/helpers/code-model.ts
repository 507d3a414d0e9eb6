// A model is code: PySD writes a model's documentation into a docstring, so a documentation
// string can close it and run anything when the model loads. The tests that attack a model's
// loaders (the plan check, the workbench's description) use this one.

/** A small model whose `Init` documentation runs `lines` (one statement each) when the model initialises. */
export function modelRunning(lines: string[]): string {
  const code = `chr(10).join([${lines.map((l) => `"${l}"`).join(', ')}])`;
  return [
    '{UTF-8}',
    'Stock= INTEG (Inflow, Init)',
    '\t~\tWidgets',
    '\t~\tThe stock.',
    '\t|',
    '',
    'Init= 10',
    '\t~\tWidgets',
    `\t~\tdoc """ + str(exec(${code}, {})) + """ end`,
    '\t|',
    '',
    'Inflow= 1',
    '\t~\tWidgets/Month',
    '\t~\t\t|',
    '',
    ...['FINAL TIME  = 10', 'INITIAL TIME  = 0', 'SAVEPER  = 1', 'TIME STEP  = 1'].flatMap((l) => [
      l,
      '\t~\tMonth',
      '\t~\t\t|',
    ]),
    '',
  ].join('\n');
}
