// The UI's access to the host: token handling, /ui-api calls, and the /events
// stream (reconnects and resumes each session after the last seq it saw).
import type { z } from 'zod';
import type { CatalogQueryResult, ExperimentSummary } from '../../src/http/context.ts';
import type { SeriesResponse } from '../../src/http/timeseries.ts';
import type { SessionSummary } from '../../src/http/ui-api.ts';
import type { SessionEvent } from '../../src/notebook/events.ts';
import type { SessionInfo } from '../../src/notebook/session.ts';
import type { CellAddInput } from '../../src/schemas/notebook-tools.ts';

export type {
  CatalogQueryResult,
  ExperimentSummary,
  SeriesResponse,
  SessionEvent,
  SessionInfo,
  SessionSummary,
};
export type Progress = SessionSummary['progress'];
export type SessionDetail = SessionInfo & { progress: Progress };
type AddShape = z.ZodObject<typeof CellAddInput>;
export type CellAddBody = Omit<z.input<AddShape>, 'session_id' | 'container_id'>;

const KEY = 'peragus_token';

/** The token comes in the URL once (?token=), then lives in sessionStorage; the URL is cleaned. */
export function initToken(): string | null {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(KEY, fromUrl);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.toString());
  }
  return sessionStorage.getItem(KEY);
}

export const token = (): string => sessionStorage.getItem(KEY) ?? '';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      Authorization: `token ${token()}`,
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const j = (await res.json()) as { error?: { message?: string }; message?: string };
      message = j.error?.message ?? j.message ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, message);
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

const enc = encodeURIComponent;

export const api = {
  info: () => call<{ catalog: boolean; experiments: boolean }>('GET', '/ui-api/info'),
  sessions: () => call<SessionSummary[]>('GET', '/ui-api/sessions'),
  experiments: () => call<(ExperimentSummary & { session_ids: string[] })[]>('GET', '/ui-api/experiments'),
  session: (id: string) => call<SessionDetail>('GET', `/ui-api/sessions/${enc(id)}`),
  createSession: (name: string, experimentId?: string) =>
    call<SessionInfo>('POST', '/ui-api/sessions', {
      name,
      ...(experimentId ? { experiment_id: experimentId } : {}),
    }),
  deleteSession: (id: string) => call<void>('DELETE', `/ui-api/sessions/${enc(id)}`),
  addCell: (id: string, body: CellAddBody) =>
    call<{ id: string }>('POST', `/ui-api/sessions/${enc(id)}/cells`, body),
  updateCell: (id: string, cellId: string, body: { source?: string; filename?: string; index?: number }) =>
    call<unknown>('PATCH', `/ui-api/sessions/${enc(id)}/cells/${enc(cellId)}`, body),
  deleteCell: (id: string, cellId: string) =>
    call<void>('DELETE', `/ui-api/sessions/${enc(id)}/cells/${enc(cellId)}`),
  execute: (id: string, cellId: string) =>
    call<unknown>('POST', `/ui-api/sessions/${enc(id)}/cells/${enc(cellId)}/execute`, {}),
  interrupt: (id: string) =>
    call<{ interrupted: boolean }>('POST', `/ui-api/sessions/${enc(id)}/interrupt`, {}),
  restart: (id: string) => call<unknown>('POST', `/ui-api/sessions/${enc(id)}/restart`, {}),
  timeseries: (id: string, q: { path: string; variable?: string; labels?: string[] }) =>
    call<SeriesResponse>(
      'GET',
      `/ui-api/sessions/${enc(id)}/timeseries?path=${enc(q.path)}${q.variable ? `&variable=${enc(q.variable)}` : ''}${
        q.labels?.length ? `&labels=${enc(q.labels.join(','))}` : ''
      }`,
    ),
  query: (sql: string, limit?: number) =>
    call<CatalogQueryResult>('POST', '/ui-api/catalog/query', { sql, limit }),
};

/** Downloads an export (the token travels in a header, so no plain link). */
export async function download(id: string, format: 'srcmd' | 'ipynb'): Promise<void> {
  const res = await fetch(`/ui-api/sessions/${enc(id)}/export?format=${format}`, {
    headers: { Authorization: `token ${token()}` },
  });
  if (!res.ok) throw new ApiError(res.status, await res.text());
  const name =
    /filename="?([^";]+)"?/.exec(res.headers.get('Content-Disposition') ?? '')?.[1] ?? `notebook.${format}`;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(await res.blob());
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

type Listener = (e: SessionEvent) => void;

/** One /events socket for the whole page; views subscribe and unsubscribe. */
export class EventStream {
  readonly #listeners = new Set<Listener>();
  readonly #lastSeq = new Map<string, number>();
  #retry = 500;
  onStatus: (online: boolean) => void = () => {};

  start(): void {
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/events?token=${enc(token())}`);
    ws.onopen = () => {
      this.#retry = 500;
      this.onStatus(true);
      // Resume every session we were following: nothing missed, nothing twice.
      for (const [session_id, after_seq] of this.#lastSeq) {
        ws.send(JSON.stringify({ op: 'resume', session_id, after_seq }));
      }
    };
    ws.onmessage = (m) => {
      const e = JSON.parse(String(m.data)) as SessionEvent | { type: 'error' };
      if (e.type === 'error' || !('seq' in e)) return;
      if (e.seq <= (this.#lastSeq.get(e.session_id) ?? -1)) return;
      this.#lastSeq.set(e.session_id, e.seq);
      for (const l of this.#listeners) l(e);
    };
    ws.onclose = () => {
      this.onStatus(false);
      setTimeout(() => this.start(), this.#retry);
      this.#retry = Math.min(this.#retry * 2, 10_000);
    };
  }

  /** Marks where a view's snapshot stands, so only later events are delivered for it. */
  seen(sessionId: string, seq: number): void {
    if (seq > (this.#lastSeq.get(sessionId) ?? -1)) this.#lastSeq.set(sessionId, seq);
  }

  subscribe(l: Listener): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }
}

export const events = new EventStream();
