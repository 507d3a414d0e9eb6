// What the HTTP face needs from the host: the sessions, the event bus, the
// token, and optional extras (catalog, kernel starts for Jupyter clients).
import type { Kernel } from '../kernel/types.ts';
import type { Logger } from '../log/index.ts';
import type { EventBus } from '../notebook/events.ts';
import type { KernelService } from '../notebook/kernel-service.ts';
import type { SessionManager } from '../notebook/manager.ts';
import type { RemoteSessions } from '../notebook/session-handle.ts';
import type { ContainerService } from '../orchestrator/containers.ts';
import type { Workbench } from '../workbench/workbench.ts';

export interface CatalogQueryOptions {
  /** Rows returned at most (the catalog may cap it further). */
  limit?: number;
}

export interface CatalogQueryResult {
  columns: string[];
  rows: Record<string, unknown>[];
  /** True when more rows matched than were returned. */
  truncated?: boolean;
}

export interface ExperimentSummary {
  experiment_id: string;
  plan_id?: string | null;
  status?: string;
  started_at?: string | null;
  finished_at?: string | null;
  error?: string | null;
}

/** A plan as the browser sees it (orchestrator's PlanStatus). */
export type SessionRegistry = Pick<SessionManager, 'create' | 'get' | 'has' | 'list' | 'delete'>;

export interface HostContext {
  sessions: SessionRegistry;
  events: EventBus;
  /** Required on every route but GET /api. */
  token: string;
  /** PERAGUS_HOME: standalone Jupyter kernels run in `<home>/jupyter`. */
  home: string;
  /** Read-only SQL over the catalog (catalog/); the UI's catalog view and plots use it. */
  catalogQuery?: (sql: string, options?: CatalogQueryOptions) => Promise<CatalogQueryResult>;
  /** Experiments from the catalog; without it the UI groups sessions by experiment_id. */
  listExperiments?: () => Promise<ExperimentSummary[]>;
  /** Sessions inside experiment containers (listed and driven through the host's router). */
  remote?: RemoteSessions;
  /** Models, designs, plan and chart views of the browser workbench (/ui-api/models, plans, results). */
  workbench?: Workbench;
  /** This host's experiment containers (the containers view). */
  containers?: ContainerService;
  /** The kernels Jupyter clients reach, owned by the host (default: one made and closed by the HTTP app). */
  kernels?: KernelService;
  /** Starts a kernel for POST /api/kernels when the HTTP app makes its own KernelService (default: a cold start). */
  startKernel?: (options: { workDir: string }) => Promise<Kernel>;
  /** Extra Host header values accepted besides loopback names and the bound address (host:port). */
  allowedHosts?: string[];
  /** Extra origins allowed besides the server's own (e.g. a dev server). */
  allowedOrigins?: string[];
  /** Kernel WS subprotocols offered (default [v1]); [] forces the legacy JSON framing. */
  kernelWsProtocols?: string[];
  log?: (message: string) => void;
  /** The host's logger: failures answered with 500 go to its error level. */
  logger?: Logger;
}
