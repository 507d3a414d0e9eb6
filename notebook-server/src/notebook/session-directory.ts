// Every session a face can reach, as SessionHandles: this process's sessions
// first, then (on a host) those in its experiment containers.
import { LocalSessionHandle } from './local-session-handle.ts';
import type { SessionManager } from './manager.ts';
import { RemoteSessionHandle } from './remote-session-handle.ts';
import type { HandleInfo, RemoteSessions, SessionHandle } from './session-handle.ts';

export class SessionDirectory {
  readonly #sessions: Pick<SessionManager, 'get' | 'has' | 'list' | 'delete'>;
  readonly #remote: RemoteSessions | undefined;
  constructor(sessions: Pick<SessionManager, 'get' | 'has' | 'list' | 'delete'>, remote?: RemoteSessions) {
    this.#sessions = sessions;
    this.#remote = remote;
  }

  /** The session `id`, here or in a container; SessionNotFoundError when none holds it. */
  async find(id: string): Promise<SessionHandle> {
    return (await this.locate(id)) ?? new LocalSessionHandle(this.#sessions.get(id), this.#sessions);
  }

  /** The session `id`, here or in a container; null when none holds it. */
  async locate(id: string): Promise<SessionHandle | null> {
    if (this.#sessions.has(id)) return new LocalSessionHandle(this.#sessions.get(id), this.#sessions);
    const far = await this.#remote?.get(id);
    return far && this.#remote ? new RemoteSessionHandle(far, this.#remote) : null;
  }

  /** Every session's info: this process's, then the containers'. */
  async list(): Promise<HandleInfo[]> {
    const local: HandleInfo[] = this.#sessions.list().map((s) => s.info());
    return [...local, ...((await this.#remote?.list()) ?? [])];
  }
}
