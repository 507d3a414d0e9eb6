// Registers ToolDefs on an McpServer: plain tools with their input/output
// schemas and annotations, and task-capable tools (`task: true`) through the
// task registry when the process has one (the host).
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerTaskTool, type TaskRegistry } from './tasks.ts';
import { runTool, type ToolDef, type ToolRouter, toolCallOf, toolConfig } from './tool.ts';

export function registerTools(
  server: McpServer,
  tools: ToolDef[],
  router?: ToolRouter,
  tasks?: TaskRegistry,
): void {
  for (const tool of tools) {
    if (tool.task && tasks) {
      registerTaskTool(server, tool, tasks, router);
      continue;
    }
    server.registerTool(tool.name, toolConfig(tool), async (args: Record<string, unknown>, extra) => {
      const { call, stop } = toolCallOf(server, extra, tool.name);
      try {
        return await runTool(tool, args, call, router);
      } finally {
        stop();
      }
    });
  }
}
