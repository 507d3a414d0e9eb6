// Which files a rerun needs: the ones the notebook's code names. Every quoted
// string in a code cell (the JSON of peragus_pysd calls included) that names a
// file or folder inside the inputs dir is copied, and so are the files a named
// model refers to (a Vensim GET XLS data file, say). Never copied: the inputs
// dir itself, old outputs (results/, exports/, artifacts/), paths that leave
// the dir, symlinks, sockets and other special files, virtualenvs, caches.
import {
  copyFileSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  type Stats,
  statSync,
} from 'node:fs';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';

const OUTPUT_DIRS = new Set(['exports', 'results', 'artifacts', '.peragus']);
const NEVER = new Set(['node_modules', '.git', '__pycache__', '.venv', 'venv', '.ipynb_checkpoints']);
const MODEL_EXT = new Set(['.mdl', '.xmile', '.stmx', '.py']);
const MAX_MODEL_SCAN = 8 * 1024 * 1024;

/** Quoted strings in source text ('…' and "…", one line each; quotes inside the other kind too). */
export function quotedStrings(text: string): string[] {
  const out: string[] = [];
  for (const re of [/"((?:[^"\\\n]|\\.){1,4096})"/g, /'((?:[^'\\\n]|\\.){1,4096})'/g]) {
    for (const m of text.matchAll(re)) {
      const s = (m[1] ?? '').replace(/\\(["'\\/])/g, '$1');
      if (s.trim() !== '' && !s.includes('\0')) out.push(s);
    }
  }
  return out;
}

function statOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** The inputs-relative path a reference names, or null if it names nothing we may copy. */
function confined(root: string, base: string, ref: string): string | null {
  const abs = isAbsolute(ref) ? resolve(ref) : resolve(base, ref);
  const rel = relative(root, abs);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return null;
  const parts = rel.split(sep);
  if (OUTPUT_DIRS.has(parts[0] as string) || parts.some((p) => NEVER.has(p))) return null;
  // Nothing inside a virtualenv (a folder holding pyvenv.cfg), whatever its name.
  for (let i = 1; i < parts.length; i++) {
    if (statOrNull(join(root, ...parts.slice(0, i), 'pyvenv.cfg'))) return null;
  }
  return rel;
}

export interface CopiedInputs {
  /** Paths copied, relative to the inputs dir. */
  files: string[];
}

export function copyReferencedInputs(sources: string[], from: string, to: string): CopiedInputs {
  const root = resolve(from);
  const files = new Set<string>();
  // The copies belong to whoever owns the work dir: a host's sandboxed kernel writes beside them.
  // Never through a link (lchown): the work dir is fresh, but a chown as root must not follow one.
  const { uid, gid } = statSync(to);
  const own = (path: string) => {
    if (process.getuid?.() === 0 && (uid !== 0 || gid !== 0)) lchownSync(path, uid, gid);
  };
  const copyFile = (rel: string) => {
    if (files.has(rel)) return;
    files.add(rel);
    const made = mkdirSync(dirname(join(to, rel)), { recursive: true });
    if (made) for (let d = dirname(join(to, rel)); d.startsWith(made); d = dirname(d)) own(d);
    copyFileSync(join(root, rel), join(to, rel));
    own(join(to, rel));
  };
  const copyTree = (rel: string) => {
    const abs = join(root, rel);
    // A virtualenv (or anything with one inside) is never an input.
    if (statOrNull(join(abs, 'pyvenv.cfg'))) return;
    for (const entry of readdirSync(abs)) {
      if (NEVER.has(entry)) continue;
      const child = join(rel, entry);
      const st = statOrNull(join(root, child));
      if (st?.isFile()) copyFile(child);
      else if (st?.isDirectory()) copyTree(child);
    }
  };
  const visit = (ref: string, base: string, depth: number) => {
    const rel = confined(root, base, ref);
    if (rel === null) return;
    const st = statOrNull(join(root, rel));
    if (st?.isDirectory()) copyTree(rel);
    else if (st?.isFile() && !files.has(rel)) {
      copyFile(rel);
      // A model names its data files relative to itself.
      if (depth === 0 && MODEL_EXT.has(extname(rel).toLowerCase()) && st.size <= MAX_MODEL_SCAN) {
        const text = readFileSync(join(root, rel), 'utf8');
        for (const s of quotedStrings(text)) visit(s, dirname(join(root, rel)), depth + 1);
      }
    }
  };
  for (const source of sources) for (const s of quotedStrings(source)) visit(s, root, 0);
  return { files: [...files].sort() };
}
