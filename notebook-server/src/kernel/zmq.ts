// zeromq (a native addon), loaded when the first kernel connection is made
// rather than when the kernel layer is imported: the node role's startup
// snapshot (scripts/build-bundle.mjs) cannot hold a native module, and a
// command that never connects to a kernel never loads it.
import { createRequire } from 'node:module';
import type * as Zmq from 'zeromq';

const requirePackage = createRequire(import.meta.url);
let loaded: typeof Zmq | undefined;

/** The zeromq package, loaded on first use. */
export const zmq = (): typeof Zmq => {
  loaded ??= requirePackage('zeromq') as typeof Zmq;
  return loaded;
};
