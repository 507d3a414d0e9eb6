// Every error code Peragus reports, in one table: its category (what kind of
// failure it is, which the faces map to an HTTP status or an MCP result) and
// the generic fix shown when the error itself names none.

export type ErrorCategory =
  /** The caller's input is wrong (a typo in SQL, a bad id, an unknown variable). */
  | 'invalid_input'
  /** Well-formed input the tools cannot process (a model PySD cannot translate). */
  | 'unprocessable'
  /** The thing named does not exist (any more). */
  | 'not_found'
  /** The request clashes with the current state (a running cell, a dead kernel, a second host). */
  | 'conflict'
  /** Refused on purpose (a path outside the root, a write to a read-only catalog). */
  | 'forbidden'
  /** This server does not offer it. */
  | 'unsupported'
  /** A part Peragus needs is not there or not running (Docker, the kernel, the disk). */
  | 'unavailable'
  /** It took longer than its limit and was stopped. */
  | 'timeout'
  /** A failure of Peragus itself: a bug, or a resource failing in a way it cannot name. */
  | 'internal';

/** The one mapping of categories to HTTP statuses (http/errors.ts answers with it). */
export const HTTP_STATUS_OF_CATEGORY: Record<ErrorCategory, number> = {
  invalid_input: 400,
  unprocessable: 422,
  not_found: 404,
  conflict: 409,
  forbidden: 403,
  unsupported: 501,
  unavailable: 503,
  timeout: 504,
  internal: 500,
};

interface CodeInfo {
  category: ErrorCategory;
  fix: string;
}

const c = (category: ErrorCategory, fix: string): CodeInfo => ({ category, fix });

export const ERROR_CODES = {
  // Generic codes, for errors no layer has a better name for.
  invalid_input: c('invalid_input', 'correct the named field or value and try again'),
  not_found: c('not_found', 'check the id or name (list the existing ones) and try again'),
  conflict: c('conflict', 'wait for the current operation to finish, or change the request, then retry'),
  forbidden: c('forbidden', 'use a path or operation inside what this server allows'),
  unsupported: c('unsupported', 'use a server that offers this, or another way to do it'),
  unavailable: c('unavailable', 'start the missing part (the message names it) or retry later'),
  timeout: c('timeout', 'narrow the request or raise its time limit, then retry'),
  internal: c(
    'internal',
    "this is Peragus's failure: retry, and report it with the server's stderr if it repeats",
  ),
  invalid_config: c('invalid_input', 'fix the named setting (see `peragus --help`, section settings)'),

  // catalog/
  checksum_mismatch: c(
    'conflict',
    'register the file as it is now, or restore the file that was checksummed',
  ),
  invalid_artifact: c('invalid_input', 'register only files inside the experiment work dir'),
  result_conflict: c('conflict', 'register the result under a new experiment id, or keep the one recorded'),
  invalid_transition: c(
    'conflict',
    'read the experiment status first; only queued/running experiments change state',
  ),
  read_only: c('forbidden', 'run the change through the server that owns the catalog'),
  catalog_locked: c('conflict', 'send the request through the running Peragus server, or stop it first'),
  schema_mismatch: c(
    'unavailable',
    'open the catalog with the Peragus version that wrote it, or start a fresh home',
  ),
  query_refused: c(
    'invalid_input',
    'query only the tables experiments, artifacts, metrics and the view results',
  ),
  query_timeout: c('timeout', 'add a WHERE clause or LIMIT so the query finishes in time'),
  query_failed: c('invalid_input', 'fix the SQL (the message quotes DuckDB) and send it again'),
  catalog_unavailable: c('unavailable', 'move the damaged catalog file aside, or restore it from a backup'),

  // notebook/
  session_not_found: c('not_found', 'list the sessions (notebook_list) and use one of their ids'),
  cell_not_found: c('not_found', 'read the notebook (notebook_get) and use one of its cell ids'),
  cell_busy: c('conflict', 'wait for the cell to finish, or interrupt it first'),
  session_dead: c('conflict', 'restart the session, then run the cell again'),
  session_closed: c('conflict', 'create or reopen a session'),
  invalid_cell: c('invalid_input', 'correct the cell (source, type or id) as the message says'),
  not_supported: c(
    'conflict',
    'do it where the session lives: a container session restarts with its container',
  ),
  kernel_not_found: c('not_found', 'list the kernels (GET /api/kernels) and use one of their ids'),
  kernel_spec_not_found: c('not_found', 'ask for the kernel spec "peragus-pysd" (or "python3")'),
  session_kernel: c('conflict', 'delete the notebook session (notebook_delete) to stop its kernel'),
  persist_failed: c('internal', 'free disk space or fix the work dir, then edit or run a cell again'),

  // runtime/ and confine/
  invalid_spec: c('invalid_input', 'correct the container spec field the message names'),
  invalid_path: c('forbidden', 'give a relative path inside the work dir, without ".." or links'),
  symlink: c('forbidden', 'name the file itself, not a symbolic link to it'),
  not_a_file: c('invalid_input', 'name a regular file, not a folder or device'),
  file_not_found: c('not_found', 'list the work dir and use an existing file'),
  image_not_found: c(
    'unavailable',
    'build the experiment image (container-image/build.sh) or set PERAGUS_IMAGE',
  ),
  daemon_unavailable: c('unavailable', 'start the Docker daemon, or use PERAGUS_RUNTIME=local'),
  exec_failed: c('internal', 'read the command output in the message, fix the command and retry'),
  create_failed: c('internal', 'read the runtime message, free resources or fix the spec, and retry'),
  copy_failed: c('internal', 'check the source and destination paths and the free space, then retry'),
  endpoint_timeout: c(
    'timeout',
    "the experiment's notebook server did not start in time: destroy and recreate the container",
  ),

  // kernel/
  kernel_start_failed: c(
    'unavailable',
    'read the kernel stderr in the message (often the Python venv: run `node scripts/setup.mjs`)',
  ),
  kernel_dead: c('unavailable', 'restart the session; if it died of memory, give it less work per cell'),
  kernel_timeout: c('timeout', 'raise the cell timeout or split the cell into smaller steps'),
  kernel_restarted: c('conflict', 'the kernel was restarted or shut down meanwhile: run the cell again'),

  // srcmd/ codecs
  srcmd_parse_error: c('invalid_input', 'edit the .src.md at the line the message names'),
  notebook_invalid: c('invalid_input', 'change the notebook field the message names'),
  ipynb_parse_error: c('invalid_input', 'fix the .ipynb at the JSON path the message names'),
  outputs_parse_error: c('invalid_input', 'fix or delete the .outputs.json beside the notebook'),

  // pysd/ (Python side of a PySD cell)
  python_input_error: c(
    'invalid_input',
    'change the model, parameters or experiment as the Python message says',
  ),
  python_error: c('internal', 'read the Python traceback; fix the cell code or report it'),

  // orchestrator/ and mcp/
  plan_check_failed: c('invalid_input', 'fix the plan (model, parameters, grid) as the message says'),
  plan_model_invalid: c('invalid_input', 'give the model as content, an inbox file or a catalog reference'),
  tool_failed: c('internal', "read the message of the experiment's notebook server and retry"),

  // workbench/
  bad_variable: c('invalid_input', 'choose one of the variables the message lists'),
  untranslatable_model: c('unprocessable', 'fix the model equation the message names and upload it again'),
  no_runs: c('not_found', 'run the experiment (or pick one that finished) before plotting it'),

  // faces and host
  host_running: c('conflict', 'use the running host, stop it, or set PERAGUS_HOME to another folder'),
  invalid_frame: c('invalid_input', 'send kernel messages in the Jupyter WebSocket framing'),
} as const satisfies Record<string, CodeInfo>;

/** Every code an error of Peragus can carry. */
export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

export const categoryOf = (code: ErrorCode): ErrorCategory => ERROR_CODES[code].category;
