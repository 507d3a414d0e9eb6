// Public API of the HTTP face.
export type {
  CatalogQueryOptions,
  CatalogQueryResult,
  ExperimentSummary,
  HostContext,
  SessionRegistry,
} from './context.ts';
export {
  createHttpApp,
  type HostServer,
  type HttpApp,
  type McpHandler,
  type StartHostServerOptions,
  startHostServer,
} from './server.ts';
export { ensureUiBuilt, UI_DIST } from './static.ts';
