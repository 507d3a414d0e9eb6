// experiment_register_result's lineage check: the container and the session
// named must belong to the experiment the result is registered under, so one
// experiment's files can never be filed under another.
import type { SessionManager } from '../../notebook/manager.ts';
import type { ContainerService } from '../../orchestrator/containers.ts';
import type { ContainerRouter } from '../../orchestrator/router.ts';
import { ToolInputError } from '../tool.ts';

export interface LineageDeps {
  containers: ContainerService;
  sessions: SessionManager;
  router?: ContainerRouter;
}

export async function checkLineage(
  deps: LineageDeps,
  args: { experiment_id: string; container_id?: string | undefined; session_id: string },
): Promise<void> {
  const { experiment_id: experimentId, container_id: containerId, session_id: sessionId } = args;
  if (!containerId) {
    if (!deps.sessions.has(sessionId)) {
      throw new ToolInputError(
        `session_id: no host session "${sessionId}"; for a session in a container, pass its container_id too`,
      );
    }
    const owner = deps.sessions.get(sessionId).experimentId;
    if (owner !== experimentId) {
      throw new ToolInputError(
        `session_id: session "${sessionId}" belongs to experiment "${owner}", not "${experimentId}": register its files under "${owner}", or name a session of "${experimentId}"`,
      );
    }
    return;
  }
  const container = (await deps.containers.list()).find(
    (c) => c.container_id === containerId || c.name === containerId,
  );
  if (!container) {
    throw new ToolInputError(`container_id: no live container "${containerId}" (container_list shows them)`);
  }
  if (container.experiment_id !== experimentId) {
    throw new ToolInputError(
      `container_id: container "${containerId}" belongs to experiment "${container.experiment_id}", not "${experimentId}": register under "${container.experiment_id}", or name the container of "${experimentId}"`,
    );
  }
  if (!deps.router) return;
  const listed = await deps.router.call(container.container_id, 'notebook_list', {});
  const sessions = (listed.sessions ?? []) as { session_id: string; experiment_id: string }[];
  const session = sessions.find((s) => s.session_id === sessionId);
  if (!session) {
    throw new ToolInputError(
      `session_id: container "${containerId}" has no session "${sessionId}" (notebook_list with its container_id shows them)`,
    );
  }
  if (session.experiment_id !== experimentId) {
    throw new ToolInputError(
      `session_id: session "${sessionId}" belongs to experiment "${session.experiment_id}", not "${experimentId}"`,
    );
  }
}
