// Host resources over the catalog: experiment://{id}/summary|artifacts|metrics
// and plan://{plan_id} (its experiments as compact rows). Subscribed URIs are
// updated when the catalog changes (a plan when one of its experiments does).
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Catalog } from '../catalog/catalog.ts';
import type { Subscriptions } from './resources.ts';

const json = (uri: string, value: unknown) => ({
  contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(value) }],
});

export function registerCatalogResources(
  server: McpServer,
  catalog: Catalog,
  subs: Subscriptions,
): () => void {
  const kinds = ['summary', 'artifacts', 'metrics'] as const;
  for (const kind of kinds) {
    server.registerResource(
      `experiment-${kind}`,
      new ResourceTemplate(`experiment://{id}/${kind}`, { list: undefined }),
      {
        description: `An experiment's ${kind} from the catalog (complete {id} with completion/complete).`,
        mimeType: 'application/json',
      },
      async (uri, variables) => {
        const id = String(variables.id);
        const value =
          kind === 'summary'
            ? await catalog.getSummary(id)
            : kind === 'artifacts'
              ? await catalog.getArtifacts(id)
              : await catalog.getMetrics(id);
        if (value === null) {
          throw new McpError(
            ErrorCode.InvalidParams,
            `no experiment "${id}" in the catalog: see experiment_list`,
          );
        }
        return json(uri.href, value);
      },
    );
  }
  server.registerResource(
    'plan',
    new ResourceTemplate('plan://{plan_id}', {
      // The 100 most recent plans (older ones: completion/complete on plan_id, or experiment_list).
      list: async () => ({
        resources: (await catalog.completeIds('plan_id', '')).values.map((id) => ({
          uri: `plan://${id}`,
          name: id,
          description: `Plan ${id}: its experiments and their status.`,
          mimeType: 'application/json',
        })),
      }),
    }),
    {
      description: "A plan's experiments (compact rows, newest first) from the catalog.",
      mimeType: 'application/json',
    },
    async (uri, variables) => {
      const planId = String(variables.plan_id);
      const page = await catalog.listExperimentPage({ plan_id: planId, limit: 500 });
      if (page.total === 0) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `no plan "${planId}" in the catalog: see experiment_list`,
        );
      }
      return json(uri.href, { plan_id: planId, ...page });
    },
  );
  return catalog.onChange((experimentId) => {
    for (const kind of kinds) subs.notify(`experiment://${experimentId}/${kind}`);
    if (!subs.some('plan://')) return;
    void catalog
      .getExperiment(experimentId)
      .then((e) => e?.plan_id && subs.notify(`plan://${e.plan_id}`))
      .catch(() => undefined);
  });
}
