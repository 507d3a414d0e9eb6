// .src.md → Notebook. Reads our own output exactly and plain Srcbook files leniently
// (cells without markers get ids derived from their file name or position).
import { SrcmdParseError } from './errors.ts';
import {
  FenceTracker,
  fenceCloses,
  fenceOpen,
  HEADER_RE,
  headingText,
  isBlank,
  isH1,
  isH6,
  isPlainObject,
  MARKER_RE,
  OWN_HEADER_KEYS,
  unescapeMarkdownLine,
} from './lines.ts';
import {
  CELL_ID_RULE,
  type Cell,
  CellId,
  type CodeCell,
  type MarkdownCell,
  type Notebook,
} from './nbformat.ts';

interface Marker {
  id: string;
  filename?: string | null;
  metadata?: Record<string, unknown>;
  /** The encoder appended a closing fence line to the markdown (see encode.ts). */
  fenceClosed?: boolean;
  line: number;
}

interface Draft {
  id?: string;
  line: number;
  cell: Omit<CodeCell, 'id'> | Omit<MarkdownCell, 'id'>;
}

function parseJsonComment(raw: string, line: number, what: string, example: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    throw new SrcmdParseError(
      line,
      `${what} is not valid JSON (${(e as Error).message})`,
      `write it as ${example}`,
    );
  }
  if (!isPlainObject(value)) {
    throw new SrcmdParseError(line, `${what} must be a JSON object`, `write it as ${example}`);
  }
  return value;
}

function parseMarker(raw: string, line: number): Marker {
  const example = '<!-- cell:{"id":"my-cell"} -->';
  const obj = parseJsonComment(raw, line, 'the cell marker', example);
  if (!CellId.safeParse(obj.id).success) {
    throw new SrcmdParseError(
      line,
      `cell marker id ${JSON.stringify(obj.id)} is missing or invalid (${CELL_ID_RULE})`,
      `use an id like ${example}`,
    );
  }
  const marker: Marker = { id: obj.id as string, line };
  if ('filename' in obj) {
    if (obj.filename !== null && typeof obj.filename !== 'string') {
      throw new SrcmdParseError(line, 'cell marker "filename" must be a string or null', 'fix or remove it');
    }
    marker.filename = obj.filename as string | null;
  }
  if (obj.fence_closed === true) marker.fenceClosed = true;
  if ('metadata' in obj) {
    if (!isPlainObject(obj.metadata)) {
      throw new SrcmdParseError(line, 'cell marker "metadata" must be a JSON object', 'fix or remove it');
    }
    marker.metadata = obj.metadata;
  }
  return marker;
}

/** Splits text into lines; the file's final newline does not start another line. */
function toLines(text: string): string[] {
  let t = text.startsWith('\uFEFF') ? text.slice(1) : text;
  // Our encoder never writes "\r" outside sources, so a CR-terminated header means the
  // whole file went through a CRLF conversion (e.g. a Windows editor): undo it.
  const firstEnd = t.indexOf('\n');
  if (firstEnd > 0 && t[firstEnd - 1] === '\r') t = t.replace(/\r\n/g, '\n');
  const lines = t.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

class Decoder {
  #i = 0;
  readonly #drafts: Draft[] = [];
  #pending: Marker | null = null;

  readonly #lines: string[];
  constructor(lines: string[]) {
    this.#lines = lines;
  }

  run(): Notebook {
    const lines = this.#lines;
    const headerMatch = HEADER_RE.exec(lines[0] ?? '');
    const headerExample = '<!-- srcbook:{"language":"python"} -->';
    if (!headerMatch) {
      throw new SrcmdParseError(
        1,
        'missing the srcbook header comment',
        `make the first line ${headerExample}`,
      );
    }
    const header = parseJsonComment(headerMatch[1]!, 1, 'the srcbook header', headerExample);
    if (header.language !== undefined && header.language !== 'python') {
      throw new SrcmdParseError(
        1,
        `language ${JSON.stringify(header.language)} is not supported (Peragus notebooks are Python)`,
        'set "language":"python" and use Python code cells',
      );
    }
    if (header.title !== undefined && typeof header.title !== 'string') {
      throw new SrcmdParseError(1, 'header "title" must be a string', 'fix or remove it');
    }
    this.#i = 1;
    this.#skipBlank();
    const titleLine = lines[this.#i];
    if (titleLine === undefined || !isH1(titleLine)) {
      throw new SrcmdParseError(
        this.#i + 1,
        `expected the notebook title as a '# Title' line, found ${titleLine === undefined ? 'the end of the file' : JSON.stringify(titleLine)}`,
        'put exactly one "# Your title" line right after the header',
      );
    }
    const title = typeof header.title === 'string' ? header.title : headingText(titleLine, 1)!;
    this.#i++;
    while (this.#i < lines.length) this.#step();
    // fromEntries defines own properties, so even a "__proto__" key is kept as data.
    const extras = Object.fromEntries(Object.entries(header).filter(([k]) => !OWN_HEADER_KEYS.has(k)));
    return {
      title,
      language: 'python',
      cells: this.#finishIds(),
      metadata: Object.keys(extras).length > 0 ? { srcbook: extras } : {},
    };
  }

  #skipBlank(): void {
    while (this.#i < this.#lines.length && isBlank(this.#lines[this.#i]!)) this.#i++;
  }

  #step(): void {
    const line = this.#lines[this.#i]!;
    const m = MARKER_RE.exec(line);
    if (m) {
      this.#pending = parseMarker(m[1]!, this.#i + 1);
      this.#i++;
      let j = this.#i;
      while (j < this.#lines.length && isBlank(this.#lines[j]!)) j++;
      if (j < this.#lines.length && isH6(this.#lines[j]!)) this.#i = j;
      else this.#markdown(true);
    } else if (isH6(line)) {
      this.#code();
    } else if (isBlank(line)) {
      this.#i++;
    } else {
      this.#markdown(false);
    }
  }

  #take(): Marker | null {
    const marker = this.#pending;
    this.#pending = null;
    return marker;
  }

  /** A markdown cell runs until the next marker or (outside a fence) the next code-cell heading. */
  #markdown(explicit: boolean): void {
    const lines = this.#lines;
    const marker = explicit ? this.#take() : null;
    const start = this.#i;
    const fences = new FenceTracker();
    const body: string[] = [];
    let stoppedEarly = false;
    for (; this.#i < lines.length; this.#i++) {
      const line = lines[this.#i]!;
      if (MARKER_RE.test(line)) {
        stoppedEarly = true;
        break;
      }
      const inFence = fences.feed(line);
      if (!inFence && isH6(line)) {
        stoppedEarly = true;
        break;
      }
      if (!inFence && isH1(line)) {
        throw new SrcmdParseError(
          this.#i + 1,
          `a second h1 heading ${JSON.stringify(line)}; srcmd allows exactly one h1 (the title)`,
          'use "##" for section headings, or write "\\#" to keep a literal "#"',
        );
      }
      body.push(unescapeMarkdownLine(line, inFence));
    }
    if (explicit) {
      // The encoder separates cells with one blank line; it is not part of the source.
      if (stoppedEarly && body.length > 0 && isBlank(body[body.length - 1]!)) body.pop();
      if (marker?.fenceClosed && body.length > 0 && /^(`{3,}|~{3,})$/.test(body[body.length - 1]!))
        body.pop();
    } else {
      while (body.length > 0 && isBlank(body[0]!)) body.shift();
      while (body.length > 0 && isBlank(body[body.length - 1]!)) body.pop();
    }
    this.#drafts.push({
      id: marker?.id,
      line: marker?.line ?? start + 1,
      cell: { cell_type: 'markdown', source: body.join('\n'), metadata: marker?.metadata ?? {} },
    });
  }

  #code(): void {
    const lines = this.#lines;
    const marker = this.#take();
    const headLine = this.#i + 1;
    const shown = headingText(lines[this.#i]!, 6)!;
    this.#i++;
    this.#skipBlank();
    const openLine = lines[this.#i];
    // Code-cell fences start in column 0, so no indentation has to be stripped from the code.
    const open = openLine !== undefined && /^[`~]/.test(openLine) ? fenceOpen(openLine) : null;
    if (!open) {
      throw new SrcmdParseError(
        headLine,
        `code cell heading "###### ${shown}" is not followed by a fenced code block`,
        'put a ```python block right after it, or use a lower heading level (#####) for plain text',
      );
    }
    const openAt = this.#i + 1;
    let close = this.#i + 1;
    while (close < lines.length && !fenceCloses(lines[close]!, open)) close++;
    if (close >= lines.length) {
      const fence = open.char.repeat(open.len);
      throw new SrcmdParseError(
        openAt,
        `the code block of "${shown}" opened with ${fence} is never closed`,
        `add a closing line of at least ${open.len} ${open.char === '`' ? 'backticks' : 'tildes'} (${fence}) after the code`,
      );
    }
    const source = lines.slice(this.#i + 1, close).join('\n');
    this.#i = close + 1;
    const filename = marker && 'filename' in marker ? (marker.filename ?? undefined) : shown;
    this.#drafts.push({
      id: marker?.id,
      line: marker?.line ?? headLine,
      cell: {
        cell_type: 'code',
        ...(filename !== undefined ? { filename } : {}),
        source,
        execution_count: null,
        outputs: [],
        metadata: marker?.metadata ?? {},
      },
    });
  }

  /** Checks explicit ids and file names are unique, then derives ids for unmarked cells. */
  #finishIds(): Cell[] {
    const ids = new Map<string, number>();
    const names = new Map<string, number>();
    for (const d of this.#drafts) {
      if (d.id !== undefined) {
        const prev = ids.get(d.id);
        if (prev !== undefined) {
          throw new SrcmdParseError(
            d.line,
            `duplicate cell id "${d.id}" (first used on line ${prev})`,
            'give every cell marker a unique id',
          );
        }
        ids.set(d.id, d.line);
      }
      if (d.cell.cell_type === 'code' && d.cell.filename !== undefined) {
        const prev = names.get(d.cell.filename);
        if (prev !== undefined) {
          throw new SrcmdParseError(
            d.line,
            `duplicate code cell file name "${d.cell.filename}" (first used on line ${prev})`,
            'rename one of the "###### name.py" headings',
          );
        }
        names.set(d.cell.filename, d.line);
      }
    }
    let mdCount = 0;
    return this.#drafts.map((d) => {
      let id = d.id;
      if (id === undefined) {
        const base =
          d.cell.cell_type === 'code' ? idFromFilename(d.cell.filename ?? 'cell') : `md-${++mdCount}`;
        id = base;
        for (let n = 2; ids.has(id); n++) id = `${base.slice(0, 60)}-${n}`;
        ids.set(id, d.line);
      }
      return { id, ...d.cell } as Cell;
    });
  }
}

/** Stable id for a code cell without a marker: its file name without extension, sanitized. */
function idFromFilename(filename: string): string {
  const stem = filename.replace(/\.[^.]*$/, '') || filename;
  const id = stem.replace(/[^a-zA-Z0-9_-]+/g, '-').slice(0, 64);
  return id.replace(/^-+|-+$/g, '') || 'cell';
}

/** .src.md text → Notebook (no outputs). Throws SrcmdParseError naming the line. */
export function decodeSrcmd(text: string): Notebook {
  return new Decoder(toLines(text)).run();
}
