// The hub on the lab: experiments whose node role connects out to this host.
// From inside an experiment (commands run over the hub itself), the only
// thing it reaches is the hub: not another experiment, not the manager's
// Docker API, not the registry, not the host's other ports, not the outside.
// The hub refuses another experiment's token and a revoked one; bad input
// leaves no service, network or token behind.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubServer } from '../../notebook-server/src/runtime/hub/server.ts';
import { type SwarmCreateResult, SwarmRuntime } from '../../notebook-server/src/runtime/swarm.ts';
import { runtimeFailure } from '../helpers/runtime-failure.ts';
import { type SwarmLab, swarmLab, taskContainer } from '../helpers/swarm-lab.ts';

const run = randomBytes(3).toString('hex');
const labels = { 'test-run': `hub-${run}` };
const small = { cpu: 0.5, memory: '1g' };

/** Python run inside an experiment: connects to each target, prints CONNECTED or refused per line. */
const probe = (targets: [string, number][]) => `
import socket
for host, port in ${JSON.stringify(targets)}:
    try:
        socket.create_connection((host, port), timeout=3).close()
        print("CONNECTED", host, port)
    except OSError as e:
        print("refused", host, port, type(e).__name__)
`;

/** Python: a WebSocket upgrade to the hub with a token; prints the HTTP status line. */
const upgrade = (hubUrl: string, experimentId: string, token: string) => {
  const u = new URL(hubUrl.replace(/^ws/, 'http'));
  return `
import socket
s = socket.create_connection((${JSON.stringify(u.hostname)}, ${Number(u.port)}), timeout=5)
s.sendall(("GET ${u.pathname} HTTP/1.1\\r\\nHost: hub\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n"
  "Authorization: Bearer ${token}\\r\\nx-peragus-experiment: ${experimentId}\\r\\n\\r\\n").encode())
print(s.recv(200).decode().splitlines()[0])
`;
};

async function tokenOf(lab: SwarmLab, serviceId: string): Promise<string> {
  const s = (await lab.manager.getService(serviceId.replace(/^swarm-/, '')).inspect()) as {
    Spec: { TaskTemplate: { ContainerSpec: { Env: string[] } } };
  };
  const env = s.Spec.TaskTemplate.ContainerSpec.Env.find((e) => e.startsWith('PERAGUS_HUB_TOKEN='));
  return env!.slice('PERAGUS_HUB_TOKEN='.length);
}

async function leftovers(lab: SwarmLab, rt: SwarmRuntime, experimentId: string) {
  const label = [`peragus.experiment_id=${experimentId}`];
  const services = await lab.manager.listServices({ filters: JSON.stringify({ label }) });
  const networks = await lab.manager.listNetworks({ filters: { label } });
  return { services: services.length, networks: networks.length, token: rt.hub.tokens.has(experimentId) };
}

describe('the hub on the lab cluster', () => {
  let lab: SwarmLab;
  let rt: SwarmRuntime;
  let home: string;
  let a: SwarmCreateResult;
  let b: SwarmCreateResult;

  beforeAll(async () => {
    lab = swarmLab();
    home = mkdtempSync(join(tmpdir(), 'peragus-hub-lab-'));
    rt = new SwarmRuntime({
      home,
      docker: lab.manager,
      image: lab.image,
      scheduleTimeoutMs: 8000,
      hub: new HubServer({
        host: lab.hubHost,
        ports: lab.env.PERAGUS_SWARM_HUB_PORTS!,
        tokenFile: join(home, 'tokens.json'),
      }),
    });
    const made = await Promise.all(
      ['a', 'b'].map((x) => rt.create({ experiment_id: `hub-${run}-${x}`, resources: small, labels })),
    );
    a = made[0]!;
    b = made[1]!;
  });

  afterAll(async () => {
    if (rt) {
      for (const c of await rt.list(labels)) await rt.destroy(c.container_id);
      await rt.close();
    }
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('an experiment reaches the hub and nothing else', async () => {
    // B listens on a port; A must not reach it at any of B's addresses (B itself can).
    expect(
      (await rt.exec(b.container_id, ['sh', '-c', 'python3 -m http.server 8099 >/dev/null 2>&1 & sleep 1']))
        .exit_code,
    ).toBe(0);
    expect((await rt.exec(b.container_id, ['python3', '-c', probe([['127.0.0.1', 8099]])])).stdout).toContain(
      'CONNECTED',
    );
    const bTask = await taskContainer(lab, b.container_id.replace(/^swarm-/, ''));
    const bAddrs = Object.values(bTask.info.NetworkSettings.Networks).map((n) => n.IPAddress);
    const hub = new URL(rt.hub.url.replace(/^ws/, 'http'));
    const [registryHost, registryPort] = lab.registry.split(':');
    const refused: [string, number][] = [
      ...bAddrs.map((ip) => [ip, 8099] as [string, number]),
      [registryHost!, 2377],
      [registryHost!, 2375],
      [registryHost!, Number(registryPort)],
      ['10.231.77.11', 2375],
      [lab.hubHost, 22],
      [lab.hubHost, 2375],
      ['1.1.1.1', 80],
    ];
    const out = (
      await rt.exec(
        a.container_id,
        ['python3', '-c', probe([...refused, [hub.hostname, Number(hub.port)]])],
        {
          timeoutMs: 120_000,
        },
      )
    ).stdout;
    expect(out.match(/refused/g), out).toHaveLength(refused.length);
    expect(out).toContain(`CONNECTED ${hub.hostname} ${hub.port}`);
    // The token is the node's: commands of the experiment do not see it in their environment.
    expect((await rt.exec(a.container_id, ['sh', '-c', 'echo "[$PERAGUS_HUB_TOKEN]"'])).stdout).toBe('[]\n');
  });

  it("refuses another experiment's token, and a revoked one", async () => {
    const tokenB = await tokenOf(lab, b.container_id);
    const tokenA = await tokenOf(lab, a.container_id);
    const tryHub = async (experimentId: string, token: string) =>
      (
        await rt.exec(a.container_id, ['python3', '-c', upgrade(rt.hub.url, experimentId, token)])
      ).stdout.trim();
    expect(await tryHub(a.experiment_id, tokenB)).toMatch(/^HTTP\/1.1 401/);
    expect(await tryHub(a.experiment_id, 'x'.repeat(43))).toMatch(/^HTTP\/1.1 401/);
    expect(await tryHub(a.experiment_id, tokenA)).toMatch(/^HTTP\/1.1 101/);
    expect(await rt.destroy(b.container_id)).toEqual({ removed: true });
    expect(await tryHub(b.experiment_id, tokenB)).toMatch(/^HTTP\/1.1 401/);
    expect(await leftovers(lab, rt, b.experiment_id)).toEqual({ services: 0, networks: 0, token: false });
    // A's own node is still connected and answering.
    expect((await rt.health(a.container_id)).endpoint_reachable).toBe(true);
  });

  it('container_list and stats name the node; files cross the hub by sha256', async () => {
    const listed = (await rt.list(labels)).find((c) => c.container_id === a.container_id)!;
    expect(['mgr', 'w1', 'w2']).toContain(listed.node);
    expect((await rt.stats(a.container_id)).node).toBe(listed.node);
    const data = Buffer.from(randomBytes(300_000));
    const inRes = await rt.cpIn(a.container_id, 'in/data.bin', { content: data });
    const outRes = await rt.cpOut(a.container_id, 'in/data.bin');
    expect(outRes.sha256).toBe(inRes.sha256);
    expect(outRes.bytes).toBe(data.length);
    expect((await runtimeFailure(rt.cpOut(a.container_id, '../../etc/passwd'))).code).toBe('invalid_path');
  });

  it('bad input leaves no service, network or token: no swarm, unschedulable, unpullable', async () => {
    const plain = new SwarmRuntime({ home, docker: new Docker(), image: lab.image, hub: rt.hub });
    const noSwarm = await runtimeFailure(plain.create({ experiment_id: `hub-${run}-plain` }));
    expect(noSwarm.message).toMatch(/not a swarm manager/);
    expect(rt.hub.tokens.has(`hub-${run}-plain`)).toBe(false);

    const t0 = performance.now();
    const big = await runtimeFailure(rt.create({ experiment_id: `hub-${run}-big`, resources: { cpu: 64 } }));
    expect(big.message).toMatch(/no node could take .* lower its resources/);
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(await leftovers(lab, rt, `hub-${run}-big`)).toEqual({ services: 0, networks: 0, token: false });

    const missing = `${lab.registry}/peragus/none@sha256:${'0'.repeat(64)}`;
    const noImage = await runtimeFailure(rt.create({ experiment_id: `hub-${run}-img`, image: missing }));
    expect(noImage.code).toBe('image_not_found');
    expect(await leftovers(lab, rt, `hub-${run}-img`)).toEqual({ services: 0, networks: 0, token: false });
  });
});
