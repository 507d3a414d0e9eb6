// ContainerRuntime on the Docker Engine API (dockerode). Each experiment is one
// locked-down container; its volume is a host directory bind-mounted at
// /experiment so the host reaches the node role's Unix socket directly.
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { chown, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Docker from 'dockerode';
import {
  endpointFor,
  experimentLayout,
  peragusHome,
  probeSocket,
  releaseEndpoint,
  resolveExperimentPath,
  waitForEndpoint,
} from './paths.ts';
import { packTar, readTar, type TarWriteEntry } from './tar.ts';
import {
  type ContainerInfo,
  type ContainerRuntime,
  ContainerRuntimeError,
  type ContainerSpec,
  ContainerSpecSchema,
  type CopyInResult,
  type CopyOutResult,
  type CopySource,
  CREATED_BY,
  type CreateResult,
  type DestroyOptions,
  EXPERIMENT_MOUNT,
  type ExecOptions,
  type ExecResult,
  type HealthResult,
  LABELS,
  type LogsOptions,
  type LogsResult,
  parseMemory,
  type StatsResult,
} from './types.ts';

/** uid/gid of the `peragus` user baked into the experiment image. */
export const IMAGE_UID = 10001;

const DEFAULTS = {
  cpu: 1,
  memory: 2 * 2 ** 30,
  pids: 512,
  tmpfsBytes: 512 * 2 ** 20,
  execTimeoutMs: 60_000,
  maxOutputBytes: 2 ** 20,
  readyTimeoutMs: 60_000,
};

export interface DockerRuntimeOptions {
  /** A configured client; default: from DOCKER_HOST or /var/run/docker.sock. */
  docker?: Docker;
  /** State root; default PERAGUS_HOME or ~/.peragus. */
  home?: string;
  /** Default image; default PERAGUS_IMAGE or peragus/experiment:<package version>. */
  image?: string;
  /** How long create waits for the node role's endpoint. */
  readyTimeoutMs?: number;
  /** Resources when the spec gives none. */
  defaultResources?: { cpu?: number; memory?: number | string; pids?: number };
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'latest';
  } catch {
    return 'latest';
  }
}

export function defaultImage(env: NodeJS.ProcessEnv = process.env): string {
  return env.PERAGUS_IMAGE || `peragus/experiment:${packageVersion()}`;
}

interface DockerError {
  statusCode?: number;
  code?: string;
  syscall?: string;
  address?: string;
  json?: { message?: string } | string | null;
  reason?: string;
  message?: string;
}

function apiMessage(err: unknown): string {
  const e = err as DockerError;
  if (e?.json && typeof e.json === 'object' && typeof e.json.message === 'string') return e.json.message;
  if (typeof e?.json === 'string' && e.json) return e.json;
  return e?.message ?? String(err);
}

function statusOf(err: unknown): number | undefined {
  return (err as DockerError)?.statusCode;
}

// Container ids, short ids and names only: anything else could steer the
// request to another API path, since dockerode splices ids into URLs.
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Splits Docker's multiplexed stdout/stderr framing: [type, 0, 0, 0, size(u32 BE)] + payload. */
class Demuxer {
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly sink: (stream: 'stdout' | 'stderr', chunk: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const type = this.pending[0]!;
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) return;
      const payload = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      this.sink(type === 2 ? 'stderr' : 'stdout', payload);
    }
  }
}

/** Collects one output stream up to a byte cap. */
class Capped {
  private parts: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly cap: number) {}
  add(chunk: Buffer): void {
    const room = this.cap - this.size;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (part.length < chunk.length) this.truncated = true;
    this.parts.push(Buffer.from(part));
    this.size += part.length;
  }
  text(): string {
    return Buffer.concat(this.parts).toString('utf8');
  }
}

function demuxBuffer(data: Buffer | string): LogsResult {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  // A TTY container's log is not framed; treat it as plain stdout.
  if (buf.length >= 8 && (buf[0] === 1 || buf[0] === 2) && buf[1] === 0 && buf[2] === 0 && buf[3] === 0) {
    new Demuxer((s, c) => (s === 'stderr' ? err : out).push(Buffer.from(c))).push(buf);
  } else {
    out.push(buf);
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${+(n / 2 ** 30).toFixed(2)} GiB` : `${+(n / 2 ** 20).toFixed(1)} MiB`;
}

/** Host pids below `pid`, from /proc (empty where /proc lacks `children`). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0 && out.length < 10_000) {
    const p = queue.shift()!;
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        for (const child of readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8')
          .split(/\s+/)
          .filter(Boolean)) {
          out.push(Number(child));
          queue.push(Number(child));
        }
      } catch {
        // thread gone
      }
    }
  }
  return out;
}

type Inspect = Docker.ContainerInspectInfo;

export class DockerRuntime implements ContainerRuntime {
  readonly kind = 'docker' as const;
  readonly docker: Docker;
  readonly home: string;
  readonly image: string;
  private readonly readyTimeoutMs: number;
  private readonly defaults: { cpu: number; memory: number; pids: number };

  constructor(options: DockerRuntimeOptions = {}) {
    this.docker = options.docker ?? new Docker();
    this.home = resolve(options.home ?? peragusHome());
    this.image = options.image ?? defaultImage();
    this.readyTimeoutMs = options.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs;
    const d = options.defaultResources ?? {};
    this.defaults = {
      cpu: d.cpu ?? DEFAULTS.cpu,
      memory: d.memory !== undefined ? parseMemory(d.memory) : DEFAULTS.memory,
      pids: d.pids ?? DEFAULTS.pids,
    };
  }

  /** Where the client talks to the daemon, for error messages. */
  private daemonAddress(err?: DockerError): string {
    if (err?.address) return err.address;
    const modem = (
      this.docker as unknown as { modem?: { socketPath?: unknown; host?: string; port?: number } }
    ).modem;
    if (typeof modem?.socketPath === 'string') return modem.socketPath;
    if (modem?.host) return `${modem.host}${modem.port ? `:${modem.port}` : ''}`;
    // dockerode resolves the default socket lazily (~/.docker/run/docker.sock, else this one).
    return '/var/run/docker.sock';
  }

  /** A Unix-socket daemon runs on this host, so exec pids are ours to signal. */
  private isLocalDaemon(): boolean {
    const modem = (this.docker as unknown as { modem?: { socketPath?: unknown } }).modem;
    return typeof modem?.socketPath === 'string' || typeof modem?.socketPath === 'function';
  }

  /** Maps transport failures to a daemon_unavailable error; passes anything else through. */
  private fail(err: unknown): never {
    if (err instanceof ContainerRuntimeError) throw err;
    const e = err as DockerError;
    if (
      e?.code &&
      ['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(e.code)
    ) {
      const where = this.daemonAddress(e);
      const hint =
        e.code === 'EACCES'
          ? 'permission denied: run as root or add this user to the "docker" group'
          : 'start it (e.g. `dockerd >/var/log/dockerd.log 2>&1 &`, or `systemctl start docker`) or point DOCKER_HOST at a running daemon; PERAGUS_RUNTIME=local needs no Docker';
      throw new ContainerRuntimeError(
        'daemon_unavailable',
        `Docker daemon not reachable at ${where} (${e.code}): ${hint}`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Inspects a container and checks Peragus created it; anything else is "not found". */
  private async own(id: string): Promise<{ container: Docker.Container; info: Inspect }> {
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
      throw new ContainerRuntimeError('not_found', `no container "${String(id)}": not a valid container id`);
    }
    const container = this.docker.getContainer(id);
    let info: Inspect;
    try {
      info = await container.inspect();
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new ContainerRuntimeError(
          'not_found',
          `no container "${id}" (unknown id, or already destroyed)`,
          {
            cause: err,
          },
        );
      }
      this.fail(err);
    }
    if (info.Config.Labels?.[LABELS.createdBy] !== CREATED_BY) {
      throw new ContainerRuntimeError(
        'not_found',
        `no Peragus container "${id}" (that container was not created by Peragus)`,
      );
    }
    return { container: this.docker.getContainer(info.Id), info };
  }

  private static userOf(info: Inspect): { uid: number; gid: number } {
    const [u, g] = (info.Config.User || '0:0').split(':');
    const uid = Number(u);
    const gid = Number(g ?? u);
    return { uid: Number.isInteger(uid) ? uid : 0, gid: Number.isInteger(gid) ? gid : 0 };
  }

  /**
   * As root on the host, run as the image's unprivileged user and hand it the
   * work dir; otherwise run as the calling user, so files stay theirs.
   */
  private containerUser(): { uid: number; gid: number } {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    return uid === 0 ? { uid: IMAGE_UID, gid: IMAGE_UID } : { uid, gid };
  }

  async create(input: ContainerSpec = {}): Promise<CreateResult> {
    const parsed = ContainerSpecSchema.safeParse(input);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'spec'}: ${i.message}`).join('; ');
      throw new ContainerRuntimeError('invalid_spec', `invalid container spec: ${issues}`);
    }
    const spec = parsed.data;
    const image = spec.image ?? this.image;

    let imageInfo: Docker.ImageInspectInfo;
    try {
      imageInfo = await this.docker.getImage(image).inspect();
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new ContainerRuntimeError(
          'image_not_found',
          `image "${image}" not found on the Docker daemon: build it with container-image/build.sh (or set PERAGUS_IMAGE to an existing image)`,
          { cause: err },
        );
      }
      this.fail(err);
    }

    const experimentId = spec.experiment_id ?? `exp-${randomBytes(6).toString('hex')}`;
    const existing = await this.list({ [LABELS.experimentId]: experimentId });
    if (existing.length > 0) {
      throw new ContainerRuntimeError(
        'conflict',
        `experiment "${experimentId}" already has container ${existing[0]!.container_id.slice(0, 12)} (${existing[0]!.status}): destroy it first`,
      );
    }

    const layout = experimentLayout(this.home, experimentId);
    const createdRoot = !existsSync(layout.root);
    const user = this.containerUser();
    const memory =
      spec.resources?.memory !== undefined ? parseMemory(spec.resources.memory) : this.defaults.memory;
    const cpu = spec.resources?.cpu ?? this.defaults.cpu;
    const pids = spec.resources?.pids ?? this.defaults.pids;
    const role = spec.command ? 'custom' : 'node';
    let endpoint = layout.socketPath;
    let containerId: string | undefined;

    try {
      mkdirSync(join(layout.workDir, '.peragus'), { recursive: true });
      if (process.getuid?.() === 0) {
        await chown(layout.workDir, user.uid, user.gid);
        await chown(join(layout.workDir, '.peragus'), user.uid, user.gid);
      }
      // A socket left by an earlier container would look like a dead endpoint.
      await unlink(layout.socketPath).catch(() => undefined);
      endpoint = endpointFor(layout.socketPath);

      const env = {
        ...spec.env,
        PERAGUS_EXPERIMENT_ID: experimentId,
        PERAGUS_WORK_DIR: EXPERIMENT_MOUNT,
        PERAGUS_SOCKET: `${EXPERIMENT_MOUNT}/.peragus/node.sock`,
      };
      const container = await this.call(() =>
        this.docker.createContainer({
          // One name per experiment: the daemon then refuses a concurrent twin atomically.
          name: `peragus-${experimentId}`,
          Image: imageInfo.Id,
          // An override runs as the container's first process, with no init in
          // between, so a command that cannot start fails `start` itself.
          ...(spec.command ? { Entrypoint: spec.command.slice(0, 1), Cmd: spec.command.slice(1) } : {}),
          User: `${user.uid}:${user.gid}`,
          WorkingDir: EXPERIMENT_MOUNT,
          Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
          Labels: {
            ...spec.labels,
            [LABELS.createdBy]: CREATED_BY,
            [LABELS.experimentId]: experimentId,
            [LABELS.workDir]: layout.workDir,
            [LABELS.endpoint]: endpoint,
            [LABELS.role]: role,
            [LABELS.image]: image,
          },
          NetworkDisabled: true,
          HostConfig: {
            NetworkMode: 'none',
            ReadonlyRootfs: true,
            CapDrop: ['ALL'],
            SecurityOpt: ['no-new-privileges:true'],
            PidsLimit: pids,
            Memory: memory,
            // Equal to Memory: no swap, so the cap is a hard cap.
            MemorySwap: memory,
            NanoCpus: Math.round(cpu * 1e9),
            Mounts: [{ Type: 'bind', Source: layout.workDir, Target: EXPERIMENT_MOUNT, ReadOnly: false }],
            Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${DEFAULTS.tmpfsBytes},mode=1777` },
            IpcMode: 'private',
            RestartPolicy: { Name: 'no' },
            LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
          },
        }),
      ).catch((err: unknown) => {
        if (statusOf(err) === undefined || err instanceof ContainerRuntimeError) throw err;
        if (statusOf(err) === 409) {
          throw new ContainerRuntimeError(
            'conflict',
            `experiment "${experimentId}" already has a container (created concurrently): destroy it first`,
            { cause: err },
          );
        }
        throw new ContainerRuntimeError(
          'create_failed',
          `Docker refused the container for ${experimentId}: ${apiMessage(err)}`,
          {
            cause: err,
          },
        );
      });
      containerId = container.id;
      try {
        await container.start();
      } catch (err) {
        const msg = apiMessage(err);
        const what = spec.command ? `command ${JSON.stringify(spec.command)}` : `image ${image}`;
        throw new ContainerRuntimeError(
          'create_failed',
          `container for ${experimentId} did not start (${what}): ${msg}`,
          {
            cause: err,
          },
        );
      }

      if (role === 'node') {
        await waitForEndpoint(endpoint, this.readyTimeoutMs, async () => {
          const info = await container.inspect();
          if (info.State.Running) return null;
          const logs = await this.logsOf(container, 20);
          return `exit code ${info.State.ExitCode}${info.State.OOMKilled ? ' (OOM killed)' : ''}; last output: ${(logs.stderr || logs.stdout).trim().slice(-2000)}`;
        });
      }
      return {
        container_id: container.id,
        experiment_id: experimentId,
        endpoint,
        work_dir: layout.workDir,
        image,
        image_id: imageInfo.Id,
      };
    } catch (err) {
      // A failed create leaves nothing behind: no container, no new folders.
      if (containerId) {
        await this.docker
          .getContainer(containerId)
          .remove({ force: true })
          .catch(() => undefined);
      }
      // On a conflict the folders belong to the container that won.
      const lostRace = err instanceof ContainerRuntimeError && err.code === 'conflict';
      if (!lostRace) {
        releaseEndpoint(endpoint, layout.socketPath);
        if (createdRoot) rmSync(layout.root, { recursive: true, force: true });
      }
      if (err instanceof ContainerRuntimeError) throw err;
      this.fail(err);
    }
  }

  async exec(id: string, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (!Array.isArray(cmd) || cmd.length === 0 || cmd.some((c) => typeof c !== 'string')) {
      throw new ContainerRuntimeError('exec_failed', 'exec needs a non-empty command array of strings');
    }
    const { container, info } = await this.own(id);
    if (!info.State.Running) {
      throw new ContainerRuntimeError(
        'exec_failed',
        `container ${id} is not running (status ${info.State.Status}, exit code ${info.State.ExitCode}${info.State.OOMKilled ? ', OOM killed' : ''})`,
      );
    }
    const cwd = options.cwd ? resolveExperimentPath(options.cwd, 'cwd').container : EXPERIMENT_MOUNT;
    const timeoutMs = options.timeoutMs ?? DEFAULTS.execTimeoutMs;
    const cap = options.maxOutputBytes ?? DEFAULTS.maxOutputBytes;
    const started = Date.now();

    const exec = await this.call(() =>
      container.exec({
        Cmd: cmd,
        AttachStdout: true,
        AttachStderr: true,
        AttachStdin: false,
        Tty: false,
        WorkingDir: cwd,
        Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
      }),
    );
    const stream = (await this.call(() => exec.start({ hijack: true, stdin: false }))) as Readable;
    const stdout = new Capped(cap);
    const stderr = new Capped(cap);
    const demux = new Demuxer((s, c) => (s === 'stderr' ? stderr : stdout).add(c));
    let timedOut = false;

    await new Promise<void>((done, reject) => {
      const timer = setTimeout(() => {
        timedOut = true;
        this.killExec(exec).finally(() => {
          // If the process could not be signalled, stop waiting anyway.
          setTimeout(() => stream.destroy(), 2000).unref();
        });
      }, timeoutMs);
      stream.on('data', (chunk: Buffer) => demux.push(chunk));
      stream.once('error', (err) => {
        clearTimeout(timer);
        if (timedOut) done();
        else reject(err);
      });
      stream.once('close', () => {
        clearTimeout(timer);
        done();
      });
      stream.once('end', () => {
        clearTimeout(timer);
        done();
      });
    });

    let exitCode: number | null = null;
    for (let i = 0; i < 50; i++) {
      const state = await this.call(() => exec.inspect());
      if (!state.Running && state.ExitCode !== null) {
        exitCode = state.ExitCode;
        break;
      }
      if (timedOut && i > 10) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const out = stdout.text();
    const err = stderr.text();
    // runc reports a command it cannot start through the output plus 126/127.
    if ((exitCode === 126 || exitCode === 127) && /OCI runtime exec failed/.test(out + err)) {
      const detail = /exec failed: (.*?)(?:: unknown)?\s*$/m.exec(out + err)?.[1] ?? (out + err).trim();
      throw new ContainerRuntimeError(
        'exec_failed',
        `cannot run ${JSON.stringify(cmd[0])} in container ${id}: ${detail}`,
      );
    }
    return {
      exit_code: timedOut ? 124 : (exitCode ?? -1),
      stdout: out,
      stderr: err,
      timed_out: timedOut,
      truncated: stdout.truncated || stderr.truncated,
      duration_ms: Date.now() - started,
    };
  }

  /** Kills a timed-out exec by its host pid (the Engine API has no exec kill). */
  private async killExec(exec: Docker.Exec): Promise<void> {
    if (!this.isLocalDaemon()) return;
    try {
      const state = await exec.inspect();
      if (!state.Running || !(state.Pid > 0)) return;
      // The whole tree: a shell pipeline's children would outlive their parent.
      for (const pid of [state.Pid, ...descendants(state.Pid)]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
    } catch {
      // already gone, or not ours to signal
    }
  }

  async cpIn(id: string, dest: string, source: CopySource): Promise<CopyInResult> {
    const target = resolveExperimentPath(dest, 'dest');
    const { container, info } = await this.own(id);
    const { uid, gid } = DockerRuntime.userOf(info);
    const hash = createHash('sha256');
    let size: number;
    let body: AsyncIterable<Uint8Array> | Uint8Array;

    if ('content' in source && source.content !== undefined) {
      const buf = typeof source.content === 'string' ? Buffer.from(source.content, 'utf8') : source.content;
      size = buf.byteLength;
      hash.update(buf);
      body = buf;
    } else if ('path' in source && typeof source.path === 'string') {
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(source.path);
      } catch (err) {
        throw new ContainerRuntimeError(
          'file_not_found',
          `source file ${source.path} does not exist on the host`,
          {
            cause: err,
          },
        );
      }
      if (!st.isFile())
        throw new ContainerRuntimeError('copy_failed', `source ${source.path} is not a regular file`);
      size = st.size;
      const file = createReadStream(source.path);
      body = (async function* () {
        for await (const chunk of file) {
          hash.update(chunk as Buffer);
          yield chunk as Buffer;
        }
      })();
    } else {
      throw new ContainerRuntimeError(
        'copy_failed',
        'cpIn needs a source: {path} of a host file or {content}',
      );
    }

    const parts = target.relative.split('/');
    const entries: TarWriteEntry[] = [];
    for (let i = 1; i < parts.length; i++) {
      entries.push({ name: parts.slice(0, i).join('/'), type: 'directory', mode: 0o755, uid, gid });
    }
    entries.push({ name: target.relative, type: 'file', mode: 0o644, uid, gid, size, body });

    try {
      await container.putArchive(packTar(entries), { path: EXPERIMENT_MOUNT });
    } catch (err) {
      if (err instanceof ContainerRuntimeError) throw err;
      const status = statusOf(err);
      if (status === undefined) this.fail(err);
      throw new ContainerRuntimeError(
        'copy_failed',
        `copy into ${id}:${target.container} failed: ${apiMessage(err)}`,
        {
          cause: err,
        },
      );
    }
    return { path: target.relative, sha256: hash.digest('hex'), bytes: size };
  }

  async cpOut(id: string, src: string, destHostPath?: string): Promise<CopyOutResult> {
    const source = resolveExperimentPath(src, 'src');
    const { container, info } = await this.own(id);
    const workDir = info.Config.Labels?.[LABELS.workDir];
    let dest: string;
    if (destHostPath) {
      dest = resolve(destHostPath);
      if (existsSync(dest) && statSync(dest).isDirectory()) dest = join(dest, basename(source.relative));
    } else {
      const root = workDir ? dirname(workDir) : experimentLayout(this.home, info.Id).root;
      dest = join(root, 'out', ...source.relative.split('/'));
    }

    let archive: Readable;
    try {
      archive = (await container.getArchive({ path: source.container })) as unknown as Readable;
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new ContainerRuntimeError(
          'file_not_found',
          `no file "${source.relative}" in ${EXPERIMENT_MOUNT} of container ${id}`,
          {
            cause: err,
          },
        );
      }
      if (statusOf(err) === undefined) this.fail(err);
      throw new ContainerRuntimeError(
        'copy_failed',
        `copy out of ${id}:${source.container} failed: ${apiMessage(err)}`,
        {
          cause: err,
        },
      );
    }

    mkdirSync(dirname(dest), { recursive: true });
    const partial = `${dest}.partial-${randomBytes(4).toString('hex')}`;
    try {
      for await (const entry of readTar(archive)) {
        if (entry.header.type === 'directory') {
          throw new ContainerRuntimeError(
            'copy_failed',
            `"${source.relative}" is a directory: cp_out copies one file at a time`,
          );
        }
        if (entry.header.type !== 'file') {
          throw new ContainerRuntimeError(
            'copy_failed',
            `"${source.relative}" is a ${entry.header.type}${entry.header.linkname ? ` to ${entry.header.linkname}` : ''}, not a regular file`,
          );
        }
        const hash = createHash('sha256');
        let bytes = 0;
        await pipeline(
          (async function* () {
            for await (const chunk of entry.body) {
              hash.update(chunk);
              bytes += chunk.length;
              yield chunk;
            }
          })(),
          createWriteStream(partial, { mode: 0o644 }),
        );
        await rename(partial, dest);
        return { path: dest, sha256: hash.digest('hex'), bytes };
      }
      throw new ContainerRuntimeError('copy_failed', `the archive of "${source.relative}" was empty`);
    } catch (err) {
      await rm(partial, { force: true });
      archive.destroy();
      if (err instanceof ContainerRuntimeError) throw err;
      throw new ContainerRuntimeError(
        'copy_failed',
        `copy out of ${id}:${source.container} failed: ${String(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  private async logsOf(container: Docker.Container, tail: number): Promise<LogsResult> {
    const data = (await container.logs({
      stdout: true,
      stderr: true,
      tail,
      follow: false,
    })) as unknown as Buffer;
    return demuxBuffer(data);
  }

  async logs(id: string, options: LogsOptions = {}): Promise<LogsResult> {
    const { container } = await this.own(id);
    const tail = Math.max(1, Math.min(options.tail ?? 200, 100_000));
    return this.call(() => this.logsOf(container, tail));
  }

  async stats(id: string): Promise<StatsResult> {
    const { container } = await this.own(id);
    const s = (await this.call(() => container.stats({ stream: false }))) as Docker.ContainerStats;
    const cpuDelta =
      (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
    const sysDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
    const cpus = s.cpu_stats?.online_cpus || s.cpu_stats?.cpu_usage?.percpu_usage?.length || 1;
    const mem = s.memory_stats ?? ({} as Docker.MemoryStats);
    const memStats = (mem.stats ?? {}) as unknown as Record<string, number | undefined>;
    // Page cache that can be dropped is not pressure: subtract it like `docker stats` does.
    const cache = memStats.total_inactive_file ?? memStats.inactive_file ?? 0;
    const usage = Math.max(0, (mem.usage ?? 0) - cache);
    const limit = mem.limit ?? 0;
    const pidsStats = (s.pids_stats ?? {}) as { current?: number; limit?: number };
    return {
      container_id: id,
      cpu_percent: sysDelta > 0 && cpuDelta > 0 ? +((cpuDelta / sysDelta) * cpus * 100).toFixed(2) : 0,
      memory_usage_bytes: usage,
      memory_limit_bytes: limit,
      memory_percent: limit > 0 ? +((usage / limit) * 100).toFixed(2) : 0,
      pids: pidsStats.current ?? 0,
      pids_limit: pidsStats.limit && pidsStats.limit < 2 ** 62 ? pidsStats.limit : null,
      read_at: s.read,
    };
  }

  /**
   * OOM kills of any process in the container's memory cgroup. Docker only
   * flags OOMKilled when the main process dies, but a kernel child can be the
   * victim while the node role survives, so read the cgroup's own counter.
   */
  private async oomKills(container: Docker.Container): Promise<number | null> {
    const script =
      'cat /sys/fs/cgroup/memory.events 2>/dev/null || cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null';
    try {
      const exec = await container.exec({
        Cmd: ['sh', '-c', script],
        AttachStdout: true,
        AttachStderr: true,
      });
      const stream = (await exec.start({ hijack: true, stdin: false })) as Readable;
      const out = new Capped(64 * 1024);
      const demux = new Demuxer((s, c) => s === 'stdout' && out.add(c));
      await new Promise<void>((done) => {
        const timer = setTimeout(() => {
          stream.destroy();
          done();
        }, 5000);
        stream.on('data', (c: Buffer) => demux.push(c));
        stream.once('close', () => {
          clearTimeout(timer);
          done();
        });
        stream.once('end', () => {
          clearTimeout(timer);
          done();
        });
      });
      const m = /^oom_kill (\d+)$/m.exec(out.text());
      return m ? Number(m[1]) : null;
    } catch {
      return null;
    }
  }

  async health(id: string): Promise<HealthResult> {
    const { container, info } = await this.own(id);
    const state = info.State;
    const labels = info.Config.Labels ?? {};
    const running = state.Running === true;
    const oomCount = running ? await this.oomKills(container) : null;
    const oomKilled = state.OOMKilled === true || (oomCount ?? 0) > 0;
    const expectsEndpoint = labels[LABELS.role] === 'node';
    const endpoint = labels[LABELS.endpoint];
    const reachable =
      expectsEndpoint && endpoint && running ? await probeSocket(endpoint) : expectsEndpoint ? false : null;
    const limit = info.HostConfig.Memory ?? 0;

    let reason: string;
    if (oomKilled) {
      const who = state.OOMKilled ? 'the main process' : `${oomCount} process(es)`;
      reason = `out of memory: the OOM killer ended ${who} at the ${limit ? formatBytes(limit) : 'memory'} limit`;
      if (!running) reason += `; container exited with code ${state.ExitCode}`;
    } else if (running) {
      reason = reachable === false ? 'running, but the MCP endpoint does not accept connections' : 'running';
    } else if (state.Status === 'created') {
      reason = 'created but never started';
    } else {
      reason = `${state.Status} with exit code ${state.ExitCode}${state.Error ? `: ${state.Error}` : ''}`;
    }
    const time = (t: string | undefined) => (t && !t.startsWith('0001-') ? t : null);
    return {
      container_id: info.Id,
      experiment_id: labels[LABELS.experimentId] ?? null,
      running,
      status: state.Status,
      oom_killed: oomKilled,
      oom_kill_count: oomCount,
      exit_code: running ? null : state.ExitCode,
      reason,
      started_at: time(state.StartedAt),
      finished_at: running ? null : time(state.FinishedAt),
      endpoint_reachable: reachable,
    };
  }

  async destroy(id: string, options: DestroyOptions = {}): Promise<{ removed: boolean }> {
    let target: { container: Docker.Container; info: Inspect };
    try {
      target = await this.own(id);
    } catch (err) {
      // Unknown or foreign ids are "already gone": destroy is idempotent.
      if (err instanceof ContainerRuntimeError && err.code === 'not_found') return { removed: false };
      throw err;
    }
    const labels = target.info.Config.Labels ?? {};
    try {
      await target.container.remove({ force: true });
    } catch (err) {
      const status = statusOf(err);
      // 404: removed meanwhile; 409: a removal is already under way.
      if (status === 404 || status === 409) return { removed: false };
      this.fail(err);
    }
    const workDir = labels[LABELS.workDir];
    const endpoint = labels[LABELS.endpoint];
    if (workDir && endpoint) releaseEndpoint(endpoint, join(workDir, '.peragus', 'node.sock'));
    if (options.removeWorkDir && workDir) await rm(dirname(workDir), { recursive: true, force: true });
    return { removed: true };
  }

  async list(labels: Record<string, string> = {}): Promise<ContainerInfo[]> {
    const filters = [
      `${LABELS.createdBy}=${CREATED_BY}`,
      ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
    ];
    const rows = await this.call(() =>
      this.docker.listContainers({ all: true, filters: { label: filters } }),
    );
    return rows.map((row) => ({
      container_id: row.Id,
      experiment_id: row.Labels?.[LABELS.experimentId] ?? null,
      name: (row.Names?.[0] ?? '').replace(/^\//, ''),
      image: row.Labels?.[LABELS.image] ?? row.Image,
      status: row.State,
      running: row.State === 'running',
      created_at: new Date(row.Created * 1000).toISOString(),
      labels: row.Labels ?? {},
      endpoint: row.Labels?.[LABELS.endpoint] ?? null,
      work_dir: row.Labels?.[LABELS.workDir] ?? null,
    }));
  }
}
