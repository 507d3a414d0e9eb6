// Inputs and results of the container_* tools (host only).
import { z } from 'zod';
import { ExperimentIdSchema } from '../ids/index.ts';
import { ResourcesSchema } from '../runtime/types.ts';

const ContainerId = { container_id: z.string().min(1).describe('From container_create or container_list.') };
const Runtime = z
  .enum(['local', 'docker', 'swarm'])
  .optional()
  .describe(
    'local: a child process per experiment; docker: a container; swarm: a service on the Docker Swarm cluster. Default: PERAGUS_RUNTIME (local).',
  );

export const ContainerCreateInput = {
  image: z.string().min(1).optional().describe('Image (docker runtime); default PERAGUS_IMAGE.'),
  resources: ResourcesSchema.optional().describe(
    'Caps: {cpu: cores (fractional ok), memory: bytes or "512m"/"2g", disk: volume cap (default "2g"), pids}. Example: {"cpu": 1, "memory": "2g"}. Default: the runtime defaults.',
  ),
  env: z
    .record(z.string(), z.string())
    .optional()
    .describe('Environment variables for the kernel, e.g. {"OMP_NUM_THREADS": "1"}.'),
  experiment_id: ExperimentIdSchema.optional().describe(
    'Experiment id (1-64 of A-Z a-z 0-9 _ . -); names the experiment volume. Default: a fresh id.',
  ),
  runtime: Runtime,
};
export const ContainerExecInput = {
  ...ContainerId,
  cmd: z.array(z.string()).min(1).describe('Command and arguments, e.g. ["python", "-V"].'),
  timeout_ms: z
    .number()
    .int()
    .positive()
    .max(3_600_000)
    .optional()
    .describe('Kill after this many milliseconds (exit_code 124). Default 60000.'),
  cwd: z.string().optional().describe('Working dir relative to /experiment. Default: /experiment.'),
};
export const ContainerCpInInput = {
  ...ContainerId,
  dest: z.string().min(1).describe('Destination relative to /experiment, e.g. "models/sir.mdl".'),
  src: z.string().optional().describe("A file in the host's PERAGUS_HOME/inbox (either src or content)."),
  content: z.string().optional().describe('File content (text). Either src or content.'),
};
export const ContainerCpOutInput = {
  ...ContainerId,
  src: z.string().min(1).describe('File relative to /experiment, e.g. "results/x/runs.parquet".'),
  dest: z.string().optional().describe('Not accepted: the host chooses the experiment out dir. Omit it.'),
};
export const ContainerLogsInput = {
  ...ContainerId,
  tail: z.number().int().positive().max(10_000).optional().describe('Last N lines. Default: all kept.'),
};
export const ContainerIdInput = { ...ContainerId };
export const ContainerDestroyInput = {
  ...ContainerId,
  remove_work_dir: z
    .boolean()
    .default(false)
    .describe('Also delete the experiment volume (default false: results stay).'),
};
export const ContainerListInput = {
  experiment_id: z.string().optional().describe('Only the containers of this experiment.'),
  runtime: Runtime,
};

// --- results ---------------------------------------------------------------

export const ContainerCreateOutput = {
  container_id: z.string().describe('Pass to notebook_create and the other tools as container_id.'),
  experiment_id: z.string(),
  endpoint: z.string().describe("Host path of the container's MCP socket (the host routes to it)."),
  work_dir: z.string().describe('Host path of the experiment volume (/experiment inside).'),
  image: z.string(),
  image_id: z.string().describe('Content id of the image (pins the run).'),
  isolation: z
    .enum(['docker', 'bubblewrap', 'none'])
    .optional()
    .describe('What confines it: a Docker container, a bubblewrap sandbox, or nothing.'),
  caps: z
    .object({
      cpu: z.number(),
      memory_bytes: z.number(),
      pids: z.number(),
      enforced: z.boolean(),
      reason: z.string().optional().describe('Why the caps are not enforced.'),
    })
    .optional()
    .describe(
      'Its CPU, memory and pids caps and whether they are enforced: Docker always; the local runtime through cgroups on a root host, else not (reason says why).',
    ),
};
export const ContainerExecOutput = {
  exit_code: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  timed_out: z.boolean(),
  truncated: z.boolean().describe('Output past 1 MiB per stream was dropped.'),
  duration_ms: z.number(),
};
export const CopyOutput = {
  path: z.string().describe('cp_in: path inside /experiment; cp_out: host path written.'),
  sha256: z.string(),
  bytes: z.number().int(),
};
export const ContainerLogsOutput = { stdout: z.string(), stderr: z.string() };
export const ContainerStatsOutput = {
  container_id: z.string(),
  cpu_percent: z.number(),
  memory_usage_bytes: z.number(),
  memory_limit_bytes: z.number(),
  memory_percent: z.number(),
  pids: z.number(),
  pids_limit: z.number().nullable(),
  read_at: z.string(),
  node: z.string().nullable().optional().describe('swarm: the cluster node the experiment runs on.'),
};
export const ContainerHealthOutput = {
  container_id: z.string(),
  experiment_id: z.string().nullable(),
  running: z.boolean(),
  status: z.string(),
  oom_killed: z.boolean(),
  exit_code: z.number().nullable(),
  reason: z.string().describe('Why it is not running, in words.'),
  endpoint_reachable: z.boolean().nullable().describe('Its MCP endpoint answers.'),
};
export const ContainerListOutput = {
  containers: z.array(
    z.looseObject({
      container_id: z.string(),
      experiment_id: z.string().nullable(),
      status: z.string(),
      running: z.boolean(),
      runtime: z.string(),
      created_at: z.string(),
    }),
  ),
};
export const ContainerDestroyOutput = {
  container_id: z.string(),
  removed: z.boolean().describe('False when it was already gone (destroy is idempotent).'),
};
