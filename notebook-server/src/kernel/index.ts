// Public API of the kernel bridge.

export { type ClientStats, type HeartbeatOptions, KernelClient, type KernelClientOptions } from './client.ts';
export {
  type ConnectionFile,
  type ConnectionInfo,
  createConnectionFile,
  runtimeDir,
  type Transport,
} from './connection.ts';
export * from './errors.ts';
export {
  defaultKernelSpecPath,
  type KernelProcess,
  type KernelSpec,
  launchKernel,
  loadKernelSpec,
  resolvePython,
} from './launcher.ts';
export { type AcquireOptions, KernelPool, type KernelPoolOptions } from './pool.ts';
export { type StartKernelOptions, startKernel } from './start.ts';
export type { ExecuteOptions, ExecuteResult, Kernel, KernelEvents, KernelStatus } from './types.ts';
export { type Message, WireCodec, type WireStats } from './wire.ts';
