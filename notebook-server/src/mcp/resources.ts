// Resources of both roles: a session's state (notebook://session/{id}/state)
// and the files its tools wrote (peragus://session/{session_id}/files/{+path},
// the resource links of tool results), plus resource subscriptions: a
// subscribed session state is updated when the session's events arrive (at
// most twice a second); other subscribed URIs (experiment://, plan://) are
// updated by whoever owns them through `notify`.
import { readFile } from 'node:fs/promises';
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  ErrorCode,
  McpError,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { isTextMediaType, mediaTypeOf } from '../artifacts/index.ts';
import { withFileInside } from '../confine/fs.ts';
import { PathError } from '../confine/relative.ts';
import type { NotebookContext } from './context.ts';
import { FILES_TEMPLATE, parseFileUri } from './links.ts';

/** Files larger than this are not served inline by resources/read. */
const MAX_READ_BYTES = 16 * 1024 * 1024;
const MAX_SUBSCRIPTIONS = 1000;
const STATE_UPDATE_MS = 500;

/** The subscribed URIs of one connection, and a way to tell it one changed. */
export interface Subscriptions {
  has(uri: string): boolean;
  /** Whether any subscribed URI starts with this prefix (to skip work nobody waits for). */
  some(prefix: string): boolean;
  notify(uri: string): void;
}

export function installSubscriptions(server: McpServer): Subscriptions {
  const subscribed = new Set<string>();
  server.server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    if (!subscribed.has(req.params.uri) && subscribed.size >= MAX_SUBSCRIPTIONS) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `too many subscriptions (${MAX_SUBSCRIPTIONS}) on this connection: unsubscribe from some first`,
      );
    }
    subscribed.add(req.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
    subscribed.delete(req.params.uri);
    return {};
  });
  return {
    has: (uri) => subscribed.has(uri),
    some: (prefix) => [...subscribed].some((u) => u.startsWith(prefix)),
    notify(uri) {
      if (subscribed.has(uri) && server.isConnected()) {
        void server.server.sendResourceUpdated({ uri }).catch(() => undefined);
      }
    },
  };
}

/** Where a session's files are on this machine (the host also finds sessions of its containers). */
export type WorkDirLocator = (sessionId: string) => Promise<string | undefined>;

export function registerSessionResources(
  server: McpServer,
  ctx: NotebookContext,
  subs: Subscriptions,
  locate: WorkDirLocator,
): () => void {
  const { sessions } = ctx;
  server.registerResource(
    'notebook-session-state',
    new ResourceTemplate('notebook://session/{id}/state', {
      list: async () => ({
        resources: sessions.list().map((s) => ({
          uri: `notebook://session/${s.id}/state`,
          name: `${s.name} (${s.id})`,
          description: `Notebook session ${s.name}: kernel state, cells and their run status.`,
          mimeType: 'application/json',
        })),
      }),
    }),
    {
      description: 'A session: state, cells and their run status. Subscribe to be told when it changes.',
      mimeType: 'application/json',
    },
    async (uri, variables) => {
      const session = sessions.get(String(variables.id));
      return {
        contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(session.info()) }],
      };
    },
  );

  server.registerResource(
    'session-files',
    new ResourceTemplate(FILES_TEMPLATE, { list: undefined }),
    {
      description:
        "A file in a session's work dir (results, plots, exports): the resource links of tool results. PNGs come as blobs.",
    },
    async (uri) => {
      const ref = parseFileUri(uri.href);
      if (!ref) throw new McpError(ErrorCode.InvalidParams, `not a peragus file URI: ${uri.href}`);
      const dir = await locate(ref.sessionId);
      if (!dir) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `unknown session "${ref.sessionId}": list sessions with notebook_list (its container may be gone)`,
        );
      }
      // Opened without following any link: a file the experiment planted never leads out of its work dir.
      const data = await withFileInside(
        dir,
        ref.path,
        { what: 'file', where: `session ${ref.sessionId}'s work dir` },
        async (file) => {
          if (file.stat.size > MAX_READ_BYTES) {
            throw new McpError(
              ErrorCode.InvalidParams,
              `${ref.path} is ${file.stat.size} bytes, over the ${MAX_READ_BYTES}-byte read limit: query results with catalog_query, or copy the file with container_cp_out`,
            );
          }
          return readFile(file.pinned);
        },
      ).catch((err: unknown) => {
        throw err instanceof PathError ? new McpError(ErrorCode.InvalidParams, err.message) : err;
      });
      const mimeType = mediaTypeOf(ref.path);
      if (isTextMediaType(mimeType))
        return { contents: [{ uri: uri.href, mimeType, text: data.toString('utf8') }] };
      return { contents: [{ uri: uri.href, mimeType, blob: data.toString('base64') }] };
    },
  );

  // Subscribed session states are updated as their events come (coalesced).
  const pending = new Map<string, NodeJS.Timeout>();
  const off = ctx.events.subscribe((event) => {
    const uri = `notebook://session/${event.session_id}/state`;
    if (!subs.has(uri) || pending.has(uri)) return;
    pending.set(
      uri,
      setTimeout(() => {
        pending.delete(uri);
        subs.notify(uri);
      }, STATE_UPDATE_MS),
    );
  });
  return () => {
    off();
    for (const t of pending.values()) clearTimeout(t);
  };
}
