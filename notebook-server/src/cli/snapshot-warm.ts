// The schemas a node role parses with on every experiment, parsed once while its V8 startup
// snapshot is built (cli/node-snapshot.ts). zod compiles a schema's fast path and fills its
// lazy fields at its first parse (≈ 1.5–2.6 ms each, measured), and a node role lives for one
// experiment: each one paid that again. Fixed samples only, never the environment, the clock
// or randomness (what the snapshot holds must be the same for every node).
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  InitializedNotificationSchema,
  InitializeRequestSchema,
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  isTaskAugmentedRequestParams,
  JSONRPCMessageSchema,
  PingRequestSchema,
  ProgressNotificationSchema,
  SetLevelRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { Notebook } from '../../../srcmd/src/nbformat.ts';
import { loadConfig } from '../config/index.ts';

const call = {
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'cell_add', arguments: { session_id: 's', source: '1 + 1' }, _meta: { progressToken: 1 } },
} as const;
const initialize = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: { elicitation: {} },
    clientInfo: { name: 'peragus-host', version: '0' },
  },
} as const;
const result = {
  content: [{ type: 'text', text: '{}' }],
  structuredContent: { ok: true },
  isError: false,
} as const;

/** Parses each sample through the schemas a node's MCP traffic and notebook writes use. */
export function warmSchemas(): void {
  // Every setting's parser, on an empty environment (the node's own is read at its start).
  loadConfig({});
  const messages: unknown[] = [
    initialize,
    call,
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } },
    { jsonrpc: '2.0', id: 1, result },
    { jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'bad' } },
  ];
  for (const m of messages) {
    JSONRPCMessageSchema.safeParse(m);
    isJSONRPCRequest(m);
    isJSONRPCNotification(m);
    isJSONRPCResultResponse(m);
    isJSONRPCErrorResponse(m);
  }
  isTaskAugmentedRequestParams(call.params);
  InitializeRequestSchema.safeParse(initialize);
  InitializedNotificationSchema.safeParse(messages[2]);
  ProgressNotificationSchema.safeParse(messages[3]);
  CallToolRequestSchema.safeParse(call);
  CallToolResultSchema.safeParse(result);
  PingRequestSchema.safeParse({ method: 'ping' });
  SetLevelRequestSchema.safeParse({ method: 'logging/setLevel', params: { level: 'info' } });
  Notebook.safeParse({
    title: 'warm',
    cells: [
      { cell_type: 'markdown', id: 'm', source: '# warm', metadata: {} },
      {
        cell_type: 'code',
        id: 'c',
        source: '1 + 1',
        execution_count: 1,
        metadata: {},
        outputs: [
          { output_type: 'stream', name: 'stdout', text: 'x' },
          { output_type: 'execute_result', execution_count: 1, data: { 'text/plain': '2' }, metadata: {} },
          { output_type: 'display_data', data: { 'image/png': 'AA==' }, metadata: {} },
          { output_type: 'error', ename: 'E', evalue: 'v', traceback: [] },
        ],
      },
    ],
    metadata: {},
  });
}
