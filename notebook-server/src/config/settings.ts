// Every environment setting Peragus reads, declared once: its variable, how
// its text is parsed (zod), its default and a one-line help. config.ts parses
// them; `peragus --help` lists them. Names and defaults are the ones the
// modules used before this table existed (tests and users set them).
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { LOG_LEVELS } from '../log/index.ts';

/** Who reads a setting: the host at start, a node child at its start, or bin/peragus.js. */
export type SettingScope = 'host' | 'node' | 'kernel' | 'bin';

export interface Setting<T> {
  env: string;
  schema: z.ZodType<T, string | undefined>;
  /** The default as shown in help. */
  shown: string;
  help: string;
  scope: SettingScope;
}

const setting = <T>(
  env: string,
  schema: z.ZodType<T, string | undefined>,
  shown: string,
  help: string,
  scope: SettingScope = 'host',
): Setting<T> => ({ env, schema, shown, help, scope });

/** Unset or blank → undefined; otherwise the text. */
const text = () =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const whole = (fallback: number, min: number) =>
  text()
    .refine((v) => v === undefined || (/^\s*\d+\s*$/.test(v) && Number(v) >= min), {
      error: `is not a whole number ≥ ${min}: give one (default ${fallback})`,
    })
    .transform((v) => (v === undefined ? fallback : Number(v)));

/** On unless the variable is "0". */
const onUnlessZero = () =>
  z
    .string()
    .optional()
    .transform((v) => v !== '0');

export const SETTINGS = {
  home: setting(
    'PERAGUS_HOME',
    text().transform((v) => resolve(v ?? join(homedir(), '.peragus'))),
    '~/.peragus',
    'the home: sessions, experiments, the DuckDB catalog, host.json',
  ),
  runtime: setting(
    'PERAGUS_RUNTIME',
    z
      .string()
      .optional()
      .transform((v) => v ?? 'local')
      .pipe(
        z.enum(['local', 'docker', 'swarm'], {
          error: 'is not a runtime: use "local" (default), "docker" or "swarm"',
        }),
      ),
    'local',
    'where experiments run: local (a child process each), docker (a container each) or swarm (a Swarm service each)',
  ),
  token: setting(
    'PERAGUS_TOKEN',
    text(),
    'a random one per start',
    'the bearer token of the HTTP face (browser, /api, /mcp)',
  ),
  logLevel: setting(
    'PERAGUS_LOG_LEVEL',
    z
      .string()
      .optional()
      .transform((v) => (v === undefined || v.trim() === '' ? 'info' : v.trim().toLowerCase()))
      .pipe(z.enum(LOG_LEVELS, { error: `is not a log level: use one of ${LOG_LEVELS.join(', ')}` })),
    'info',
    'what the server writes to stderr: error, warn, info or debug',
  ),
  poolSize: setting(
    'PERAGUS_POOL_SIZE',
    whole(1, 0),
    '1',
    'warm PySD kernels kept ready per experiment node, or per host where its own kernels are not sandboxed; a sandboxing host with 1 or more starts its kernel zygote at once instead',
  ),
  nodePoolSize: setting(
    'PERAGUS_NODE_POOL_SIZE',
    whole(1, 0),
    '1',
    'warm kernels of each local experiment child (passed to it as PERAGUS_POOL_SIZE)',
  ),
  dockerPool: setting(
    'PERAGUS_DOCKER_POOL',
    text()
      .refine((v) => v === undefined || (/^\s*\d+\s*$/.test(v) && Number(v) <= 64), {
        error: 'is not a pool size: use an integer from 0 (off) to 64',
      })
      .transform((v) => (v === undefined ? 2 : Number(v))),
    '2',
    'warm experiment containers the docker runtime keeps ready for a plan (0 turns the pool off)',
  ),
  planApproveExperiments: setting(
    'PERAGUS_PLAN_APPROVE_EXPERIMENTS',
    whole(100, 0),
    '100',
    'plans with more experiments than this ask the user to approve (MCP elicitation)',
  ),
  planApproveParallel: setting(
    'PERAGUS_PLAN_APPROVE_PARALLEL',
    whole(8, 0),
    '8',
    'plans running more experiments at once than this ask the user to approve',
  ),
  image: setting(
    'PERAGUS_IMAGE',
    text(),
    'peragus/experiment:<package version>',
    'the experiment image of the docker runtime',
  ),
  swarmImage: setting(
    'PERAGUS_SWARM_IMAGE',
    text(),
    'the image of the docker runtime',
    'the experiment image of the swarm runtime (pushed to the swarm)',
  ),
  swarmDockerHost: setting(
    'PERAGUS_SWARM_DOCKER_HOST',
    text(),
    'the local daemon',
    'the Docker endpoint of a swarm manager (tcp://HOST:2375 or unix socket)',
  ),
  swarmHubHost: setting(
    'PERAGUS_SWARM_HUB_HOST',
    text(),
    'none (required by the swarm runtime)',
    'an address of this host that swarm nodes reach: the hub listens there',
  ),
  swarmHubPorts: setting(
    'PERAGUS_SWARM_HUB_PORTS',
    text(),
    'any free port',
    "the hub's port or range (A-B) that the nodes' firewalls let through",
  ),
  swarmHubTlsCert: setting(
    'PERAGUS_SWARM_HUB_TLS_CERT',
    text(),
    'none (ws://)',
    'PEM certificate chain of the hub: with PERAGUS_SWARM_HUB_TLS_KEY the hub speaks wss:// and nodes pin it',
  ),
  swarmHubTlsKey: setting(
    'PERAGUS_SWARM_HUB_TLS_KEY',
    text(),
    'none (ws://)',
    "PEM private key of the hub's certificate",
  ),
  sandbox: setting(
    'PERAGUS_SANDBOX',
    text(),
    'bubblewrap when installed',
    '"none": run local experiments without the bubblewrap sandbox (the host warns)',
  ),
  pysdSharedCache: setting(
    'PERAGUS_PYSD_SHARED_CACHE',
    onUnlessZero(),
    'on',
    '"0": each experiment translates its model itself (no shared translation cache)',
  ),
  localSessions: setting(
    'PERAGUS_LOCAL_SESSIONS',
    z
      .string()
      .optional()
      .transform((v) => v ?? 'host')
      .pipe(
        z.enum(['host', 'node'], {
          error: 'is not a way to serve local sessions: use "host" (default) or "node"',
        }),
      ),
    'host',
    'who serves a sandboxed local experiment\'s sessions: "host" (this process; its kernel is forked into the sandbox) or "node" (a node process in the sandbox, as in a container)',
  ),
  dockerSessions: setting(
    'PERAGUS_DOCKER_SESSIONS',
    z
      .string()
      .optional()
      .transform((v) => v ?? 'host')
      .pipe(
        z.enum(['host', 'node'], {
          error: 'is not a way to serve Docker sessions: use "host" (default) or "node"',
        }),
      ),
    'host',
    'who serves a Docker experiment\'s sessions: "host" (this process; the container runs the kernel zygote alone) or "node" (a node role in the container)',
  ),
  dockerZygote: setting(
    'PERAGUS_DOCKER_ZYGOTE',
    z
      .string()
      .optional()
      .transform((v) => v ?? 'shared')
      .pipe(
        z.enum(['shared', 'container'], {
          error: 'is not where a Docker kernel comes from: use "shared" (default) or "container"',
        }),
      ),
    'shared',
    'where a hosted Docker experiment\'s kernel is forked from: "shared" (one zygote container per host, the kernel forked into the experiment\'s container; needs a root host) or "container" (each container\'s own zygote)',
  ),
  nodeSnapshot: setting(
    'PERAGUS_NODE_SNAPSHOT',
    onUnlessZero(),
    'on',
    '"0": local experiment nodes start from the plain bundle, not its V8 startup snapshot (dist/bundle/cli/node-role.blob)',
  ),
  python: setting(
    'PERAGUS_PYTHON',
    text(),
    'kernels/pysd/.venv/bin/python of the checkout',
    'the Python of the PySD kernels',
    'kernel',
  ),
  memoryCgroup: setting(
    'PERAGUS_MEMORY_CGROUP',
    text(),
    "this process's own",
    'the cgroup v1 memory folder whose OOM kills tell why a kernel died (the local runtime sets it for the experiments it caps)',
    'kernel',
  ),
  kernelZygote: setting(
    'PERAGUS_KERNEL_ZYGOTE',
    text(),
    'on',
    '"0": start kernels cold instead of forking the kernel zygote (children get its socket here)',
    'kernel',
  ),
  runtimeDir: setting(
    'PERAGUS_RUNTIME_DIR',
    text(),
    '$XDG_RUNTIME_DIR (or the temp dir)/peragus-kernels-<uid>',
    'private folder for kernel connection files and ipc sockets',
    'kernel',
  ),
  xdgRuntimeDir: setting(
    'XDG_RUNTIME_DIR',
    text().transform((v) => v ?? tmpdir()),
    'the temp dir',
    'the base of the default PERAGUS_RUNTIME_DIR',
    'kernel',
  ),
  jupyterDataDir: setting(
    'JUPYTER_DATA_DIR',
    text(),
    '$XDG_DATA_HOME/jupyter',
    'where `peragus kernelspec install --user` puts the kernel spec',
  ),
  xdgDataHome: setting(
    'XDG_DATA_HOME',
    text().transform((v) => v ?? join(homedir(), '.local', 'share')),
    '~/.local/share',
    'the base of the default JUPYTER_DATA_DIR',
  ),
  // Read by a node child (`peragus node`) at its own start; the spawner sets them.
  experimentId: setting(
    'PERAGUS_EXPERIMENT_ID',
    text(),
    'none',
    'the experiment a node serves (set by the runtime that starts it)',
    'node',
  ),
  experimentIdFile: setting(
    'PERAGUS_EXPERIMENT_ID_FILE',
    text(),
    'none',
    "a warm-pool container's file in its volume where the host writes the experiment id at hand-over",
    'node',
  ),
  hubToken: setting(
    'PERAGUS_HUB_TOKEN',
    text(),
    'none',
    "a swarm node's token for the hub (minted by the swarm runtime; removed from the node's env at start)",
    'node',
  ),
  hubCa: setting(
    'PERAGUS_HUB_CA',
    text(),
    'none',
    'the hub certificate a swarm node pins (PEM, set by the swarm runtime when the hub speaks wss://)',
    'node',
  ),
  poolMaxStarts: setting(
    'PERAGUS_POOL_MAX_STARTS',
    whole(1, 0),
    '1',
    'kernels a node pre-starts in all (one experiment needs one)',
    'node',
  ),
  hostPid: setting(
    'PERAGUS_HOST_PID',
    whole(0, 0),
    'the parent process',
    'the host a node child watches: it stops when that process is gone (set by the spawner)',
    'node',
  ),
  hostPidns: setting(
    'PERAGUS_HOST_PIDNS',
    text(),
    'none',
    "the host's pid namespace (a node in another namespace does not watch the pid)",
    'node',
  ),
  hostLifeline: setting(
    'PERAGUS_HOST_LIFELINE',
    z
      .string()
      .optional()
      .transform((v) => v === 'stdin'),
    'off',
    '"stdin": the node stops when its standard input ends (the host holds the other end; set by the local runtime)',
    'node',
  ),
  noBundle: setting(
    'PERAGUS_NO_BUNDLE',
    z
      .string()
      .optional()
      .transform((v) => v === '1'),
    'off',
    '"1": run the TypeScript through tsx instead of the esbuild bundle (read by bin/peragus.js)',
    'bin',
  ),
} as const;

export type SettingKey = keyof typeof SETTINGS;
