// The swarm runtime's service layer on the 3-node lab (scripts/swarm-lab.sh):
// services by digest, spread over nodes, hardened like the Docker runtime,
// isolated on their own internal network; and the bad inputs the cluster can
// give (no manager, no room, no image) as clear, bounded errors that leave
// nothing behind. Run with `npm run test:swarm`.
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type SwarmCreateResult,
  SwarmServices as SwarmRuntime,
} from '../../notebook-server/src/runtime/swarm-services.ts';
import { runtimeFailure } from '../helpers/runtime-failure.ts';
import { execIn, type SwarmLab, swarmLab, taskContainer } from '../helpers/swarm-lab.ts';

const run = randomBytes(3).toString('hex');
const labels = { 'test-run': `swarm-${run}` };
const small = { cpu: 0.25, memory: '64m', pids: 64 };

/** Services and networks of this test run still on the cluster. */
async function leftovers(lab: SwarmLab, experimentId?: string) {
  const label = experimentId ? [`peragus.experiment_id=${experimentId}`] : ['peragus.runtime=swarm'];
  const services = await lab.manager.listServices({ filters: JSON.stringify({ label }) });
  const networks = await lab.manager.listNetworks({ filters: { label } });
  return { services: services.length, networks: networks.length };
}

describe('swarm runtime on the lab cluster', () => {
  let lab: SwarmLab;
  let rt: SwarmRuntime;
  const boxes: SwarmCreateResult[] = [];

  beforeAll(async () => {
    lab = swarmLab();
    rt = new SwarmRuntime({ docker: lab.manager, image: lab.image, scheduleTimeoutMs: 8000 });
    // Four at once: Swarm spreads them over the nodes (each pulls the image by digest).
    boxes.push(
      ...(await Promise.all(
        [0, 1, 2, 3].map((i) =>
          rt.create({
            experiment_id: `sw-${run}-${i}`,
            command: ['sh', '-c', `echo started ${i}; exec sleep 3600`],
            resources: small,
            labels,
          }),
        ),
      )),
    );
  });

  afterAll(async () => {
    if (!rt) return;
    for (const s of await rt.list(labels)) await rt.destroy(s.container_id);
  });

  it('runs each experiment as a service by digest, placed on at least 2 nodes, node shown in list', async () => {
    for (const b of boxes) {
      expect(b.image).toBe(lab.image);
      expect(b.image).toMatch(/@sha256:[0-9a-f]{64}$/);
      expect(b.node.addr).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    }
    const listed = await rt.list(labels);
    expect(listed.map((s) => s.experiment_id).sort()).toEqual(boxes.map((b) => b.experiment_id).sort());
    for (const s of listed) {
      expect(s.running).toBe(true);
      const b = boxes.find((x) => x.container_id === s.container_id)!;
      expect(s.node?.id).toBe(b.node.id);
    }
    const nodes = new Set(listed.map((s) => s.node?.labels['peragus.lab-node']));
    expect(nodes.size).toBeGreaterThanOrEqual(2);
    // Swarm itself agrees: the service's image is the digest, and it never restarts it.
    const spec = (await lab.manager.getService(boxes[0]!.container_id).inspect()) as {
      Spec: { TaskTemplate: { ContainerSpec: { Image: string }; RestartPolicy: { Condition: string } } };
    };
    expect(spec.Spec.TaskTemplate.ContainerSpec.Image).toBe(lab.image);
    expect(spec.Spec.TaskTemplate.RestartPolicy.Condition).toBe('none');
  });

  it('hardens the task like the Docker runtime: read-only root, non-root, no caps, no-new-privs, caps', async () => {
    const { container, info } = await taskContainer(lab, boxes[0]!.container_id);
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.CapDrop).toContain('ALL');
    expect(info.Config.User).toBe('10001:10001');
    expect(info.HostConfig.Memory).toBe(64 * 2 ** 20);
    expect(info.HostConfig.NanoCpus).toBe(0.25e9);
    expect(info.HostConfig.PidsLimit).toBe(64);
    const status = await execIn(container, ['cat', '/proc/1/status']);
    expect(status.out).toMatch(/^CapEff:\s+0000000000000000$/m);
    expect(status.out).toMatch(/^NoNewPrivs:\s+1$/m);
    expect((await execIn(container, ['touch', '/etc/x'])).out).toMatch(/Read-only file system/);
    expect((await execIn(container, ['touch', '/experiment/ok', '/tmp/ok'])).code).toBe(0);
  });

  it('isolates an experiment: no other experiment, no manager, no registry, no host, no outside', async () => {
    const a = await taskContainer(lab, boxes[0]!.container_id);
    const b = await taskContainer(lab, boxes[1]!.container_id);
    const bAddr = Object.values(b.info.NetworkSettings.Networks)[0]!.IPAddress;
    expect(bAddr).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const [registryHost, registryPort] = lab.registry.split(':');
    const targets = [
      [bAddr, 22],
      [registryHost, 2377], // the manager's swarm API
      [registryHost, 2375],
      [registryHost, Number(registryPort)],
      [lab.hubHost, 22],
      ['1.1.1.1', 80],
    ];
    const probe = `
import socket
for host, port in ${JSON.stringify(targets)}:
    try:
        socket.create_connection((host, port), timeout=3).close()
        print("CONNECTED", host, port)
    except OSError as e:
        print("refused", host, port, type(e).__name__)
`;
    const res = await execIn(a.container, ['python3', '-c', probe]);
    expect(res.out).not.toContain('CONNECTED');
    expect(res.out.match(/refused/g)).toHaveLength(targets.length);
  });

  it('returns service logs and destroys services with their networks, idempotently', async () => {
    const b = boxes.pop()!;
    const logs = await rt.logs(b.container_id, { tail: 10 });
    expect(logs.stdout).toMatch(/started \d/);
    expect(await rt.destroy(b.container_id)).toEqual({ removed: true });
    expect(await leftovers(lab, b.experiment_id)).toEqual({ services: 0, networks: 0 });
    expect(await rt.destroy(b.container_id)).toEqual({ removed: false });
    expect((await runtimeFailure(rt.logs(b.container_id))).code).toBe('not_found');
    // A service someone else made is not ours to touch.
    const foreign = (await lab.manager.createService({
      Name: `foreign-${run}`,
      TaskTemplate: { ContainerSpec: { Image: lab.image, Command: ['sleep', '60'] } },
      Mode: { Replicated: { Replicas: 0 } },
    } as unknown as Docker.CreateServiceOptions)) as { id: string };
    try {
      expect(await rt.destroy(foreign.id)).toEqual({ removed: false });
      expect((await lab.manager.getService(foreign.id).inspect()).ID).toBe(foreign.id);
    } finally {
      await lab.manager.getService(foreign.id).remove();
    }
  });

  it('refuses a second service for the same experiment', async () => {
    const err = await runtimeFailure(
      rt.create({ experiment_id: boxes[0]!.experiment_id, command: ['true'], resources: small }),
    );
    expect(err.code).toBe('conflict');
    expect(err.message).toMatch(/destroy it first/);
  });

  it('bad input: not a manager, no node with room, an image no node can pull, a tag not a digest', async () => {
    const worker = new SwarmRuntime({ docker: lab.nodes.w1, image: lab.image });
    const notManager = await runtimeFailure(worker.create({ command: ['true'] }));
    expect(notManager.code).toBe('daemon_unavailable');
    expect(notManager.message).toMatch(/not a swarm manager \(swarm state "active", a worker\)/);
    const plain = new SwarmRuntime({ docker: new Docker(), image: lab.image });
    expect((await runtimeFailure(plain.create({ command: ['true'] }))).message).toMatch(
      /swarm state "inactive"/,
    );

    const id = `sw-${run}-big`;
    const t0 = performance.now();
    const big = await runtimeFailure(
      rt.create({ experiment_id: id, command: ['true'], resources: { cpu: 64 } }),
    );
    expect(big.code).toBe('create_failed');
    expect(big.message).toMatch(/no node could take .* within 8 s .*insufficient resources/);
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(await leftovers(lab, id)).toEqual({ services: 0, networks: 0 });

    const missing = `${lab.registry}/peragus/none@sha256:${'0'.repeat(64)}`;
    const noImage = await runtimeFailure(rt.create({ experiment_id: `${id}-img`, image: missing }));
    expect(noImage.code).toBe('image_not_found');
    expect(noImage.message).toContain(missing);
    expect(await leftovers(lab, `${id}-img`)).toEqual({ services: 0, networks: 0 });

    const tag = await runtimeFailure(rt.create({ image: 'peragus/experiment:latest', command: ['true'] }));
    expect(tag.code).toBe('invalid_spec');
    expect(tag.message).toMatch(/by digest/);
  });
});
