// /events: the SessionEvents MCP clients get, as JSON text frames, one event per
// frame. Filters and resume come from the query (?session_id=&experiment_id=
// &types=a,b&after_seq=N) or later from the client ({"op":"resume",
// "session_id":…, "after_seq":N}). Each session's events are sent once, in seq order.
import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import { z } from 'zod';
import { type EventBus, type EventFilter, SessionEvent, type SessionEventType } from '../notebook/events.ts';

const ResumeMessage = z.object({
  op: z.literal('resume'),
  session_id: z.string().min(1),
  after_seq: z.number().int().min(-1).default(-1),
});

const EVENT_TYPES = new Set<string>(SessionEvent.options.map((o) => o.shape.type.value));

export interface EventStreamOptions {
  log: (m: string) => void;
  /** A client this far behind (bytes queued) is cut off; it reconnects with after_seq. */
  maxBufferedBytes?: number;
}

export function serveEventStream(
  ws: WebSocket,
  req: IncomingMessage,
  bus: EventBus,
  options: EventStreamOptions,
): void {
  const q = new URL(req.url ?? '/', 'http://x').searchParams;
  const filter: EventFilter = {};
  const sessionId = q.get('session_id');
  const experimentId = q.get('experiment_id');
  if (sessionId) filter.session_id = sessionId;
  if (experimentId) filter.experiment_id = experimentId;
  const types = q.get('types');
  if (types) {
    const list = types.split(',').filter((t) => t !== '');
    const unknown = list.filter((t) => !EVENT_TYPES.has(t));
    if (unknown.length > 0) {
      ws.close(4400, `unknown event types: ${unknown.join(', ')}`);
      return;
    }
    filter.types = list as SessionEventType[];
  }

  const lastSeq = new Map<string, number>();
  const send = (e: SessionEvent) => {
    if (e.seq <= (lastSeq.get(e.session_id) ?? -1)) return;
    if (filter.types && !filter.types.includes(e.type)) return;
    lastSeq.set(e.session_id, e.seq);
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > (options.maxBufferedBytes ?? 16 * 1024 * 1024)) {
      options.log('event stream client too far behind; closing it (it may resume with after_seq)');
      ws.close(4008, 'too far behind: reconnect with after_seq');
      return;
    }
    ws.send(JSON.stringify(e));
  };
  const replay = (session: string, afterSeq: number) => {
    if (filter.session_id !== undefined && filter.session_id !== session) return;
    // Replay is synchronous, so no live event can slip in between. Events this
    // connection already delivered are not sent again (send skips seq <= the last
    // sent): a resume is exact, every event once and in seq order.
    for (const e of bus.replay(session, afterSeq)) {
      if (filter.experiment_id === undefined || e.experiment_id === filter.experiment_id) send(e);
    }
  };

  const unsubscribe = bus.subscribe(send, filter);
  const afterSeq = q.get('after_seq');
  if (sessionId && afterSeq !== null && /^-?\d+$/.test(afterSeq)) replay(sessionId, Number(afterSeq));

  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    let parsed: z.infer<typeof ResumeMessage>;
    try {
      parsed = ResumeMessage.parse(JSON.parse(String(data)));
    } catch (err) {
      options.log(`events ws: ignored a malformed client message: ${(err as Error).message.slice(0, 200)}`);
      ws.send(
        JSON.stringify({ type: 'error', message: 'expected {"op":"resume","session_id":…,"after_seq":N}' }),
      );
      return;
    }
    replay(parsed.session_id, parsed.after_seq);
  });
  ws.on('close', unsubscribe);
  ws.on('error', (err) => options.log(`events ws error: ${err.message}`));
}
