// Per-experiment hub tokens: minted at create, revoked at destroy. Only the
// sha256 of a token is kept (in memory and in <home>/hub/tokens.json, so a
// restarted host still knows the nodes of the experiments it left running);
// a presented token is compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeStateFile } from '../state-file.ts';

const hash = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export class HubTokens {
  readonly #hashes = new Map<string, Buffer>();

  /** `file`: where the hashes persist (mode 0600); none keeps them in memory only. */
  readonly #file: string | undefined;
  constructor(file?: string) {
    this.#file = file;
    if (!file) return;
    try {
      const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
      for (const [id, hex] of Object.entries(stored)) {
        if (/^[0-9a-f]{64}$/.test(hex)) this.#hashes.set(id, Buffer.from(hex, 'hex'));
      }
    } catch {
      // no file yet (or unreadable): start empty
    }
  }

  /** A fresh token for the experiment (replacing any earlier one); only its hash is kept. */
  mint(experimentId: string): string {
    const token = randomBytes(32).toString('base64url');
    this.#hashes.set(experimentId, hash(token));
    this.#save();
    return token;
  }

  revoke(experimentId: string): boolean {
    const had = this.#hashes.delete(experimentId);
    if (had) this.#save();
    return had;
  }

  has(experimentId: string): boolean {
    return this.#hashes.has(experimentId);
  }

  /** Experiments with a live token. */
  ids(): string[] {
    return [...this.#hashes.keys()];
  }

  /** True only for the token minted for this experiment and not revoked since. */
  verify(experimentId: string, token: string): boolean {
    const expected = this.#hashes.get(experimentId);
    // Hash first: both sides are 32 bytes, so the comparison time says nothing about the token.
    const given = hash(typeof token === 'string' ? token : '');
    if (!expected) {
      timingSafeEqual(given, given);
      return false;
    }
    return timingSafeEqual(given, expected);
  }

  #save(): void {
    if (!this.#file) return;
    mkdirSync(dirname(this.#file), { recursive: true, mode: 0o700 });
    const out: Record<string, string> = {};
    for (const [id, h] of this.#hashes) out[id] = h.toString('hex');
    writeStateFile(this.#file, `${JSON.stringify(out)}\n`, { mode: 0o600 });
  }
}
