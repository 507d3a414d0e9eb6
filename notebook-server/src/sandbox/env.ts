// The environment of every experiment process (local-runtime node, its
// kernels, container_exec commands, host-session kernels) is built from an
// allow-list: the host's token, credentials and other variables never reach
// code that an agent wrote.

/** Host variables an experiment process may see (names, or prefixes ending in "*"). */
const ALLOWED = [
  'PATH',
  'LANG',
  'LANGUAGE',
  'LC_*',
  'TZ',
  'PERAGUS_PYTHON',
  'PERAGUS_POOL_SIZE',
  'PERAGUS_POOL_MAX_STARTS',
  'PERAGUS_KERNEL_DEBUGGER',
  'PERAGUS_PYSD_CACHE',
  // The host's shared translation cache (read-only) and the volume cap each kernel applies to the files it writes.
  'PERAGUS_PYSD_SHARED_CACHE',
  'PERAGUS_DISK_CAP',
  'PERAGUS_VENV',
  'PERAGUS_WORK_DIR',
  'NODE_ENV',
  // Python and plotting settings (the experiment image sets these).
  'MPLBACKEND',
  'MPLCONFIGDIR',
  'IPYTHONDIR',
  'JUPYTER_RUNTIME_DIR',
  'PYTHONDONTWRITEBYTECODE',
  'PYTHONUNBUFFERED',
  // Numeric library tuning: same threads and CPU kernels as the host would use.
  'OPENBLAS_*',
  'OMP_*',
  'MKL_*',
  'NUMEXPR_*',
  'NVPL_*',
];

/** Only for processes that run outside a sandbox (host-session kernels): their temp and runtime dirs. */
const UNSANDBOXED = ['HOME', 'TMPDIR', 'XDG_RUNTIME_DIR', 'PERAGUS_RUNTIME_DIR'];

const allowed = (name: string, list: readonly string[]) =>
  list.some((a) => (a.endsWith('*') ? name.startsWith(a.slice(0, -1)) : name === a));

/**
 * The allow-listed part of `env` (default: this process's), plus `extra`
 * (variables the caller sets on purpose, e.g. a client's container env).
 */
export function experimentEnv(
  extra: Record<string, string | undefined> = {},
  options: { sandboxed: boolean; from?: NodeJS.ProcessEnv } = { sandboxed: true },
): Record<string, string> {
  const from = options.from ?? process.env;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined) continue;
    if (allowed(name, ALLOWED) || (!options.sandboxed && allowed(name, UNSANDBOXED))) out[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) out[name] = value;
  return out;
}
