// pysd_* tools: each call becomes one code cell calling peragus_pysd, so the
// exported notebook replays it. (Filled in with the pysd/ builders.)
import type { NotebookContext } from '../context.ts';
import type { ToolDef } from '../tool.ts';

export function pysdTools(_ctx: NotebookContext): ToolDef[] {
  return [];
}
