// completion/complete for resource templates and prompt arguments: session
// ids, experiment ids and plan ids from the catalog, model files of the
// sessions. A known template or prompt asked about an argument it does not
// have gets an error naming the arguments it has; a template or prompt that is
// not ours gets an empty list (as the protocol's minimal support allows).
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CompleteRequestSchema, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

export type Completer = (prefix: string) => Promise<string[]>;

export interface CompletionTable {
  /** By URI template, then variable name. */
  resources: Record<string, Record<string, Completer>>;
  /** By prompt name, then argument name. */
  prompts: Record<string, Record<string, Completer>>;
}

const MAX_VALUES = 100;

export const none: Completer = async () => [];

export function startingWith(values: () => Iterable<string>): Completer {
  return async (prefix) => [...values()].filter((v) => v.startsWith(prefix));
}

export function installCompletions(server: McpServer, table: CompletionTable): void {
  server.server.setRequestHandler(CompleteRequestSchema, async (req) => {
    const { ref, argument } = req.params;
    const [kind, key] = ref.type === 'ref/prompt' ? ['prompt', ref.name] : ['resource template', ref.uri];
    const args = ref.type === 'ref/prompt' ? table.prompts[ref.name] : table.resources[ref.uri];
    if (!args) return { completion: { values: [], total: 0, hasMore: false } };
    const complete = args[argument.name];
    if (!complete) {
      const known = Object.keys(args);
      throw new McpError(
        ErrorCode.InvalidParams,
        `${kind} ${key} has no argument "${argument.name}"; its arguments: ${known.length ? known.join(', ') : 'none'}`,
      );
    }
    const values = await complete(argument.value);
    return {
      completion: {
        values: values.slice(0, MAX_VALUES),
        total: values.length,
        hasMore: values.length > MAX_VALUES,
      },
    };
  });
}
