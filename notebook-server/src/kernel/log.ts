// Where the kernel bridge reports failures it can only log (a throwing
// listener, a receive loop that broke): the one logger, at error level, which
// every log level shows. Kernels are started by the host, node children and
// tools alike, so this is the kernel layer's own logger rather than one passed in.
import { createLogger } from '../log/index.ts';

export const kernelLog = createLogger();

export const errorText = (err: unknown): string =>
  err instanceof Error ? (err.stack ?? err.message) : String(err);
