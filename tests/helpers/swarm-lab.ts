// The 3-node lab of scripts/swarm-lab.sh, as the swarm tests see it: the
// manager's and workers' API sockets from the env file `up` writes, and the
// experiment image pushed to the lab registry by digest.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { defaultImage } from '../../notebook-server/src/runtime/docker.ts';
import { demuxBuffer } from '../../notebook-server/src/runtime/docker-stream.ts';
import { REPO } from './sd-models.ts';

export interface SwarmLab {
  manager: Docker;
  /** Every node's own daemon, by lab name (mgr, w1, w2): for checks a user would make on a node. */
  nodes: Record<'mgr' | 'w1' | 'w2', Docker>;
  registry: string;
  hubHost: string;
  /** The experiment image in the lab registry, by digest. */
  image: string;
  env: Record<string, string>;
}

const ENV_FILE = process.env.PERAGUS_SWARM_LAB_ENV ?? '/run/peragus-swarm-lab/env';
const socketOf = (url: string) => new Docker({ socketPath: url.replace(/^unix:\/\//, '') });

/** The lab, or an error that says how to bring it up. */
export function swarmLab(): SwarmLab {
  if (!existsSync(ENV_FILE)) {
    throw new Error(`the swarm lab is not up (no ${ENV_FILE}): run \`sudo scripts/swarm-lab.sh up\``);
  }
  const env = Object.fromEntries(
    readFileSync(ENV_FILE, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;
  const source = process.env.PERAGUS_SWARM_TEST_IMAGE ?? defaultImage();
  const image = execFileSync('bash', [join(REPO, 'scripts/swarm-lab.sh'), 'push', source], {
    encoding: 'utf8',
    timeout: 600_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return {
    manager: socketOf(env.PERAGUS_SWARM_DOCKER_HOST!),
    nodes: {
      mgr: socketOf(env.PERAGUS_SWARM_DOCKER_HOST!),
      w1: socketOf(env.PERAGUS_SWARM_LAB_W1_DOCKER_HOST!),
      w2: socketOf(env.PERAGUS_SWARM_LAB_W2_DOCKER_HOST!),
    },
    registry: env.PERAGUS_SWARM_REGISTRY!,
    hubHost: env.PERAGUS_SWARM_HUB_HOST!,
    image,
    env,
  };
}

/** The task container of a service on whichever lab node runs it. */
export async function taskContainer(
  lab: SwarmLab,
  serviceId: string,
): Promise<{ node: string; container: Docker.Container; info: Docker.ContainerInspectInfo }> {
  for (const [node, docker] of Object.entries(lab.nodes)) {
    const rows = await docker.listContainers({
      filters: { label: [`com.docker.swarm.service.id=${serviceId}`] },
    });
    if (rows[0]) {
      const container = docker.getContainer(rows[0].Id);
      return { node, container, info: await container.inspect() };
    }
  }
  throw new Error(`no container of service ${serviceId} on any lab node`);
}

/** Runs a command in a container through its node's daemon; stdout+stderr as text. */
export async function execIn(
  container: Docker.Container,
  cmd: string[],
): Promise<{ code: number; out: string }> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((done) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => done());
    stream.once('close', () => done());
    stream.once('error', () => done());
  }).finally(() => stream.destroy());
  const out = demuxBuffer(Buffer.concat(chunks));
  const state = await exec.inspect();
  return { code: state.ExitCode ?? -1, out: out.stdout + out.stderr };
}

/** Points this process's Peragus host at the lab: the manager, the hub's address and ports, the image. */
export function useLabEnv(lab: SwarmLab): void {
  for (const k of ['PERAGUS_SWARM_DOCKER_HOST', 'PERAGUS_SWARM_HUB_HOST', 'PERAGUS_SWARM_HUB_PORTS']) {
    if (lab.env[k]) process.env[k] = lab.env[k];
  }
  process.env.PERAGUS_SWARM_IMAGE = lab.image;
}
