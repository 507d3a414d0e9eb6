// Typed errors of the codecs. Each message names where the problem is (a line of a
// .src.md or a JSON path of an .ipynb / outputs file) and how to fix it, because
// these files are often written by hand or by another tool.
import { PeragusError } from '../../notebook-server/src/errors/index.ts';

/** A .src.md text does not follow the grammar. `line` is 1-based. */
export class SrcmdParseError extends PeragusError {
  override readonly name = 'SrcmdParseError';
  constructor(
    readonly line: number,
    readonly problem: string,
    override readonly fix: string,
  ) {
    super('srcmd_parse_error', `srcmd line ${line}: ${problem}. Fix: ${fix}`, { fix });
  }
}

/** A notebook cannot be written as srcmd (e.g. duplicate ids or file names). */
export class NotebookInvalidError extends PeragusError {
  override readonly name = 'NotebookInvalidError';
  constructor(
    readonly field: string,
    readonly problem: string,
    override readonly fix: string,
  ) {
    super('notebook_invalid', `notebook ${field}: ${problem}. Fix: ${fix}`, { fix });
  }
}

/** An .ipynb text is not a usable nbformat 4 notebook. `field` is a JSON path like `cells[2].source`. */
export class IpynbParseError extends PeragusError {
  override readonly name = 'IpynbParseError';
  constructor(
    readonly field: string,
    readonly problem: string,
    override readonly fix: string,
  ) {
    super('ipynb_parse_error', `ipynb ${field || '(root)'}: ${problem}. Fix: ${fix}`, { fix });
  }
}

/** A `.outputs.json` text does not match its notebook or the schema. `field` is a JSON path. */
export class OutputsParseError extends PeragusError {
  override readonly name = 'OutputsParseError';
  constructor(
    readonly field: string,
    readonly problem: string,
    override readonly fix: string,
  ) {
    super('outputs_parse_error', `outputs.json ${field || '(root)'}: ${problem}. Fix: ${fix}`, { fix });
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
