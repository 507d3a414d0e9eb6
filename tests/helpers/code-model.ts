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

/**
 * Statements for {@link modelRunning} that try to break out: `wrote` lists the `targets` the code
 * could create (touch), `net` says whether it reached 1.1.1.1:53. The caller reports them.
 */
export function breakoutAttempt(targets: string[]): string[] {
  return [
    'import os, socket',
    `wrote = [p for p in ${JSON.stringify(targets).replaceAll('"', "'")} if os.system('touch ' + p + ' 2>/dev/null') == 0]`,
    's = socket.socket()',
    's.settimeout(2)',
    "net = 'yes' if s.connect_ex(('1.1.1.1', 53)) == 0 else 'no'",
  ];
}
