// The modeller's model library: uploaded (or example) model files kept under
// <home>/workbench/models/<model id>/ with their description (model.json).
// A file is checked before it is kept: a known extension, text that looks
// like that format, and a translation by PySD that succeeds.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeModel, locateError, type ModelDescription } from './describe.ts';
import { badInput, notFound, WorkbenchError } from './errors.ts';

export const MODEL_EXTENSIONS: Record<string, 'vensim' | 'xmile' | 'python'> = {
  '.mdl': 'vensim',
  '.xmile': 'xmile',
  '.xml': 'xmile',
  '.stmx': 'xmile',
  '.py': 'python',
};
export const MAX_MODEL_BYTES = 20_000_000;

export interface ModelMeta {
  model_id: string;
  filename: string;
  format: 'vensim' | 'xmile' | 'python';
  sha256: string;
  bytes: number;
  uploaded_at: string;
  /** Where it came from: "upload" or "example". */
  origin: string;
  description: ModelDescription;
}

const here = dirname(fileURLToPath(import.meta.url));
export const EXAMPLES_DIR = resolve(here, '../../../notebooks');

const ID_RE = /^[a-z0-9][a-z0-9-]{0,80}$/;

function slug(s: string): string {
  return (
    s
      .replace(/[^A-Za-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .toLowerCase()
      .slice(0, 60) || 'model'
  );
}

/** Refuses files that cannot be a model of their declared kind, saying what was expected. */
export function checkModelFile(filename: string, content: string): 'vensim' | 'xmile' | 'python' {
  const name = basename(filename);
  if (name !== filename || name.startsWith('.') || name.length > 200 || /[\0/\\]/.test(name)) {
    throw badInput(
      `"${filename}" is not a plain file name: give the model file's name, e.g. sir.mdl`,
      'file',
    );
  }
  const format = MODEL_EXTENSIONS[extname(name).toLowerCase()];
  if (!format) {
    throw badInput(
      `${name} is not a model file: upload a Vensim .mdl, an XMILE .xmile/.stmx or a PySD-translated .py`,
      'file',
    );
  }
  if (Buffer.byteLength(content) > MAX_MODEL_BYTES) {
    throw badInput(`${name} is larger than ${MAX_MODEL_BYTES / 1e6} MB: that is not a model file`, 'file');
  }
  if (content.includes('\0'))
    throw badInput(`${name} is a binary file, not a model (models are text)`, 'file');
  const looksRight =
    format === 'vensim'
      ? /[=]/.test(content) && /~/.test(content) && /\|/.test(content)
      : format === 'xmile'
        ? /<xmile[\s>]/i.test(content)
        : /\bpysd\b/.test(content) && /\bdef\s+\w+\(/.test(content);
  if (!looksRight) {
    const expected =
      format === 'vensim'
        ? 'Vensim equations (name = expression ~ units ~ comment |)'
        : format === 'xmile'
          ? 'an <xmile> document'
          : 'a model translated by PySD (a module of component functions)';
    throw badInput(`${name} is not a model: it does not contain ${expected}`, 'file');
  }
  return format;
}

export class ModelStore {
  readonly dir: string;
  readonly #home: string;

  constructor(home: string) {
    this.#home = home;
    this.dir = join(home, 'workbench', 'models');
    mkdirSync(this.dir, { recursive: true });
  }

  list(): ModelMeta[] {
    const out: ModelMeta[] = [];
    for (const id of readdirSync(this.dir)) {
      const meta = join(this.dir, id, 'model.json');
      if (existsSync(meta)) out.push(JSON.parse(readFileSync(meta, 'utf8')) as ModelMeta);
    }
    return out.sort((a, b) => b.uploaded_at.localeCompare(a.uploaded_at));
  }

  get(id: string): ModelMeta {
    const meta = ID_RE.test(id) ? join(this.dir, id, 'model.json') : '';
    if (!meta || !existsSync(meta)) throw notFound(`no model "${id}": upload it first (Models page)`);
    return JSON.parse(readFileSync(meta, 'utf8')) as ModelMeta;
  }

  text(id: string): string {
    const m = this.get(id);
    return readFileSync(join(this.dir, id, m.filename), 'utf8');
  }

  /** Checks, translates and keeps a model; the same file again returns the kept one. */
  async add(filename: string, content: string, origin = 'upload'): Promise<ModelMeta> {
    const format = checkModelFile(filename, content);
    const sha256 = createHash('sha256').update(content).digest('hex');
    const id = `${slug(filename.replace(/\.[^.]+$/, ''))}-${sha256.slice(0, 8)}`;
    const folder = join(this.dir, id);
    if (existsSync(join(folder, 'model.json'))) return this.get(id);
    const work = join(this.dir, `.tmp-${id}-${process.pid}-${Date.now()}`);
    mkdirSync(work, { recursive: true });
    try {
      writeFileSync(join(work, filename), content);
      let description: ModelDescription;
      try {
        description = await describeModel(this.#home, filename, content);
      } catch (err) {
        const message = (err as Error).message;
        const where = locateError(message, content);
        const at =
          where.variable && where.line
            ? `the equation of "${where.variable}" (line ${where.line})`
            : where.line
              ? `line ${where.line}`
              : 'the file';
        throw new WorkbenchError(
          'untranslatable_model',
          `PySD cannot translate ${filename}: ${at} is the problem. ${message.replace(/^PySD cannot translate [^:]+: /, '')} Fix it and upload the file again.`,
          'file',
        );
      }
      const meta: ModelMeta = {
        model_id: id,
        filename,
        format,
        sha256,
        bytes: Buffer.byteLength(content),
        uploaded_at: new Date().toISOString(),
        origin,
        description,
      };
      writeFileSync(join(work, 'model.json'), JSON.stringify(meta));
      if (existsSync(folder)) rmSync(folder, { recursive: true, force: true });
      renameSync(work, folder);
      return meta;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  /** Example models shipped in notebooks/models. */
  examples(): { filename: string; bytes: number }[] {
    const dir = join(EXAMPLES_DIR, 'models');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => MODEL_EXTENSIONS[extname(f).toLowerCase()])
      .sort()
      .map((f) => ({ filename: f, bytes: readFileSync(join(dir, f)).length }));
  }

  addExample(filename: string): Promise<ModelMeta> {
    const known = this.examples().find((e) => e.filename === filename);
    if (!known)
      throw notFound(
        `no example model "${filename}"; examples: ${this.examples()
          .map((e) => e.filename)
          .join(', ')}`,
      );
    return this.add(filename, readFileSync(join(EXAMPLES_DIR, 'models', filename), 'utf8'), 'example');
  }
}
