// Runs PySD on a model the host was given (a plan's check, a session's
// translation ahead) in a sandbox of its own. PySD's translation turns model
// text into Python and loading the model runs it: a documentation string can
// close its docstring and call anything (tests/security/model-check). So the
// host never loads a model itself: a fresh Python process under the local
// runtime's bubblewrap sandbox does (no network, read-only system, the Peragus
// home hidden, the experiment uid), with one writable folder of its own under
// <home>/pysd-staging (not in the cache, which experiments read). The host then
// publishes what it staged: only
// the entry named for the sha256 the host computed itself, only plain files,
// owned by the host from then on. A process that ran one model's code can so
// write only that model's entry, which its own experiments would run anyway.
// Without bubblewrap (PERAGUS_SANDBOX=none, or not installed) the check runs
// unsandboxed, as experiments then do, and the host warns once at its start.
//
// With the local runtime's kernel zygote (a root host), the Python in that
// sandbox is not a cold one: the sandbox runs a small standard-library client
// (peragus_pysd/check_client.py) and the zygote forks the check into it, as it
// forks a kernel into an experiment's sandbox (its namespaces, the sandbox user,
// no capabilities). The check's socket is registered for that sandbox alone and
// forks once; the zygote itself never loads a model. A zygote that refuses or is
// gone leaves the check to a cold Python, in a sandbox of its own.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { checkClientPath, resolvePython } from '../kernel/launcher.ts';
import { ZYGOTE_ENV, type ZygoteRegistry } from '../kernel/zygote.ts';
import { signalGroup } from '../proc/process.ts';
import { sharedCacheEnv } from '../runtime/paths.ts';
import {
  bwrapArgs,
  forkOwner,
  localIsolation,
  SANDBOX_ENV,
  sandboxOwner,
  ZYGOTE_SOCKET_INSIDE,
} from '../sandbox/bwrap.ts';
import { experimentEnv } from '../sandbox/env.ts';
import { isMountRace, retryMountRace } from '../sandbox/mount-race.ts';

export type Reply = Record<string, unknown> & { ok?: boolean; error?: string };

export interface ModelCheckInput {
  home: string;
  /**
   * The model's text, checked as a scratch file named after `name` in the check's own folder: no
   * host folder is shown to the check (experiments, too, get the text alone).
   */
  model: { content: string; name: string };
  format?: string | null;
  experiments?: Record<string, unknown>[];
  /** Only fill the shared cache (no validation, no model load). */
  translateOnly?: boolean;
  /** Also describe the model (the workbench's model page): the reply's `description`. */
  describe?: boolean;
  timeoutMs: number;
  /** Kills the check (the host closing). */
  signal?: AbortSignal;
  /** The local runtime's kernel zygote: the check is forked from it into its sandbox (see the header). */
  zygote?: ZygoteRegistry | null;
}

export interface ModelCheckResult {
  /** The model's sha256, computed by the host (never taken from the check's answer). */
  sha256: string;
  /** The check's answer, or undefined when it printed none (then `output` says why). */
  reply: Reply | undefined;
  output: string;
  code: number | null;
}

/** The loader's cache entry names (peragus_pysd.loader.entry_name): <sha256[:16]>-pysd<version>. */
const ENTRY_NAME = /^[0-9a-f]{16}-pysd[0-9A-Za-z.+_-]{1,40}$/;
const entryPrefix = (sha: string) => `${sha.slice(0, 16)}-pysd`;

/** The scratch file's name: the client's base name when it is a plain one (PySD's messages name it). */
function scratchName(name: string): string {
  const base = basename(name);
  const ext = extname(base).toLowerCase();
  return /^[A-Za-z0-9][A-Za-z0-9._ -]{0,99}$/.test(base)
    ? base
    : `model${/^\.[a-z]{1,6}$/.test(ext) ? ext : ''}`;
}

/** The entry for a model's sha256 in a cache folder (the shared one or a check's staged one), verified or not. */
function entryOf(cache: string, sha: string): string | undefined {
  if (cache === '0' || !existsSync(cache)) return undefined;
  return readdirSync(cache).find((n) => n.startsWith(entryPrefix(sha)) && ENTRY_NAME.test(n));
}

/** Gives a cache entry (a folder of plain files) and its files to `uid`:`gid`. */
function chownEntry(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  for (const f of readdirSync(dir)) chownSync(join(dir, f), uid, gid);
}

/** The cache entry published for a model's sha256 whose translation still matches its record. */
export function publishedEntry(cache: string, sha: string): string | undefined {
  const name = entryOf(cache, sha);
  if (!name) return undefined;
  try {
    const entry = JSON.parse(readFileSync(join(cache, name, 'entry.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const py = String(entry.py_file);
    if (entry.source_sha256 !== sha || basename(py) !== py) return undefined;
    const hash = createHash('sha256')
      .update(readFileSync(join(cache, name, py)))
      .digest('hex');
    return hash === entry.py_sha256 ? name : undefined;
  } catch {
    return undefined;
  }
}

function lastJson(text: string): Reply | undefined {
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

export async function runModelCheck(input: ModelCheckInput): Promise<ModelCheckResult> {
  const cache = sharedCacheEnv(input.home);
  const sandboxed = localIsolation().isolation === 'bubblewrap';
  // The sandbox's user (a root host under bubblewrap): it owns what the check may write.
  const user = sandboxed ? sandboxOwner() : undefined;
  // Beside the cache (the same file system: publishing is a rename); a temp dir when it is off.
  const stagingRoot = cache === '0' ? tmpdir() : join(input.home, 'pysd-staging');
  mkdirSync(stagingRoot, { recursive: true, mode: 0o700 });
  const staging = mkdtempSync(join(stagingRoot, 'check-'));
  try {
    if (user) chownSync(staging, user.uid, user.gid);
    const modelPath = join(staging, scratchName(input.model.name));
    writeFileSync(modelPath, input.model.content, { mode: 0o644 });
    const sha = createHash('sha256').update(input.model.content, 'utf8').digest('hex');
    const stagedCache = join(staging, 'cache');
    mkdirSync(stagedCache);
    if (user) chownSync(stagedCache, user.uid, user.gid);
    // A translation already published is seeded into the staged cache: the check reuses it.
    // (A corrupt one is not: the check translates again and the host replaces it.)
    const published = publishedEntry(cache, sha);
    if (published) {
      const seeded = join(stagedCache, published);
      cpSync(join(cache, published), seeded, { recursive: true });
      if (user) chownEntry(seeded, user.uid, user.gid);
    }
    const request = {
      model: modelPath,
      format: input.format ?? null,
      experiments: input.experiments ?? [],
      ...(input.translateOnly ? { translate_only: true } : {}),
      ...(input.describe ? { describe: true } : {}),
    };
    const env = { PERAGUS_PYSD_SHARED_CACHE: cache === '0' ? '0' : stagedCache, MPLBACKEND: 'Agg' };
    const stdin = JSON.stringify(request);
    const sandbox = { workDir: staging, home: input.home };
    const python = [resolvePython(), '-m', 'peragus_pysd.plancheck'];
    // A sandbox whose start lost a mount race ran nothing: it is started again (mount-race.ts).
    const result = await retryMountRace(
      async () =>
        (sandboxed && input.zygote
          ? await forkedCheck(input.zygote, forkOwner(), sandbox, env, stdin, input)
          : undefined) ??
        (await run(
          sandboxed ? ['bwrap', ...bwrapArgs(python, sandbox)] : python,
          sandboxed ? experimentEnv({ ...SANDBOX_ENV, ...env }) : { ...process.env, ...env },
          stdin,
          input.timeoutMs,
          input.signal,
        )),
      (r) => sandboxed && !r.reply && isMountRace(r.output),
    );
    if (result.reply?.ok && cache !== '0' && !published) publish(stagedCache, cache, sha);
    return { ...result, sha256: sha };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** check_client.py's exit when the zygote refused the check or could not be reached. */
const CLIENT_UNAVAILABLE = 75;

/**
 * The check forked from the zygote into a sandbox registered for it alone (see the header);
 * undefined when the zygote could not take it (the caller then runs it cold).
 */
async function forkedCheck(
  zygote: ZygoteRegistry,
  owner: { uid: number; gid: number },
  sandbox: Parameters<typeof bwrapArgs>[1],
  env: Record<string, string>,
  stdin: string,
  input: ModelCheckInput,
): Promise<Omit<ModelCheckResult, 'sha256'> | undefined> {
  const id = `check-${randomBytes(6).toString('hex')}`;
  let socket: string;
  try {
    socket = await zygote.register(id, owner, 'check');
  } catch {
    return undefined;
  }
  try {
    const client = [resolvePython(), '-I', '-S', checkClientPath()];
    let unavailable = false;
    const result = await run(
      ['bwrap', ...bwrapArgs(client, { ...sandbox, sockets: [[socket, ZYGOTE_SOCKET_INSIDE]] })],
      experimentEnv({ ...SANDBOX_ENV, ...env, [ZYGOTE_ENV]: ZYGOTE_SOCKET_INSIDE }),
      stdin,
      input.timeoutMs,
      input.signal,
      // The check's request joins the namespaces of this bubblewrap's sandbox.
      (pid, kill) =>
        zygote.attach(id, pid).catch(() => {
          unavailable = true;
          kill();
        }),
    );
    // No answer, and the check's socket gone: the zygote (or its check server) went away while
    // the sandbox started (bubblewrap then fails to bind it). The check runs cold instead.
    const lost = !result.reply && !existsSync(socket);
    return unavailable || lost || (!result.reply && result.code === CLIENT_UNAVAILABLE) ? undefined : result;
  } finally {
    await zygote.revoke(id).catch(() => undefined);
  }
}

/**
 * Moves the staged entry for `sha` into the cache: only a folder of that name holding plain
 * files whose entry.json names `sha`; anything else the check left is dropped with the staging.
 */
function publish(staged: string, cache: string, sha: string): void {
  const name = entryOf(staged, sha);
  if (!name) return;
  const from = join(staged, name);
  if (!lstatSync(from).isDirectory()) return;
  const files = readdirSync(from);
  if (!files.every((f) => lstatSync(join(from, f)).isFile())) return;
  try {
    const entry = JSON.parse(readFileSync(join(from, 'entry.json'), 'utf8')) as { source_sha256?: unknown };
    if (entry.source_sha256 !== sha) return;
  } catch {
    return;
  }
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  if (uid !== undefined && gid !== undefined) chownEntry(from, uid, gid);
  for (const f of files) chmodSync(join(from, f), 0o644);
  chmodSync(from, 0o755);
  const to = join(cache, name);
  // A corrupt entry of the same name (publishedEntry refused it) gives way.
  if (existsSync(to) && !publishedEntry(cache, sha)) rmSync(to, { recursive: true, force: true });
  try {
    renameSync(from, to);
  } catch {
    // Published concurrently by another check of the same model: that one stays.
  }
}

function run(
  argv: string[],
  env: NodeJS.ProcessEnv,
  input: string,
  timeoutMs: number,
  signal?: AbortSignal,
  onSpawn?: (pid: number, kill: () => void) => unknown,
): Promise<Omit<ModelCheckResult, 'sha256'>> {
  return new Promise((resolve) => {
    // Its own process group: a kill reaches the whole sandbox. Bubblewrap runs in two halves,
    // and the inner one, killed before it has set --die-with-parent's signal, would live on
    // blocked, holding our pipes: 'close' would never come and the plan would wait for ever.
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    let settled = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (result: Omit<ModelCheckResult, 'sha256'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      resolve(result);
    };
    const answer = (code: number | null) => {
      // A forked check's stderr comes with its stdout (the zygote forwards one stream).
      const said = err.trim() || out.trim();
      return { reply: lastJson(out), output: said.split('\n').slice(-5).join(' '), code };
    };
    const kill = () => {
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      // Whatever still holds a pipe after that is not waited for.
      grace ??= setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(answer(null));
      }, KILLED_GRACE_MS);
    };
    if (onSpawn) child.once('spawn', () => void onSpawn(child.pid as number, kill));
    const timer = setTimeout(kill, timeoutMs);
    signal?.addEventListener('abort', kill, { once: true });
    if (signal?.aborted) kill();
    child.stdout.on('data', (d: Buffer) => {
      // A model is code and may print without end: only the tail is kept (the answer is the last
      // line). Cut by halves, so the host copies the tail once per 8 MiB printed, not per chunk.
      out += d.toString('utf8');
      if (out.length > MAX_CHECK_STDOUT) out = out.slice(-MAX_CHECK_STDOUT / 2);
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString('utf8')).slice(-4000);
    });
    child.stdin.on('error', () => undefined); // a check that died before reading its request
    child.once('error', (e) =>
      finish({ reply: undefined, output: `cannot start ${argv[0]}: ${e.message}`, code: null }),
    );
    child.once('close', (code) => finish(answer(code)));
    child.stdin.end(input);
  });
}

/** At most this much of a check's stdout is kept, its tail: far above any answer (a large model's description is ≈ 1 MB). */
const MAX_CHECK_STDOUT = 16 * 1024 * 1024;

/** How long a killed check's pipes may stay open before its answer is taken as it is. */
const KILLED_GRACE_MS = 2000;
