// Inputs of the container_* tools (host only).
import { z } from 'zod';
import { ExperimentIdSchema, ResourcesSchema } from '../runtime/types.ts';

const ContainerId = { container_id: z.string().min(1).describe('From container_create or container_list.') };

export const ContainerCreateInput = {
  image: z.string().min(1).optional().describe('Image (docker runtime); default PERAGUS_IMAGE.'),
  resources: ResourcesSchema.optional().describe(
    '{cpu: cores, memory: "2g", disk: "2g" (volume cap, default 2g), pids}',
  ),
  env: z.record(z.string(), z.string()).optional(),
  experiment_id: ExperimentIdSchema.optional(),
  runtime: z.enum(['local', 'docker']).optional().describe('Default: PERAGUS_RUNTIME (local).'),
};
export const ContainerExecInput = {
  ...ContainerId,
  cmd: z.array(z.string()).min(1).describe('Command and arguments, e.g. ["python", "-V"].'),
  timeout_ms: z.number().int().positive().max(3_600_000).optional(),
  cwd: z.string().optional().describe('Relative to /experiment.'),
};
export const ContainerCpInInput = {
  ...ContainerId,
  dest: z.string().min(1).describe('Destination relative to /experiment.'),
  src: z.string().optional().describe("A file in the host's PERAGUS_HOME/inbox (either src or content)."),
  content: z.string().optional().describe('File content (text). Either src or content.'),
};
export const ContainerCpOutInput = {
  ...ContainerId,
  src: z.string().min(1).describe('File relative to /experiment.'),
  dest: z
    .string()
    .optional()
    .describe("Host path under the experiment's out dir (default: same relative path)."),
};
export const ContainerLogsInput = {
  ...ContainerId,
  tail: z.number().int().positive().max(10_000).optional(),
};
export const ContainerIdInput = { ...ContainerId };
export const ContainerDestroyInput = {
  ...ContainerId,
  remove_work_dir: z
    .boolean()
    .default(false)
    .describe('Also delete the experiment volume (results stay otherwise).'),
};
export const ContainerListInput = {
  experiment_id: z.string().optional(),
  runtime: z.enum(['local', 'docker']).optional(),
};
