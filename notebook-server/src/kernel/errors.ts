// Errors of the kernel bridge. Each names what happened and, where the kernel
// process is involved, carries its stderr tail so users see the Python side.
import { type ErrorCode, PeragusError } from '../errors/index.ts';

export class KernelError extends PeragusError {
  /** The code of each subclass (KernelError itself: the kernel or its pool is not usable). */
  static readonly errorCode: ErrorCode = 'unavailable';
  /** The message without the stderr tail. */
  readonly reason: string;
  constructor(
    message: string,
    /** Last lines the kernel process wrote to stderr (may be empty). */
    readonly stderrTail = '',
  ) {
    super(
      new.target.errorCode,
      stderrTail ? `${message}\n--- kernel stderr (tail) ---\n${stderrTail}` : message,
    );
    this.reason = message;
  }
}

/** The kernel never became ready (no kernel_info_reply + iopub message in time, or it exited first). */
export class KernelStartError extends KernelError {
  static override readonly errorCode: ErrorCode = 'kernel_start_failed';
}

/** The kernel process exited or its heartbeat was lost. */
export class KernelDeadError extends KernelError {
  static override readonly errorCode: ErrorCode = 'kernel_dead';
}

/** A cell ran longer than ExecuteOptions.timeoutMs (the kernel was interrupted). */
export class KernelTimeoutError extends KernelError {
  static override readonly errorCode: ErrorCode = 'kernel_timeout';
}

/** The request was cut short by restart() or shutdown(). */
export class KernelRestartedError extends KernelError {
  static override readonly errorCode: ErrorCode = 'kernel_restarted';
}
