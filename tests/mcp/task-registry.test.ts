// The host's task registry on its own: what a client can push on it (how
// many tasks, which ttl, whose tasks) stays bounded and scoped.
import { describe, expect, it } from 'vitest';
import { TaskRegistry } from '../../notebook-server/src/mcp/tasks.ts';

const req = { method: 'tools/call', params: {} };

describe('TaskRegistry', () => {
  it('caps task calls at 1000, not the inline calls the SDK polls', async () => {
    const r = new TaskRegistry();
    for (let i = 0; i < 1000; i++) await r.createTask({ ttl: 60_000 }, i, req, 's1');
    await expect(r.createTask({ ttl: 60_000 }, 1000, req, 's1')).rejects.toThrow(
      /too many tasks \(1000\).*cancel some/,
    );
    const inline = await r.createTask({ context: { inline: true } }, 1001, req, 's1');
    expect(inline.status).toBe('working');
    r.close();
  });

  it('clamps the ttl, keeps tasks per MCP session, and refuses to change a finished task', async () => {
    const r = new TaskRegistry();
    const short = await r.createTask({ ttl: 1 }, 1, req, 'a');
    expect(short.ttl).toBe(60_000);
    const long = await r.createTask({ ttl: 10 ** 12 }, 2, req, 'a');
    expect(long.ttl).toBe(7 * 24 * 3600_000);
    expect(await r.getTask(short.taskId, 'b')).toBeNull();
    await expect(r.getTaskResult(short.taskId, 'b')).rejects.toThrow(/unknown task/);
    await expect(r.updateTaskStatus(short.taskId, 'cancelled', undefined, 'b')).rejects.toThrow(
      /unknown task/,
    );
    expect((await r.listTasks(undefined, 'b')).tasks).toEqual([]);
    expect((await r.listTasks(undefined, 'a')).tasks).toHaveLength(2);

    const signal = r.signalOf(short.taskId);
    await r.updateTaskStatus(short.taskId, 'cancelled', 'stop', 'a');
    expect(signal.aborted).toBe(true);
    await expect(r.updateTaskStatus(short.taskId, 'cancelled', undefined, 'a')).rejects.toThrow(
      /already cancelled; a finished task cannot be changed or cancelled/,
    );
    await r.storeTaskResult(long.taskId, 'completed', { content: [] }, 'a');
    expect((await r.getTask(long.taskId, 'a'))?.status).toBe('completed');
    await expect(r.listTasks('not-a-task', 'a')).rejects.toThrow(/invalid cursor/);
    r.close();
  });
});
