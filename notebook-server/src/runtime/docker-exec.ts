// One command in a running container: output demuxed and capped, and a
// timeout that kills the process tree by host pid.
import { readdirSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { call } from './docker-errors.ts';
import { own } from './docker-inspect.ts';
import { Capped, Demuxer, pumpExec } from './docker-stream.ts';
import { resolveExperimentPath } from './paths.ts';
import { ContainerRuntimeError, EXPERIMENT_MOUNT, type ExecOptions, type ExecResult } from './types.ts';

const DEFAULTS = {
  execTimeoutMs: 60_000,
  maxOutputBytes: 2 ** 20,
};

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

/** A Unix-socket daemon runs on this host, so exec pids are ours to signal. */
function isLocalDaemon(docker: Docker): boolean {
  const modem = (docker as unknown as { modem?: { socketPath?: unknown } }).modem;
  return typeof modem?.socketPath === 'string' || typeof modem?.socketPath === 'function';
}

/** Kills a timed-out exec by its host pid (the Engine API has no exec kill). */
async function killExec(docker: Docker, exec: Docker.Exec): Promise<void> {
  if (!isLocalDaemon(docker)) return;
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

export async function exec(
  docker: Docker,
  id: string,
  cmd: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  if (!Array.isArray(cmd) || cmd.length === 0 || cmd.some((c) => typeof c !== 'string')) {
    throw new ContainerRuntimeError('exec_failed', 'exec needs a non-empty command array of strings');
  }
  const { container, info } = await own(docker, id);
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

  const handle = await call(docker, () =>
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
  const stream = (await call(docker, () => handle.start({ hijack: true, stdin: false }))) as Readable;
  const stdout = new Capped(cap);
  const stderr = new Capped(cap);
  const demux = new Demuxer((s, c) => (s === 'stderr' ? stderr : stdout).add(c));
  let timedOut = false;

  await pumpExec(stream, demux, {
    timeoutMs,
    onTimeout: () => {
      timedOut = true;
      killExec(docker, handle).finally(() => {
        // If the process could not be signalled, stop waiting anyway.
        setTimeout(() => stream.destroy(), 2000).unref();
      });
    },
    errorEnds: () => timedOut,
  });

  let exitCode: number | null = null;
  for (let i = 0; i < 50; i++) {
    const state = await call(docker, () => handle.inspect());
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
