// Atomic writes that leave a file alone while it still holds exactly what this writer last put
// there. A session saves its notebook, outputs and record on every change (9 saves per
// experiment), and most saves change one or two of the three: each write skipped is a temp
// inode, an fsync and a rename fewer on the experiment's disk.
// "Still what we wrote" is checked, never assumed: the path must be the same inode with the same
// size and ctime as right after our write (ctime moves on any write, truncation or chmod, and no
// one can set it back), so a file edited, replaced, truncated or deleted since is written again.
import { createHash } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { type AtomicWriteOptions, writeFileAtomicAsync } from './atomic.ts';

interface Identity {
  ino: bigint;
  size: bigint;
  ctimeNs: bigint;
}

interface Written extends Identity {
  /** The text's digest, not the text: an outputs file can hold megabytes of plots. */
  digest: string;
}

function identity(path: string): Identity | undefined {
  try {
    const st = lstatSync(path, { bigint: true });
    return st.isFile() ? { ino: st.ino, size: st.size, ctimeNs: st.ctimeNs } : undefined;
  } catch {
    return undefined;
  }
}

const digestOf = (text: string) => createHash('sha256').update(text).digest('base64');

export class UnchangedFiles {
  readonly #written = new Map<string, Written>();
  readonly #options: AtomicWriteOptions;
  constructor(options: AtomicWriteOptions = {}) {
    this.#options = options;
  }

  /**
   * Replaces `path` with `text` atomically, unless it still holds `text` from our last write; true
   * when it wrote. `at` names the same file for the file system (e.g. through a pinned directory).
   */
  async write(path: string, text: string, at = path): Promise<boolean> {
    const digest = digestOf(text);
    const last = this.#written.get(path);
    const now = last?.digest === digest ? identity(at) : undefined;
    if (last && now && now.ino === last.ino && now.size === last.size && now.ctimeNs === last.ctimeNs) {
      return false;
    }
    // Forgotten first: a write that fails part-way leaves nothing to skip against.
    this.#written.delete(path);
    // The flush waits on the thread pool (writeFileAtomicAsync), not on the event loop.
    await writeFileAtomicAsync(at, text, this.#options);
    const written = identity(at);
    if (written) this.#written.set(path, { digest, ...written });
    return true;
  }
}
