// What `peragus --help` and `peragus <command> --help` print.
export const commandHelp: Record<string, string> = {
  serve: `usage: peragus serve [--port 4300] [--host 127.0.0.1]

Runs the host: browser UI, Jupyter /api subset, MCP over HTTP at /mcp, live
events at /events. Prints the URL with its token (PERAGUS_TOKEN, or a random
one) and writes both to $PERAGUS_HOME/host.json (mode 0600), where peragus mcp,
run and catalog query find it. One host per home: a second one is refused.

options:
  --port N      TCP port (0 picks a free one; default 4300)
  --host ADDR   address to listen on (default 127.0.0.1)
`,
  mcp: `usage: peragus mcp

MCP on stdio for desktop clients. With a host running on $PERAGUS_HOME (from
\`peragus serve\` or another \`peragus mcp\`), a bridge to it; with none, this
process becomes the home's host (browser UI, /api, /mcp on a free port, until
the client disconnects) and prints its browser URL on stderr. Either way the
agent shares sessions, events and the catalog with the browser. A bridge exits
1 if its host goes away.
`,
  node: `usage: peragus node --socket PATH --work-dir DIR [--pool-size N]

The notebook server inside an experiment container (or local child process):
notebook and PySD MCP tools on a Unix socket, for the host's router.
`,
  run: `usage: peragus run PLAN.json [--parallel K] [--json]

Runs a plan (the experiment_plan_run object: model, experiment, grid or
targets, parallel_limit) with a progress bar on stderr and a summary table on
stdout. With a host running on $PERAGUS_HOME the plan runs there (the browser
sees it); otherwise in this process. Model paths are relative to the plan file.
Exit code 1 if an experiment failed.

options:
  --parallel K  experiments at once (overrides parallel_limit)
  --json        print the summary as JSON
`,
  rerun: `usage: peragus rerun NOTEBOOK.src.md [--inputs DIR] [--json] [--keep]

Replays an exported notebook (notebook_export, or the browser's Export
.src.md) in a fresh session and compares every artifact checksum recorded in
NOTEBOOK.outputs.json. Copies only the files the notebook references (models,
data) from its work dir. Runs on the home's host when one is running (the
browser sees it), else in this process. Exit 1 on a mismatch or a failed cell.

options:
  --inputs DIR  where the referenced files are (default: the work dir the
                notebook was exported from)
  --json        print the comparison as JSON
  --keep        keep the temporary work dir (its path is printed)
`,
  catalog: `usage: peragus catalog query "SQL" [--json] [--limit N]

Read-only SQL over the catalog (tables experiments, artifacts, metrics,
results). Through the running host when there is one; otherwise it opens the
catalog of $PERAGUS_HOME read-only.
`,
  kernelspec: `usage: peragus kernelspec install [--user | --prefix DIR] [--name peragus-pysd]

Installs the PySD kernel for Jupyter tools outside Peragus (JupyterLab,
papermill, nbclient), pointing at the kernel venv's Python.

options:
  --user        into Jupyter's per-user data dir (the default)
  --prefix DIR  into DIR/share/jupyter/kernels (e.g. a venv's prefix)
  --name NAME   kernel name (default peragus-pysd, as exported .ipynb files use)
`,
};

export const usage = `usage: peragus <command> [options]
       peragus <command> --help | peragus --version

commands:
  serve [--port 4300] [--host 127.0.0.1]      host: browser UI, Jupyter /api, MCP at /mcp
  mcp                                         MCP on stdio: the home's host, or a bridge to it
  node --socket PATH --work-dir DIR           in-container notebook server
  run PLAN.json [--parallel K] [--json]       run a plan of experiments, print a summary
  rerun NB.src.md [--inputs DIR] [--json]     replay an export, compare artifact checksums
  catalog query "SQL" [--json] [--limit N]    query the results catalog
  kernelspec install [--user|--prefix DIR]    install the PySD kernel for Jupyter tools

environment: PERAGUS_HOME (default ~/.peragus), PERAGUS_RUNTIME (local|docker),
  PERAGUS_TOKEN, PERAGUS_IMAGE, PERAGUS_POOL_SIZE
`;
