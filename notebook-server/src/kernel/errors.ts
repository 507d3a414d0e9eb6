// Errors of the kernel bridge. Each names what happened and, where the kernel
// process is involved, carries its stderr tail so users see the Python side.

export class KernelError extends Error {
  /** The message without the stderr tail. */
  readonly reason: string;
  constructor(
    message: string,
    /** Last lines the kernel process wrote to stderr (may be empty). */
    readonly stderrTail = '',
  ) {
    super(stderrTail ? `${message}\n--- kernel stderr (tail) ---\n${stderrTail}` : message);
    this.reason = message;
    this.name = new.target.name;
  }
}

/** The kernel never became ready (no kernel_info_reply + iopub message in time, or it exited first). */
export class KernelStartError extends KernelError {}

/** The kernel process exited or its heartbeat was lost. */
export class KernelDeadError extends KernelError {}

/** A cell ran longer than ExecuteOptions.timeoutMs (the kernel was interrupted). */
export class KernelTimeoutError extends KernelError {}

/** The request was cut short by restart() or shutdown(). */
export class KernelRestartedError extends KernelError {}
