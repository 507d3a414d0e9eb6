// Typed errors of the codecs. Each message names where the problem is (a line of a
// .src.md or a JSON path of an .ipynb / outputs file) and how to fix it, because
// these files are often written by hand or by another tool.

/** A .src.md text does not follow the grammar. `line` is 1-based. */
export class SrcmdParseError extends Error {
  override readonly name = 'SrcmdParseError';
  constructor(
    readonly line: number,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`srcmd line ${line}: ${problem}. Fix: ${fix}`);
  }
}

/** A notebook cannot be written as srcmd (e.g. duplicate ids or file names). */
export class NotebookInvalidError extends Error {
  override readonly name = 'NotebookInvalidError';
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`notebook ${field}: ${problem}. Fix: ${fix}`);
  }
}

/** An .ipynb text is not a usable nbformat 4 notebook. `field` is a JSON path like `cells[2].source`. */
export class IpynbParseError extends Error {
  override readonly name = 'IpynbParseError';
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`ipynb ${field || '(root)'}: ${problem}. Fix: ${fix}`);
  }
}

/** A `.outputs.json` text does not match its notebook or the schema. `field` is a JSON path. */
export class OutputsParseError extends Error {
  override readonly name = 'OutputsParseError';
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`outputs.json ${field || '(root)'}: ${problem}. Fix: ${fix}`);
  }
}

/** Formats a zod-style issue path as `cells[2].outputs[0].text`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}
