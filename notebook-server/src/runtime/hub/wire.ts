// The hub's wire format: JSON text frames over one WebSocket per experiment.
// Control frames (hello, welcome, ack) are unsequenced; every other frame is
// sequenced (q) and carries the sender's cumulative ack (a), so a dropped
// connection resumes by replaying what the peer has not acknowledged.
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/** Path of the hub endpoint on the host; the experiment id and token travel in headers. */
export const HUB_PATH = '/hub';
export const EXPERIMENT_HEADER = 'x-peragus-experiment';
/** Largest WebSocket message either side accepts (a data chunk is 256 KiB before base64). */
export const MAX_FRAME_BYTES = 4 * 2 ** 20;
export const CHUNK_BYTES = 256 * 2 ** 10;

/** What a node may ask of the host's file copies and commands (bounded sizes, see ops). */
export type Op = 'exec' | 'stats' | 'cp_out' | 'cp_in';

export type Body =
  /** An MCP stream (one host client) opens, carries a message, or closes. */
  | { t: 'open'; s: number }
  | { t: 'mcp'; s: number; m: JSONRPCMessage }
  | { t: 'close'; s: number }
  /** A request of the host to the node. */
  | { t: 'req'; id: number; op: Op; args: Record<string, unknown> }
  /** A piece of a file (base64) of request `id`, in order; then `end` with the sender's sha256. */
  | { t: 'chunk'; id: number; d: string }
  | { t: 'end'; id: number; sha256: string; bytes: number }
  | { t: 'res'; id: number; ok: true; value: Record<string, unknown> }
  | { t: 'res'; id: number; ok: false; code: string; message: string };

export type Frame =
  | { k: 'hello'; epoch: string | null; received: number }
  | { k: 'welcome'; epoch: string; received: number }
  | { k: 'ack'; a: number }
  | { k: 'f'; q: number; a: number; b: Body };

const BodySchema = z.union([
  z.object({ t: z.enum(['open', 'close']), s: z.number().int().nonnegative() }),
  z.object({ t: z.literal('mcp'), s: z.number().int().nonnegative(), m: z.record(z.string(), z.unknown()) }),
  z.object({
    t: z.literal('req'),
    id: z.number().int().nonnegative(),
    op: z.enum(['exec', 'stats', 'cp_out', 'cp_in']),
    args: z.record(z.string(), z.unknown()),
  }),
  z.object({ t: z.literal('chunk'), id: z.number().int().nonnegative(), d: z.string() }),
  z.object({
    t: z.literal('end'),
    id: z.number().int().nonnegative(),
    sha256: z.string(),
    bytes: z.number().int().nonnegative(),
  }),
  z.object({
    t: z.literal('res'),
    id: z.number().int().nonnegative(),
    ok: z.literal(true),
    value: z.record(z.string(), z.unknown()),
  }),
  z.object({
    t: z.literal('res'),
    id: z.number().int().nonnegative(),
    ok: z.literal(false),
    code: z.string(),
    message: z.string(),
  }),
]);

const FrameSchema = z.union([
  z.object({
    k: z.literal('hello'),
    epoch: z.string().max(64).nullable(),
    received: z.number().int().nonnegative(),
  }),
  z.object({ k: z.literal('welcome'), epoch: z.string().max(64), received: z.number().int().nonnegative() }),
  z.object({ k: z.literal('ack'), a: z.number().int().nonnegative() }),
  z.object({
    k: z.literal('f'),
    q: z.number().int().positive(),
    a: z.number().int().nonnegative(),
    b: BodySchema,
  }),
]);

/** Parses one frame; anything else (not JSON, unknown shape) is an Error naming the problem. */
export function parseFrame(text: string): Frame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('hub frame is not JSON');
  }
  const parsed = FrameSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`hub frame of unknown shape: ${parsed.error.issues[0]?.message}`);
  return parsed.data as Frame;
}
