// Checks a plan against its model once, on the host, before any container
// starts: the model is translated into the shared translation cache (so each
// experiment loads that translation instead of translating again) and every
// experiment object is validated against the model exactly as the kernel
// would. A model that does not translate, or a misspelled parameter, fails the
// whole plan once with PySD's message.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { PeragusError, type PeragusErrorOptions } from '../errors/index.ts';
import { resolvePython } from '../kernel/launcher.ts';
import { runZygoteTask } from '../kernel/zygote.ts';
import { sharedCacheEnv } from '../runtime/paths.ts';
import type { Plan } from '../schemas/plan.ts';

export interface PlanCheckResult {
  model_sha256: string;
  /** sha256 of the cached translation (absent for PySD .py models). */
  py_sha256: string | null;
}

export class PlanCheckError extends PeragusError {
  override name = 'PlanCheckError';
  constructor(message: string, options?: PeragusErrorOptions) {
    super('plan_check_failed', message, options);
  }
}

const CHECK_TIMEOUT_MS = 300_000;

export async function checkPlanModel(options: {
  home: string;
  plan: Plan;
  modelText: string;
  experiments: Record<string, unknown>[];
  baseDir?: string;
  /** A kernel zygote's socket: the check runs in a child it forks (imports already paid). */
  zygote?: Promise<string | undefined>;
}): Promise<PlanCheckResult> {
  const { plan } = options;
  const cache = sharedCacheEnv(options.home);
  // A host file is checked where it is (its data files beside it); inline content in a scratch file.
  let scratch: string | undefined;
  let modelPath: string;
  // Only the CLI (baseDir: the plan file's folder) reads a host model in place; MCP plans
  // arrive as text already confined to inline content, the inbox or the catalog.
  if (plan.model.content === undefined && options.baseDir !== undefined) {
    const src = plan.model.source;
    modelPath = isAbsolute(src) ? src : resolve(options.baseDir, src);
  } else {
    scratch = mkdtempSync(join(tmpdir(), 'peragus-plancheck-'));
    modelPath = join(scratch, basename(plan.model.source));
    writeFileSync(modelPath, options.modelText);
  }
  try {
    const request = {
      model: modelPath,
      format: plan.model.format ?? null,
      experiments: options.experiments,
    };
    const zygote = await options.zygote?.catch(() => undefined);
    const reply = zygote
      ? await checkInZygote(zygote, request, cache)
      : await runCheck(JSON.stringify(request), cache);
    if (!reply.ok) {
      throw new PlanCheckError(
        `the plan was not started: ${reply.error ?? 'the model check failed'} (model ${plan.model.source}; fix the model or the plan and run it again)`,
      );
    }
    return {
      model_sha256: String(reply.model_sha256),
      py_sha256: (reply.py_sha256 as string | null) ?? null,
    };
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** A plan check's (or translation's) environment: the host's, with the shared cache to fill and no display. */
export const checkEnv = (cache: string): NodeJS.ProcessEnv => ({
  ...process.env,
  PERAGUS_PYSD_SHARED_CACHE: cache,
  MPLBACKEND: 'Agg',
});

export type Reply = Record<string, unknown> & { ok?: boolean; error?: string };

export function lastJson(text: string): Reply | undefined {
  for (const line of text.trim().split('\n').reverse()) {
    try {
      const v = JSON.parse(line) as Reply;
      if (v && typeof v === 'object' && 'ok' in v) return v;
    } catch {
      // not the answer line
    }
  }
  return undefined;
}

async function checkInZygote(socket: string, request: unknown, cache: string): Promise<Reply> {
  const { output, code, forked } = await runZygoteTask(
    socket,
    'plancheck',
    request,
    checkEnv(cache),
    CHECK_TIMEOUT_MS,
  );
  // A check server that is gone (killed, out of memory) costs the plan a cold check, not its start.
  if (!forked) return runCheck(JSON.stringify(request), cache);
  const reply = lastJson(output);
  if (!reply) {
    throw new PlanCheckError(
      `the PySD plan check failed (exit ${code}): ${output.trim().split('\n').slice(-5).join(' ')}`,
    );
  }
  return reply;
}

function runCheck(
  input: string,
  cache: string,
): Promise<Record<string, unknown> & { ok?: boolean; error?: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(resolvePython(), ['-m', 'peragus_pysd.plancheck'], {
      env: checkEnv(cache),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), CHECK_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString('utf8')).slice(-4000);
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      fail(
        new PlanCheckError(
          `cannot start the PySD plan check (${resolvePython()}): ${e.message}; run npm run setup`,
        ),
      );
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const reply = lastJson(out);
      if (reply) ok(reply);
      else {
        fail(
          new PlanCheckError(
            `the PySD plan check failed (exit ${code}): ${err.trim().split('\n').slice(-5).join(' ')}`,
          ),
        );
      }
    });
    child.stdin.end(input);
  });
}
