// The contract between the kernel bridge and its users (notebook sessions,
// the Jupyter-compatible HTTP API). Implementations live beside this file.
import type { Output } from '../../../srcmd/src/nbformat.ts';
import type { Message } from './wire.ts';

export type KernelStatus = 'starting' | 'idle' | 'busy' | 'restarting' | 'dead';

export interface ExecuteOptions {
  /** Called for every nbformat output as it arrives on iopub, in order. */
  onOutput?: (output: Output, displayId?: string) => void;
  /** update_display_data for a display this execution made (displayId from onOutput): its new content. */
  onUpdateDisplay?: (displayId: string, output: Output) => void;
  /** Rejects with KernelTimeoutError (after interrupting) if the cell runs longer. */
  timeoutMs?: number;
  silent?: boolean;
  storeHistory?: boolean;
  /** clear_output from the kernel: outputs so far are dropped (at once, or before the next one when wait). */
  onClearOutput?: (wait: boolean) => void;
  /**
   * Let the kernel send input_request on stdin. Default false: input() raises
   * StdinNotImplementedError at once. When true, requests are still answered
   * with an error (EOF), never left hanging: nobody is there to type.
   */
  allowStdin?: boolean;
}

export interface ExecuteResult {
  status: 'ok' | 'error' | 'aborted';
  executionCount: number | null;
  outputs: Output[];
  /** Present when status is 'error'. */
  error?: { ename: string; evalue: string; traceback: string[] };
}

export interface KernelEvents {
  status: (status: KernelStatus) => void;
  /** Heartbeat lost or process exited. reason names the cause; stderrTail is the kernel's last stderr. */
  dead: (reason: string, stderrTail: string) => void;
  /** Every verified message from the kernel, any channel (for proxies such as the Jupyter /api channels). */
  message: (message: Message) => void;
}

export interface Kernel {
  readonly id: string;
  readonly status: KernelStatus;
  /** Runs code; resolves on execute_reply AND iopub idle for this request. Calls are serialised by the caller. */
  execute(code: string, options?: ExecuteOptions): Promise<ExecuteResult>;
  interrupt(): Promise<void>;
  /** The kernel process's own output, outside any cell (its start, its warnings, how it died). */
  stderrTail?(): string;
  /** All of that output this host keeps, not only its last lines (container_logs). */
  output?(): string;
  /** Restarts the process (same connection info); resolves when ready again. */
  restart(): Promise<void>;
  /** shutdown_request, then SIGTERM, then SIGKILL. Idempotent. */
  shutdown(): Promise<void>;
  on<E extends keyof KernelEvents>(event: E, listener: KernelEvents[E]): this;
  off<E extends keyof KernelEvents>(event: E, listener: KernelEvents[E]): this;
}
