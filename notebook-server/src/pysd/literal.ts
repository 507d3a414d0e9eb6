// JSON-able values as Python literals, laid out like hand-written code:
// short values on one line, longer ones one item per line, 4-space indents.
//
// Strings go through JSON's string syntax, which Python reads identically for
// double-quoted literals (\" \\ \n \t \uXXXX …); the few characters JSON leaves
// raw that an editor or Python could trip on (DEL, C1 controls, U+2028/9, BOM)
// are escaped too. So no input can end the string or change the code.

const WIDTH = 88;

export function pyString(s: string): string {
  return JSON.stringify(s).replace(
    /[\u007f-\u009f\u2028\u2029\ufeff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function pyNumber(n: number): string {
  if (Number.isNaN(n)) return 'float("nan")';
  if (!Number.isFinite(n)) return n > 0 ? 'float("inf")' : '-float("inf")';
  return JSON.stringify(n);
}

function inline(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return pyNumber(v);
  if (typeof v === 'string') return pyString(v);
  if (Array.isArray(v)) return `[${v.map(inline).join(', ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries.map(([k, x]) => `${pyString(k)}: ${inline(x)}`).join(', ')}}`;
  }
  throw new TypeError(`cannot write a ${typeof v} as a Python literal`);
}

/** A Python literal for `value`; `column` is where it starts (for the line-width choice). */
export function pyLiteral(value: unknown, indent = 0, column = indent): string {
  const one = inline(value);
  if (column + one.length <= WIDTH || value === null || typeof value !== 'object') return one;
  const pad = ' '.repeat(indent + 4);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((x) => `${pad}${pyLiteral(x, indent + 4)},`).join('\n')}\n${' '.repeat(indent)}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return '{}';
  const lines = entries.map(([k, x]) => {
    const key = `${pyString(k)}: `;
    return `${pad}${key}${pyLiteral(x, indent + 4, indent + 4 + key.length)},`;
  });
  return `{\n${lines.join('\n')}\n${' '.repeat(indent)}}`;
}

/** `prefix(name=literal, …)`: on one line when it fits, else one argument per line. */
export function pyCall(callee: string, kwargs: Record<string, unknown>): string {
  const args = Object.entries(kwargs).filter(([, v]) => v !== undefined);
  const one = `${callee}(${args.map(([k, v]) => `${k}=${inline(v)}`).join(', ')})`;
  if (one.length <= WIDTH) return one;
  const lines = args.map(([k, v]) => `    ${k}=${pyLiteral(v, 4, 5 + k.length)},`);
  return `${callee}(\n${lines.join('\n')}\n)`;
}
