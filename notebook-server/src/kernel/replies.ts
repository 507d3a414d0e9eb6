// Requests awaiting their reply on shell/control, keyed by msg_id.
import { KernelTimeoutError } from './errors.ts';
import type { Message } from './wire.ts';

type Waiter = { resolve: (m: Message) => void; reject: (e: Error) => void };

export class PendingReplies {
  readonly #waiters = new Map<string, Waiter>();

  /** A promise for the reply to msgId; rejects after timeoutMs. */
  expect(msgId: string, label: string, timeoutMs: number): Promise<Message> {
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(
        () => this.reject(msgId, new KernelTimeoutError(`no ${label} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const settle = () => {
        clearTimeout(timer);
        this.#waiters.delete(msgId);
      };
      this.#waiters.set(msgId, {
        resolve: (m) => {
          settle();
          resolve(m);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      });
    });
  }

  resolve(parentMsgId: string, reply: Message): void {
    this.#waiters.get(parentMsgId)?.resolve(reply);
  }

  reject(msgId: string, error: Error): void {
    this.#waiters.get(msgId)?.reject(error);
  }

  rejectAll(error: Error): void {
    for (const w of [...this.#waiters.values()]) w.reject(error);
  }
}
