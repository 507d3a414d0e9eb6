// The browser UI's view of sessions that live in experiment containers: found
// by asking each live container's node (notebook_list), read through its
// `notebook://session/{id}/state` resource, and driven by routed tool calls.
import type { SessionInfo } from '../notebook/session.ts';
import type { RemoteSessionInfo, RemoteSessions } from '../notebook/session-handle.ts';
import type { ContainerService } from '../orchestrator/containers.ts';
import type { ContainerRouter } from '../orchestrator/router.ts';
import { EXPERIMENT_MOUNT } from '../runtime/types.ts';

export function remoteSessions(containers: ContainerService, router: ContainerRouter): RemoteSessions {
  const hostDirs = new Map<string, string>();

  const live = async () => {
    const list = await containers.list().catch(() => []);
    const running = list.filter((c) => c.running && c.work_dir);
    for (const c of running) hostDirs.set(c.container_id, c.work_dir as string);
    return running;
  };

  /** A container path under /experiment becomes the volume's host path (local runtime paths pass through). */
  const toHost = (containerId: string, dir: string) => {
    const volume = hostDirs.get(containerId);
    if (!volume || (dir !== EXPERIMENT_MOUNT && !dir.startsWith(`${EXPERIMENT_MOUNT}/`))) return dir;
    return volume + dir.slice(EXPERIMENT_MOUNT.length);
  };

  const read = async (containerId: string, id: string): Promise<RemoteSessionInfo | null> => {
    try {
      const client = await router.client(containerId);
      const r = await client.readResource({ uri: `notebook://session/${id}/state` });
      const first = r.contents[0];
      if (!first || !('text' in first)) return null;
      const info = JSON.parse(first.text) as SessionInfo;
      return { ...info, container_id: containerId, host_work_dir: toHost(containerId, info.work_dir) };
    } catch {
      return null;
    }
  };

  /** Session ids per live container (notebook_list; the router remembers where each lives). */
  const discover = async () => {
    const found: { containerId: string; sessionIds: string[] }[] = [];
    for (const c of await live()) {
      const listed = await router.call(c.container_id, 'notebook_list', {}).catch(() => null);
      const sessions = listed?.sessions ?? [];
      found.push({ containerId: c.container_id, sessionIds: sessions.map((s) => s.session_id) });
    }
    return found;
  };

  return {
    async list() {
      const out: RemoteSessionInfo[] = [];
      for (const { containerId, sessionIds } of await discover()) {
        for (const id of sessionIds) {
          const info = await read(containerId, id);
          if (info) out.push(info);
        }
      }
      return out;
    },
    async get(id) {
      let cid = router.containerOf(id);
      if (!cid) {
        await discover(); // the router learns session → container for sessions made before this host started
        cid = router.containerOf(id);
      }
      if (!cid) return null;
      if (!hostDirs.has(cid)) await live();
      return read(cid, id);
    },
    async call(id, tool, args) {
      const cid = router.containerOf(id) ?? (await this.get(id))?.container_id;
      if (!cid) throw new Error(`no container of this host holds session ${id}`);
      return router.callRaw(cid, tool, { ...args, session_id: id });
    },
  };
}
