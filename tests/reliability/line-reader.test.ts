// The capped line reader under the stdio and socket transports: an oversized
// line streamed in small chunks is refused with its id (first or last key),
// never held in memory, and the messages around it still arrive; an "id"
// inside params is never taken for the request's id.
import { describe, expect, it } from 'vitest';
import {
  idFromEdges,
  JsonLineReader,
  type RejectedLine,
} from '../../notebook-server/src/jsonrpc/line-reader.ts';

function reader(max: number) {
  const messages: unknown[] = [];
  const rejected: RejectedLine[] = [];
  const r = new JsonLineReader({
    maxLineBytes: max,
    onMessage: (m) => messages.push(m),
    onRejected: (x) => rejected.push(x),
  });
  return { r, messages, rejected };
}

describe('JsonLineReader', () => {
  it('refuses an oversized line in pieces, keeps the stream going', () => {
    const { r, messages, rejected } = reader(1024);
    const ping = (id: number) => Buffer.from(`${JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' })}\n`);
    r.push(ping(1));
    const big = JSON.stringify({
      jsonrpc: '2.0',
      method: 'tools/call',
      params: { arguments: { id: 99, content: 'x'.repeat(100_000) } },
      id: 42,
    });
    const bytes = Buffer.from(`${big}\n`);
    for (let i = 0; i < bytes.length; i += 333) r.push(bytes.subarray(i, i + 333));
    r.push(ping(2));
    expect(messages).toEqual([
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', id: 2, method: 'ping' },
    ]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ code: -32600, id: 42, bytes: big.length });
    expect(rejected[0]!.message).toMatch(/limit/);
  });

  it('reads ids only where clients put them', () => {
    expect(idFromEdges('{"jsonrpc":"2.0","id":"a-1","method":"x"', '')).toBe('a-1');
    expect(idFromEdges('{"method":"x","params":{"id":5', '"y"}},"jsonrpc":"2.0","id":7}')).toBe(7);
    expect(idFromEdges('{"method":"x","params":{"id":5', '"y","id":9}}}')).toBeNull();
  });

  it('answers not-JSON with -32700 and non-JSON-RPC with -32600', () => {
    const { r, rejected } = reader(1024);
    r.push(Buffer.from('{oops\n{"id":3,"hello":1}\n\n'));
    expect(rejected.map((x) => [x.code, x.id])).toEqual([
      [-32700, null],
      [-32600, 3],
    ]);
  });
});
