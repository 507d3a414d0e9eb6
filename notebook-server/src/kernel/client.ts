// KernelClient: one connection to one kernel (and, when it owns the process, its
// lifecycle): readiness, execute, interrupt, restart, shutdown, heartbeat → dead.
import { EventEmitter } from 'node:events';
import type { KernelMessage } from '@jupyterlab/services';
import { KernelChannels } from './channels.ts';
import { type ConnectionFile, type ConnectionInfo, withFreshPorts } from './connection.ts';
import {
  KernelDeadError,
  KernelError,
  KernelRestartedError,
  KernelStartError,
  KernelTimeoutError,
} from './errors.ts';
import { Execution } from './execute.ts';
import { type KernelProcess, type KernelSpec, terminate } from './launcher.ts';
import { errorText, kernelLog } from './log.ts';
import { oomKillCount, oomReason } from './oom.ts';
import { PendingReplies } from './replies.ts';
import type { ExecuteOptions, ExecuteResult, Kernel, KernelEvents, KernelStatus } from './types.ts';
import { type Message, parentId, WireCodec, type WireStats } from './wire.ts';

export interface HeartbeatOptions {
  /** Time between pings (default 1000 ms). */
  intervalMs?: number;
  /** Consecutive unanswered pings before the kernel is declared dead (default 5). */
  maxMisses?: number;
}

export interface KernelClientOptions {
  /** The connection file (owned: deleted on shutdown) or bare connection info (attach to someone else's kernel). */
  connection: ConnectionFile | ConnectionInfo;
  spec?: KernelSpec;
  /** The kernel process, when this client owns it. */
  process?: KernelProcess;
  /** Starts a process on the connection file; required for boot() and restart(). */
  launch?: () => KernelProcess;
  heartbeat?: HeartbeatOptions | false;
  id?: string;
  /** ipc sockets in a directory the kernel can write: connected without following a link (channels.ts). */
  socketsInside?: string;
  /** Runs once the kernel is shut down (a sandbox made for it alone is ended). */
  onShutdown?: () => Promise<void>;
}

export interface ClientStats extends WireStats {
  /** Heartbeats that went unanswered (total). */
  heartbeatMisses: number;
}

const READY_NUDGE_MS = 500;
const QUICK_NUDGE_MS = 20;

export class KernelClient extends EventEmitter implements Kernel {
  readonly id: string;
  /** kernel_info_reply content, once ready. */
  info: KernelMessage.IInfoReply | undefined;
  #status: KernelStatus = 'starting';
  readonly #codec: WireCodec;
  #channels: KernelChannels;
  #process: KernelProcess | undefined;
  readonly #executions = new Map<string, Execution>();
  readonly #replies = new PendingReplies();
  #iopubSeen = false;
  #readyCheck: (() => void) | undefined;
  #readyAbort: ((err: Error) => void) | undefined;
  #stopHb: (() => void) | undefined;
  #hbMisses = 0;
  #shutdownPromise: Promise<void> | undefined;
  #restarting: Promise<void> | undefined;
  /** The kernel_info requests of the last readiness wait: their busy/idle never change the status. */
  readonly #probes = new Set<string>();
  /** Set while we stop the process on purpose, so its exit is not a death. */
  #expectingExit = false;

  readonly #options: KernelClientOptions;
  constructor(options: KernelClientOptions) {
    super();
    this.#options = options;
    this.id = options.id ?? crypto.randomUUID();
    this.#codec = new WireCodec(this.connection.key);
    this.#channels = this.#openChannels();
    if (options.process) this.#adopt(options.process);
  }

  get status(): KernelStatus {
    return this.#status;
  }

  get connection(): ConnectionInfo {
    const c = this.#options.connection;
    return 'info' in c ? c.info : c;
  }

  /** Path of the connection file this client owns (undefined when attached to someone else's kernel). */
  get connectionFile(): string | undefined {
    const c = this.#options.connection;
    return 'path' in c ? c.path : undefined;
  }

  get stats(): ClientStats {
    return { ...this.#codec.stats, heartbeatMisses: this.#hbMisses };
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  stderrTail(): string {
    return this.#process?.stderrTail() ?? '';
  }

  output(): string {
    return this.#process?.output() ?? '';
  }

  override on<E extends keyof KernelEvents>(event: E, listener: KernelEvents[E]): this {
    return super.on(event, listener);
  }

  override off<E extends keyof KernelEvents>(event: E, listener: KernelEvents[E]): this {
    return super.off(event, listener);
  }

  /**
   * Resolves once a kernel_info_reply AND some iopub message have arrived (the
   * latter proves our subscription is live, so no output is lost), nudging with
   * kernel_info_request every 500 ms. Rejects with the kernel's stderr tail on
   * timeout or when the process exits first.
   */
  waitReady(timeoutMs = 60_000): Promise<void> {
    this.info = undefined;
    this.#iopubSeen = false;
    this.#probes.clear();
    return new Promise<void>((resolve, reject) => {
      const started = Date.now();
      let quick: NodeJS.Timeout | undefined;
      const finish = (err?: Error) => {
        clearInterval(nudge);
        clearTimeout(timer);
        clearTimeout(quick);
        this.#readyCheck = undefined;
        this.#readyAbort = undefined;
        if (err) return reject(err);
        this.#setStatus('idle');
        this.#startHeartbeat();
        resolve();
      };
      this.#readyCheck = () => {
        if (this.info && this.#iopubSeen) finish();
        // The shell answered but our iopub subscription was not yet live when
        // the kernel published its status: ask again soon, not in 500 ms.
        else if (this.info && !quick) {
          quick = setTimeout(() => {
            quick = undefined;
            send();
          }, QUICK_NUDGE_MS);
        }
      };
      const send = () => {
        const probe = this.#codec.message('shell', 'kernel_info_request', {});
        this.#probes.add(probe.header.msg_id);
        this.#channels.send('shell', probe).catch(() => undefined);
      };
      const nudge = setInterval(send, READY_NUDGE_MS);
      const timer = setTimeout(() => {
        finish(
          new KernelStartError(
            `kernel did not become ready within ${timeoutMs} ms (kernel_info_reply: ${this.info ? 'yes' : 'no'}, iopub: ${this.#iopubSeen ? 'yes' : 'no'}, bad signatures: ${this.#codec.stats.badSignatures})`,
            this.stderrTail(),
          ),
        );
      }, timeoutMs);
      this.#readyAbort = (err) =>
        finish(
          err instanceof KernelDeadError
            ? new KernelStartError(
                `${err.reason} before it was ready (after ${Date.now() - started} ms)`,
                err.stderrTail,
              )
            : err,
        );
      send();
    });
  }

  async execute(code: string, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    await this.#usable();
    const silent = options.silent ?? false;
    const request = this.#codec.message('shell', 'execute_request', {
      code,
      silent,
      store_history: options.storeHistory ?? !silent,
      user_expressions: {},
      allow_stdin: options.allowStdin ?? false,
      stop_on_error: true,
    });
    const execution = new Execution(request.header.msg_id, options);
    this.#executions.set(execution.msgId, execution);
    const forget = () => this.#executions.delete(execution.msgId);
    execution.done.then(forget, forget);
    await this.#channels.send('shell', request).catch((err: Error) => execution.fail(err));
    if (!options.timeoutMs) return execution.done;

    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // Interrupt and let the kernel unwind (so it is idle for the next cell);
      // if it does not, stop waiting for this request anyway.
      this.interrupt().catch(() => undefined);
      setTimeout(
        () => execution.fail(new KernelTimeoutError('interrupt did not stop the cell')),
        5_000,
      ).unref();
    }, options.timeoutMs);
    try {
      const result = await execution.done;
      if (timedOut)
        throw new KernelTimeoutError(`cell exceeded its ${options.timeoutMs} ms timeout and was interrupted`);
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a request on shell or control and resolves with its reply (any message whose parent it is). */
  async request(
    channel: 'shell' | 'control',
    msgType: KernelMessage.MessageType,
    content: object,
    timeoutMs = 10_000,
  ): Promise<Message> {
    const message = this.#codec.message(channel, msgType, content);
    const id = message.header.msg_id;
    const reply = this.#replies.expect(id, `${msgType} reply`, timeoutMs);
    await this.#channels.send(channel, message).catch((err: Error) => this.#replies.reject(id, err));
    return reply;
  }

  /** Sends an arbitrary message (e.g. relayed from a Jupyter websocket client); replies arrive as 'message' events. */
  send(channel: 'shell' | 'control' | 'stdin', message: Message): Promise<void> {
    return this.#channels.send(channel, message);
  }

  async interrupt(): Promise<void> {
    if (this.#status === 'dead') return;
    const mode = this.#options.spec?.interrupt_mode ?? 'signal';
    if (mode === 'signal' && this.#process && !this.#process.hasExited) {
      // The whole process group, like jupyter_client, so subprocesses stop too.
      this.#process.signal('SIGINT');
      return;
    }
    await this.request('control', 'interrupt_request', {}, 5_000);
  }

  /**
   * Launches the process and waits until ready. A port taken by another
   * process between our probe and the kernel's bind shows up as "Address
   * already in use"; then we retry on fresh ports.
   */
  async boot(timeoutMs = 60_000, status: KernelStatus = 'starting'): Promise<void> {
    const launch = this.#options.launch;
    if (!launch) throw new KernelError('this client does not own its kernel process');
    for (let attempt = 1; ; attempt++) {
      // shutdown() may have run while a restart was stopping the old process.
      if (this.#shutdownPromise) throw new KernelRestartedError('kernel shut down');
      this.#setStatus(status);
      this.#adopt(launch());
      try {
        await this.waitReady(timeoutMs);
        return;
      } catch (err) {
        const c = this.#options.connection;
        const collided = err instanceof KernelStartError && /Address already in use/.test(err.stderrTail);
        if (!collided || attempt >= 3 || !('dispose' in c) || this.#shutdownPromise) throw err;
        await this.#stopProcess(false);
        await withFreshPorts(c);
        this.#channels.close();
        this.#channels = this.#openChannels();
      }
    }
  }

  /** Stops the process and starts a new one on the same connection file; resolves when ready. */
  restart(timeoutMs = 60_000): Promise<void> {
    if (this.#shutdownPromise) return Promise.reject(new KernelError('kernel was shut down'));
    this.#restarting ??= (async () => {
      this.#setStatus('restarting');
      this.#stopHeartbeat();
      this.#failPending(new KernelRestartedError('kernel restarted'));
      await this.#stopProcess(true);
      // Fresh sockets: nothing queued for the old process may reach the new one.
      this.#channels.close();
      this.#channels = this.#openChannels();
      await this.boot(timeoutMs, 'restarting');
    })().finally(() => {
      this.#restarting = undefined;
    });
    return this.#restarting;
  }

  /** shutdown_request, then SIGTERM, then SIGKILL. Idempotent. */
  shutdown(): Promise<void> {
    this.#shutdownPromise ??= (async () => {
      this.#stopHeartbeat();
      this.#failPending(new KernelRestartedError('kernel shut down'));
      await this.#restarting?.catch(() => undefined);
      await this.#stopProcess(false);
      this.#channels.close();
      const c = this.#options.connection;
      if ('dispose' in c) c.dispose();
      await this.#options.onShutdown?.().catch(() => undefined);
      this.#setStatus('dead');
    })();
    return this.#shutdownPromise;
  }

  // ---- internals ----------------------------------------------------------

  #openChannels(): KernelChannels {
    const inside = this.#options.socketsInside;
    return new KernelChannels(this.connection, this.#codec, (m) => this.#dispatch(m), {
      ...(inside ? { socketsInside: inside } : {}),
      onError: (channel, err) => this.#markDead(`its ${channel} channel cannot be connected: ${err.message}`),
    });
  }

  #adopt(proc: KernelProcess): void {
    this.#process = proc;
    this.#expectingExit = false;
    const oomBefore = oomKillCount(proc.memoryCgroup);
    proc.exited.then(({ code, signal }) => {
      if (this.#process !== proc || this.#expectingExit) return;
      const oom = oomReason({ code, signal }, oomBefore, proc.memoryCgroup);
      this.#markDead(`kernel process exited (${describeExit(code, signal)}${oom ? `: ${oom}` : ''})`);
    });
  }

  async #usable(): Promise<void> {
    if (this.#shutdownPromise) throw new KernelError('kernel was shut down');
    if (this.#restarting) await this.#restarting;
    if (this.#status === 'dead')
      throw new KernelDeadError('kernel is dead; restart it first', this.stderrTail());
  }

  #dispatch(message: Message): void {
    try {
      this.emit('message', message);
    } catch (err) {
      kernelLog.error(`[kernel] a message listener failed: ${errorText(err)}`);
    }
    const parent = parentId(message);
    if (message.channel === 'iopub') {
      this.#iopubSeen = true;
      // A readiness probe answered late (after another made the kernel ready) is not the user's work.
      const probe = parent !== undefined && this.#probes.has(parent);
      if (message.header.msg_type === 'status' && !this.#readyCheck && !this.#restarting && !probe) {
        const state = (message.content as KernelMessage.IStatusMsg['content']).execution_state;
        if (state === 'busy' || state === 'idle') this.#setStatus(state);
      }
      if (parent) this.#executions.get(parent)?.onIopub(message);
    } else if (message.channel === 'stdin') {
      // Only for our own executions: a relayed request (a Jupyter frontend via
      // send()) has someone to type the answer, who gets it as a 'message' event.
      if (message.header.msg_type === 'input_request' && parent && this.#executions.has(parent)) {
        this.#refuseInput(message);
      }
    } else {
      if (message.header.msg_type === 'kernel_info_reply') {
        this.info = message.content as KernelMessage.IInfoReply;
      }
      if (parent) {
        if (message.header.msg_type === 'execute_reply') this.#executions.get(parent)?.onReply(message);
        this.#replies.resolve(parent, message);
      }
    }
    this.#readyCheck?.();
  }

  /** Nobody can type into a headless kernel: answer with EOF so input() raises instead of hanging. */
  #refuseInput(request: Message): void {
    const reply = this.#codec.message(
      'stdin',
      'input_reply',
      { status: 'error', value: '\x04' },
      request.header,
    );
    this.#channels.send('stdin', reply).catch(() => undefined);
  }

  #setStatus(status: KernelStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.emit('status', status);
  }

  #failPending(error: Error): void {
    for (const e of this.#executions.values()) e.fail(error);
    this.#executions.clear();
    this.#replies.rejectAll(error);
    this.#readyAbort?.(error);
  }

  #markDead(reason: string): void {
    if (this.#status === 'dead' || this.#shutdownPromise) return;
    const tail = this.stderrTail();
    this.#stopHeartbeat();
    // A kernel with a lost heartbeat may still be running; make sure it is gone.
    this.#process?.signal('SIGKILL');
    // Nothing can be said to a dead kernel; restart() opens fresh channels.
    this.#channels.close();
    this.#failPending(new KernelDeadError(reason, tail));
    this.#setStatus('dead');
    this.emit('dead', reason, tail);
  }

  async #stopProcess(restart: boolean): Promise<void> {
    this.#expectingExit = true;
    const proc = this.#process;
    if (!proc) {
      // Not our process: asking is all we can do (unless we never launched one).
      if (!this.#options.launch) {
        await this.request('control', 'shutdown_request', { restart }, 1_000).catch(() => undefined);
      }
      return;
    }
    this.#channels
      .send('control', this.#codec.message('control', 'shutdown_request', { restart }))
      .catch(() => undefined);
    // A kernel that never answered kernel_info will not answer shutdown_request either;
    // a restart throws the old state away, so it waits less for a clean exit.
    await terminate(proc, !this.info ? 0 : restart ? 1_000 : 2_000);
  }

  #startHeartbeat(): void {
    const opts = this.#options.heartbeat;
    if (opts === false) return;
    this.#stopHeartbeat();
    this.#stopHb = this.#channels.heartbeat({
      intervalMs: opts?.intervalMs ?? 1_000,
      maxMisses: opts?.maxMisses ?? 5,
      onMiss: () => {
        this.#hbMisses += 1;
      },
      onLost: (misses) => this.#markDead(`heartbeat lost (${misses} pings unanswered)`),
    });
  }

  #stopHeartbeat(): void {
    this.#stopHb?.();
    this.#stopHb = undefined;
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}
