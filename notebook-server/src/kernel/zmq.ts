// zeromq (a native addon), loaded when the first kernel connection is made
// rather than when the kernel layer is imported: the node role's startup
// snapshot (scripts/build-bundle.mjs) cannot hold a native module, and a
// command that never connects to a kernel never loads it. Same shape as
// runtime/packages.ts, which the kernel layer sits below.
import { createRequire } from 'node:module';
import type * as Zmq from 'zeromq';

const requirePackage = createRequire(import.meta.url);

/** The zeromq package, loaded on first use (require caches it). */
export const zmq = (): typeof Zmq => requirePackage('zeromq') as typeof Zmq;
