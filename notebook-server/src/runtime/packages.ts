// Packages only some runtimes need, loaded when first used rather than by every
// command that imports a runtime: `peragus run` of a local plan never loads
// dockerode (with gRPC, protobufjs and ssh2: ≈ 150 files) or ws.
import { createRequire } from 'node:module';
import type Dockerode from 'dockerode';
import type * as Ws from 'ws';

const requirePackage = createRequire(import.meta.url);

/** dockerode's client class, loaded on first use. */
export const dockerode = (): typeof Dockerode => requirePackage('dockerode') as typeof Dockerode;

/** The ws package, loaded on first use. */
export const ws = (): typeof Ws => requirePackage('ws') as typeof Ws;
