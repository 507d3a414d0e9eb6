// Line-level markdown helpers shared by the srcmd encoder and decoder. The encoder
// and decoder must classify every line the same way, so both use these functions.
// Only "\n" separates lines; "\r" is ordinary content (so CRLF inside sources survives).

export const HEADER_RE = /^<!-- srcbook:(.*) -->$/;
export const MARKER_RE = /^<!-- cell:(.*) -->$/;

/** Header keys the codec owns; any other header key is kept in `metadata.srcbook`. */
export const OWN_HEADER_KEYS = new Set(['language', 'title']);

/** Longest run of `ch` in `text`. */
function longestRun(text: string, ch: string): number {
  let best = 0;
  let run = 0;
  for (const c of text) {
    run = c === ch ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best;
}

/** A backtick fence longer than any backtick run in `code`, so no code line can close it. */
export function fenceFor(code: string): string {
  return '`'.repeat(Math.max(3, longestRun(code, '`') + 1));
}

const FENCE_OPEN_RE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

export interface FenceOpen {
  char: string;
  len: number;
}

/** Opening fence per CommonMark: ≥3 backticks (info without backticks) or ≥3 tildes. */
export function fenceOpen(line: string): FenceOpen | null {
  const m = FENCE_OPEN_RE.exec(line);
  if (!m) return null;
  const run = m[1]!;
  const char = run[0]!;
  if (char === '`' && m[2]!.includes('`')) return null;
  return { char, len: run.length };
}

/** Closing fence for `open`: same char, at least as long, nothing but whitespace after. */
export function fenceCloses(line: string, open: FenceOpen): boolean {
  const m = /^ {0,3}(`+|~+)[ \t\r]*$/.exec(line);
  return m !== null && m[1]![0] === open.char && m[1]!.length >= open.len;
}

/**
 * Tracks fenced code blocks inside markdown. `feed` returns true when the line is
 * part of a fence (delimiters included): headings there are code, not structure.
 */
export class FenceTracker {
  #open: FenceOpen | null = null;
  /** The fence still open after the lines fed so far, if any. */
  get openFence(): FenceOpen | null {
    return this.#open;
  }
  feed(line: string): boolean {
    if (this.#open) {
      if (fenceCloses(line, this.#open)) this.#open = null;
      return true;
    }
    this.#open = fenceOpen(line);
    return this.#open !== null;
  }
}

const H1_RE = /^ {0,3}#(?=[ \t\r]|$)/;
const H6_RE = /^ {0,3}######(?=[ \t\r]|$)/;

export const isH1 = (line: string): boolean => H1_RE.test(line);
export const isH6 = (line: string): boolean => H6_RE.test(line);

/** Text of an ATX heading of `level`, trimmed and without a closing `#` sequence (CommonMark). */
export function headingText(line: string, level: 1 | 6): string | null {
  const re = level === 1 ? H1_RE : H6_RE;
  const m = re.exec(line);
  if (!m) return null;
  const s = line.slice(m[0].length).replace(/^[ \t\r]+|[ \t\r]+$/g, '');
  if (/^#+$/.test(s)) return '';
  return s.replace(/[ \t\r]+#+$/, '').replace(/[ \t\r]+$/, '');
}

export function headingLine(text: string, level: 1 | 6): string {
  const hashes = '#'.repeat(level);
  return text === '' ? hashes : `${hashes} ${text}`;
}

/** Whether `text` survives a trip through an ATX heading line. */
export function headingHolds(text: string, level: 1 | 6): boolean {
  return !text.includes('\n') && headingText(headingLine(text, level), level) === text;
}

// Markdown escaping. A markdown line that the decoder would read as structure gets one
// more leading backslash: an h1 or h6 heading outside a fence (reserved by Srcbook for the
// title and the code-cell file names), a setext `===` underline outside a fence, and a
// cell marker anywhere. Lines that already
// carry backslashes in that position get one more too, so the mapping is reversible.
// `\#` renders as a literal `#`, so the escaped text still reads as intended.
const ESC_HEADING_RE = /^( {0,3})(\\*(?:#|######)(?=[ \t\r]|$))/;
const UNESC_HEADING_RE = /^( {0,3})\\(\\*(?:#|######)(?=[ \t\r]|$))/;
// `===` under a paragraph line makes a setext h1; escaping every such line is simpler
// than tracking paragraphs and renders the same where it was not an underline.
const ESC_SETEXT_RE = /^( {0,3})(\\*=+[ \t\r]*)$/;
const UNESC_SETEXT_RE = /^( {0,3})\\(\\*=+[ \t\r]*)$/;
const ESC_MARKER_RE = /^(\\*<!-- cell:)/;
const UNESC_MARKER_RE = /^\\(\\*<!-- cell:)/;

export function escapeMarkdown(source: string): { lines: string[]; unclosed: FenceOpen | null } {
  const fences = new FenceTracker();
  const lines = source.split('\n').map((line) => {
    const inFence = fences.feed(line);
    if (ESC_MARKER_RE.test(line)) return `\\${line}`;
    return inFence ? line : line.replace(ESC_HEADING_RE, '$1\\$2').replace(ESC_SETEXT_RE, '$1\\$2');
  });
  return { lines, unclosed: fences.openFence };
}

/** Reverses `escapeMarkdown` for one line; `inFence` from a FenceTracker fed the escaped lines. */
export function unescapeMarkdownLine(line: string, inFence: boolean): string {
  if (UNESC_MARKER_RE.test(line)) return line.replace(UNESC_MARKER_RE, '$1');
  return inFence ? line : line.replace(UNESC_HEADING_RE, '$1$2').replace(UNESC_SETEXT_RE, '$1$2');
}

/** JSON safe inside a one-line HTML comment: no `>` (so no `-->`), no `<`, no line separators. */
export function commentJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export const isBlank = (line: string): boolean => /^[ \t\r]*$/.test(line);

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
