// Translate once, for sessions too: a session's pysd_model_load with inline
// content is routed on at once, and the host also has the model translated
// into the shared cache in the background, in the model check's sandbox
// (model-check.ts). That session's kernel translates for itself as before (a
// translation the host did not make in a fresh sandbox is never published:
// experiment code could have changed it); every later session that loads the
// same content finds the translation and loads it, without importing PySD's
// translator (≈ 500 modules, black among them). Best effort: a file already in
// the work dir, a PySD .py model, a source the node will refuse or a model PySD
// cannot translate change nothing; the kernel reports its own errors.

import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { confineRelative } from '../confine/relative.ts';
import type { ZygoteRegistry } from '../kernel/zygote.ts';
import type { Logger } from '../log/index.ts';
import { sharedCacheEnv } from '../runtime/paths.ts';
import { publishedEntry, runModelCheck } from './model-check.ts';
import type { ContainerRouter } from './router.ts';
import type { ToolCall } from './tool-call.ts';

/** A translation that takes longer is given up (the kernels translate for themselves). */
const TRANSLATE_TIMEOUT_MS = 120_000;
const TRANSLATED = new Set(['.mdl', '.xmile', '.xml', '.stmx']);

/** Whether a load names a model the host can translate ahead (inline text of a translated format). */
export function translatable(args: Record<string, unknown>): args is { source: string; content: string } {
  if (typeof args.content !== 'string' || typeof args.source !== 'string') return false;
  if (args.format === 'python') return false;
  if (args.format === undefined && !TRANSLATED.has(extname(args.source).toLowerCase())) return false;
  // A path the node will refuse is not worth a translation.
  try {
    confineRelative(args.source);
  } catch {
    return false;
  }
  return true;
}

export class TranslateAhead {
  /** Translations in flight, by the content's sha256: one per model at a time. */
  readonly #running = new Map<string, Promise<void>>();
  readonly #home: string;
  readonly #log: Logger;
  readonly #closing = new AbortController();
  readonly #zygote: () => Promise<ZygoteRegistry | null>;
  /** `zygote`: the kernel zygote a translation is forked from when one runs (model-check.ts). */
  constructor(home: string, log: Logger, zygote: () => Promise<ZygoteRegistry | null> = async () => null) {
    this.#home = home;
    this.#log = log;
    this.#zygote = zygote;
  }

  /** Starts the model's translation unless it is cached or under way; resolves when it is done. */
  start(args: { source: string; content: string; format?: unknown }): Promise<void> {
    const cache = sharedCacheEnv(this.#home);
    const sha = createHash('sha256').update(args.content).digest('hex');
    if (this.#closing.signal.aborted || cache === '0' || publishedEntry(cache, sha)) return Promise.resolve();
    const running = this.#running.get(sha);
    if (running) return running;
    const done = this.#zygote()
      .catch(() => null)
      .then((zygote) =>
        runModelCheck({
          home: this.#home,
          model: { content: args.content, name: args.source },
          format: typeof args.format === 'string' ? args.format : null,
          translateOnly: true,
          timeoutMs: TRANSLATE_TIMEOUT_MS,
          signal: this.#closing.signal,
          zygote,
        }),
      )
      .then(({ reply, output }) => {
        if (!reply?.ok) this.#log.debug(`model not translated ahead: ${reply?.error ?? output}`);
      })
      .catch((err: Error) => this.#log.debug(`model not translated ahead: ${err.message}`))
      .finally(() => this.#running.delete(sha));
    this.#running.set(sha, done);
    return done;
  }

  /** Stops the translations in flight (the host's close). */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.all(this.#running.values());
  }
}

/**
 * The host's routing of container tools: a pysd_model_load for a container whose kernels read
 * this host's shared cache (local and Docker, not swarm) also starts its model's translation.
 */
export function routeTranslatingAhead(deps: {
  router: ContainerRouter;
  ahead: TranslateAhead;
  readsSharedCache: (containerId: string) => boolean;
}): (name: string, args: Record<string, unknown>, call: ToolCall) => Promise<CallToolResult> | undefined {
  return (name, args, call) => {
    const target = deps.router.targetOf(args);
    if (name === 'pysd_model_load' && target && translatable(args) && deps.readsSharedCache(target)) {
      void deps.ahead.start(args);
    }
    return deps.router.route(name, args, call);
  };
}
