// The Jupyter face of the kernels: /api/kernels models and the WebSocket
// bridges of /api/kernels/{id}/channels, over the KernelService that owns the
// kernels' lifecycles (notebook/kernel-service.ts), as jupyter_server's
// handlers sit over its MultiKernelManager. This file adds what is HTTP's: the
// clients connected per kernel, and the Jupyter error reasons.
import {
  type KernelInfo,
  KernelNotFoundError,
  KernelService,
  KernelSpecNotFoundError,
  SessionKernelError,
} from '../../notebook/kernel-service.ts';
import { HttpError } from '../errors.ts';
import { type BridgeSource, KernelBridge } from './bridge.ts';

export interface KernelModel {
  id: string;
  name: string;
  last_activity: string;
  execution_state: string;
  connections: number;
}

/** The service's errors as Jupyter Server reports them ({message, reason}). */
function jupyterError(err: unknown): unknown {
  if (err instanceof KernelNotFoundError || err instanceof KernelSpecNotFoundError) {
    return new HttpError(404, err.message, 'NoSuchKernel');
  }
  if (err instanceof SessionKernelError) return new HttpError(409, err.message, 'SessionKernel');
  return err;
}

function jupyter<T>(f: () => T): T {
  try {
    const value = f();
    return (value instanceof Promise ? value.catch((err) => Promise.reject(jupyterError(err))) : value) as T;
  } catch (err) {
    throw jupyterError(err);
  }
}

export class JupyterKernels {
  readonly #bridges = new Map<string, KernelBridge>();
  readonly #unsubscribe: () => void;

  readonly #log: (m: string) => void;
  constructor(
    readonly service: KernelService,
    log: (m: string) => void,
  ) {
    this.#log = log;
    this.#unsubscribe = service.onChange((id, change) => {
      const bridge = this.#bridges.get(id);
      if (!bridge) return;
      if (change === 'replaced') {
        bridge.refresh();
        return;
      }
      bridge.close();
      this.#bridges.delete(id);
    });
  }

  static checkName(name: string | undefined): void {
    jupyter(() => KernelService.checkName(name));
  }

  list(): KernelModel[] {
    return this.service.list().map((k) => this.#model(k));
  }

  has(id: string): boolean {
    return this.service.has(id);
  }

  model(id: string): KernelModel {
    return this.#model(jupyter(() => this.service.info(id)));
  }

  async start(name?: string): Promise<KernelModel> {
    return this.#model(await jupyter(() => this.service.start(name)));
  }

  interrupt(id: string): Promise<void> {
    return jupyter(() => this.service.interrupt(id));
  }

  async restart(id: string): Promise<KernelModel> {
    return this.#model(await jupyter(() => this.service.restart(id)));
  }

  shutdown(id: string): Promise<void> {
    return jupyter(() => this.service.shutdown(id));
  }

  /** The WebSocket fan-in/fan-out of kernel `id` (made on first use, kept while the kernel lives). */
  bridge(id: string): KernelBridge {
    let bridge = this.#bridges.get(id);
    if (!bridge) {
      jupyter(() => this.service.info(id));
      const source: BridgeSource = {
        current: () => this.service.current(id),
        ensure: () => this.service.ensure(id),
      };
      bridge = new KernelBridge(source, { log: this.#log, onActivity: () => this.service.touch(id) });
      this.#bridges.set(id, bridge);
    }
    return bridge;
  }

  /** Closes every client connection (the kernels themselves are the service's). */
  close(): void {
    this.#unsubscribe();
    for (const b of this.#bridges.values()) b.close();
    this.#bridges.clear();
  }

  #model(k: KernelInfo): KernelModel {
    return {
      id: k.id,
      name: k.name,
      last_activity: k.last_activity,
      execution_state: k.execution_state,
      connections: this.#bridges.get(k.id)?.connections ?? 0,
    };
  }
}
