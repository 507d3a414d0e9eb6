// One execute_request in flight: turns the iopub messages whose parent is this
// request into nbformat outputs, and completes when BOTH the execute_reply and
// the iopub `idle` for it have arrived (either can come first).
import type { KernelMessage } from '@jupyterlab/services';
import type { Output } from '../../../srcmd/src/nbformat.ts';
import type { ExecuteOptions, ExecuteResult } from './types.ts';
import type { Message } from './wire.ts';

type ReplyContent = KernelMessage.IExecuteReplyMsg['content'] & {
  ename?: string;
  evalue?: string;
  traceback?: string[];
};

export class Execution {
  readonly outputs: Output[] = [];
  readonly done: Promise<ExecuteResult>;
  #resolveDone!: (r: ExecuteResult) => void;
  #rejectDone!: (e: Error) => void;
  #reply: ReplyContent | undefined;
  #idle = false;
  #finished = false;
  #clearPending = false;
  /** display_id → indices into outputs, for update_display_data. */
  readonly #displays = new Map<string, number[]>();

  readonly #options: ExecuteOptions;
  constructor(
    readonly msgId: string,
    options: ExecuteOptions = {},
  ) {
    this.#options = options;
    this.done = new Promise<ExecuteResult>((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    // A caller that stops listening (e.g. after a timeout) must not cause an unhandled rejection.
    this.done.catch(() => undefined);
  }

  get isFinished(): boolean {
    return this.#finished;
  }

  onReply(message: Message): void {
    this.#reply = message.content as ReplyContent;
    this.#maybeFinish();
  }

  onIopub(message: Message): void {
    const type = message.header.msg_type;
    const content = message.content as Record<string, unknown>;
    switch (type) {
      case 'status':
        if ((content as KernelMessage.IStatusMsg['content']).execution_state === 'idle') {
          this.#idle = true;
          this.#maybeFinish();
        }
        return;
      case 'stream': {
        const c = content as KernelMessage.IStreamMsg['content'];
        this.#add({ output_type: 'stream', name: c.name === 'stderr' ? 'stderr' : 'stdout', text: c.text });
        return;
      }
      case 'display_data': {
        const c = content as KernelMessage.IDisplayDataMsg['content'];
        const id = c.transient?.display_id;
        const index = this.#add(
          {
            output_type: 'display_data',
            data: c.data ?? {},
            metadata: (c.metadata ?? {}) as Record<string, unknown>,
          },
          id,
        );
        if (id) this.#displays.set(id, [...(this.#displays.get(id) ?? []), index]);
        return;
      }
      case 'update_display_data': {
        // Updates displays made by this cell in place (nbformat keeps the latest data).
        const c = content as KernelMessage.IUpdateDisplayDataMsg['content'];
        const id = c.transient?.display_id ?? '';
        for (const i of this.#displays.get(id) ?? []) {
          const out = this.outputs[i];
          if (out && out.output_type === 'display_data') {
            out.data = c.data ?? {};
            out.metadata = (c.metadata ?? {}) as Record<string, unknown>;
          }
        }
        if (this.#displays.has(id)) {
          this.#options.onUpdateDisplay?.(id, {
            output_type: 'display_data',
            data: c.data ?? {},
            metadata: (c.metadata ?? {}) as Record<string, unknown>,
          });
        }
        return;
      }
      case 'execute_result': {
        const c = content as KernelMessage.IExecuteResultMsg['content'];
        this.#add({
          output_type: 'execute_result',
          execution_count: c.execution_count ?? null,
          data: c.data ?? {},
          metadata: (c.metadata ?? {}) as Record<string, unknown>,
        });
        return;
      }
      case 'error': {
        const c = content as KernelMessage.IErrorMsg['content'];
        this.#add({
          output_type: 'error',
          ename: String(c.ename ?? ''),
          evalue: String(c.evalue ?? ''),
          traceback: Array.isArray(c.traceback) ? c.traceback.map(String) : [],
        });
        return;
      }
      case 'clear_output': {
        const wait = (content as KernelMessage.IClearOutputMsg['content']).wait === true;
        if (wait) this.#clearPending = true;
        else this.#clear();
        this.#options.onClearOutput?.(wait);
        return;
      }
      default:
        // execute_input, comm_*: not outputs.
        return;
    }
  }

  /** Ends the execution with an error (kernel died, restarted, shut down). */
  fail(error: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#rejectDone(error);
  }

  #clear(): void {
    this.outputs.length = 0;
    this.#displays.clear();
    this.#clearPending = false;
  }

  /** Appends (merging consecutive same-name streams, as notebook frontends do); returns the index. */
  #add(output: Output, displayId?: string): number {
    if (this.#clearPending) this.#clear();
    const index = this.#store(output);
    // Last, so a throwing callback cannot leave the outputs half-updated.
    this.#options.onOutput?.(output, displayId);
    return index;
  }

  #store(output: Output): number {
    const last = this.outputs[this.outputs.length - 1];
    if (
      output.output_type === 'stream' &&
      last?.output_type === 'stream' &&
      last.name === output.name &&
      typeof last.text === 'string'
    ) {
      // A copy, so the chunk handed to onOutput stays as it was.
      this.outputs[this.outputs.length - 1] = { ...last, text: last.text + String(output.text) };
      return this.outputs.length - 1;
    }
    this.outputs.push(output.output_type === 'stream' ? { ...output } : output);
    return this.outputs.length - 1;
  }

  #maybeFinish(): void {
    if (this.#finished || !this.#idle || !this.#reply) return;
    this.#finished = true;
    const reply = this.#reply;
    const status = reply.status === 'ok' || reply.status === 'aborted' ? reply.status : 'error';
    const result: ExecuteResult = {
      status,
      executionCount: typeof reply.execution_count === 'number' ? reply.execution_count : null,
      outputs: this.outputs,
    };
    if (status === 'error') {
      const lastError = [...this.outputs].reverse().find((o) => o.output_type === 'error');
      result.error = {
        ename: reply.ename ?? (lastError?.output_type === 'error' ? lastError.ename : 'Error'),
        evalue: reply.evalue ?? (lastError?.output_type === 'error' ? lastError.evalue : ''),
        traceback: reply.traceback ?? (lastError?.output_type === 'error' ? lastError.traceback : []),
      };
    }
    this.#resolveDone(result);
  }
}
