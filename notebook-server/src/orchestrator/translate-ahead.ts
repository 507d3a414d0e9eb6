// Translate once, for sessions too: before a session's pysd_model_load with
// inline content reaches its container, the host translates the model into the
// shared translation cache on its check server (the zygote's fork that already
// holds PySD's translator). The kernel then finds the translation there, as an
// experiment of a plan does, instead of importing the translator (≈ 500
// modules, black among them) and translating it again; so does every later
// session that loads the same content. Best effort: with no check server, a
// file already in the work dir, a PySD .py model or a model PySD cannot
// translate, the call goes on unchanged and the kernel does what it always did
// (its cell reports PySD's own error).
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { confineRelative } from '../confine/relative.ts';
import { runZygoteTask } from '../kernel/zygote.ts';
import type { Logger } from '../log/index.ts';
import { sharedCacheEnv } from '../runtime/paths.ts';
import { checkEnv, lastJson } from './plan-check.ts';
import type { ContainerRouter } from './router.ts';
import type { ToolCall } from './tool-call.ts';

/** The scratch file's extension: the only part of the client's path the host uses. */
const EXTENSION: Record<string, string> = {
  '.mdl': '.mdl',
  '.xmile': '.xmile',
  '.xml': '.xml',
  '.stmx': '.stmx',
};
/** A translation that takes longer is left to the kernel (whose cell can be interrupted). */
const TRANSLATE_TIMEOUT_MS = 120_000;
const BY_FORMAT: Record<string, string> = { vensim: '.mdl', xmile: '.xmile' };

/** The scratch extension for a load, or undefined when there is nothing to translate ahead. */
export function aheadExtension(args: Record<string, unknown>): string | undefined {
  if (typeof args.content !== 'string' || typeof args.source !== 'string') return undefined;
  // A path the node will refuse is not worth a translation: the node's error comes as it would.
  try {
    confineRelative(args.source);
  } catch {
    return undefined;
  }
  if (typeof args.format === 'string') return BY_FORMAT[args.format];
  return EXTENSION[extname(args.source).toLowerCase()];
}

/** Translates `content` into the shared cache on the check server; true when it is there. */
export async function translateAhead(options: {
  home: string;
  checkServer: string;
  content: string;
  extension: string;
}): Promise<{ ok: boolean; error?: string }> {
  const cache = sharedCacheEnv(options.home);
  if (cache === '0') return { ok: false, error: 'the shared translation cache is off' };
  // Already there (peragus_pysd.loader.entry_name: <sha256[:16]>-pysd<version>): no fork. An
  // entry that does not verify is the kernel's to skip, as for a plan's experiment.
  const prefix = `${createHash('sha256').update(options.content).digest('hex').slice(0, 16)}-pysd`;
  if (readdirSync(cache).some((name) => name.startsWith(prefix))) return { ok: true };
  const scratch = mkdtempSync(join(tmpdir(), 'peragus-translate-'));
  try {
    const model = join(scratch, `model${options.extension}`);
    writeFileSync(model, options.content, { mode: 0o600 });
    const request = { model, format: null, experiments: [], translate_only: true };
    const { output, forked } = await runZygoteTask(
      options.checkServer,
      'plancheck',
      request,
      checkEnv(cache),
      TRANSLATE_TIMEOUT_MS,
    );
    if (!forked) return { ok: false, error: 'the check server is gone' };
    const reply = lastJson(output);
    return reply?.ok ? { ok: true } : { ok: false, error: String(reply?.error ?? output.slice(-300)) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * The host's routing of container tools, with pysd_model_load translated ahead
 * (see the header) for containers whose runtime reads the shared cache.
 */
export function routeTranslatingAhead(deps: {
  router: ContainerRouter;
  home: string;
  log: Logger;
  /** The check server, when one already runs. */
  checkServer: () => Promise<string | undefined> | undefined;
  /** Whether a container's kernel reads this host's shared cache (local and Docker, not swarm). */
  readsSharedCache: (containerId: string) => boolean;
}): (name: string, args: Record<string, unknown>, call: ToolCall) => Promise<CallToolResult> | undefined {
  const { router } = deps;
  return (name, args, call) => {
    const target = router.targetOf(args);
    const extension = name === 'pysd_model_load' ? aheadExtension(args) : undefined;
    const server = target && extension ? deps.checkServer() : undefined;
    if (!target || !extension || !server || !deps.readsSharedCache(target))
      return router.route(name, args, call);
    return (async () => {
      const socket = await server.catch(() => undefined);
      if (socket) {
        const done = await translateAhead({
          home: deps.home,
          checkServer: socket,
          content: args.content as string,
          extension,
        }).catch((err: Error) => ({ ok: false, error: err.message }));
        if (!done.ok) deps.log.debug(`pysd_model_load: not translated ahead (${done.error})`);
      }
      return router.route(name, args, call) as Promise<CallToolResult>;
    })();
  };
}
