// What the MCP tools need from the process they run in. The host fills every
// field; the in-container node only the notebook part.
import type { EventBus } from '../notebook/events.ts';
import type { SessionManager } from '../notebook/manager.ts';

export interface NotebookContext {
  role: 'host' | 'node';
  sessions: SessionManager;
  events: EventBus;
  /** Where client paths of server-level tools (notebook_import) resolve: the node's work dir or the host's home. */
  workDir: string;
  /** The node's experiment (set in containers): notebook_create's default experiment_id. */
  defaultExperimentId?: string;
}
