// Kernel WS framings: round trips (with binary buffers) and refusal of malformed frames.
import { describe, expect, it } from 'vitest';
import {
  decodeFrame,
  encodeLegacy,
  encodeV1,
  FrameError,
} from '../../notebook-server/src/http/jupyter/framing.ts';
import type { Message } from '../../notebook-server/src/kernel/wire.ts';

const message = (buffers: Buffer[] = []): Message =>
  ({
    channel: 'shell',
    header: { msg_id: 'm1', msg_type: 'comm_msg', session: 's1', username: 'u', date: '', version: '5.3' },
    parent_header: {},
    metadata: { k: 'é' },
    content: { data: { x: [1, 2, 3] } },
    buffers,
  }) as unknown as Message;

const bytes = (v: unknown) =>
  Buffer.from((v as DataView).buffer, (v as DataView).byteOffset, (v as DataView).byteLength);

describe('framing', () => {
  for (const [name, encode, framing] of [
    ['v1', encodeV1, 'v1'],
    ['legacy', encodeLegacy, 'legacy'],
  ] as const) {
    it(`${name}: round-trips a message with and without buffers`, () => {
      for (const buffers of [[], [Buffer.from([0, 1, 2]), Buffer.from('hello')]]) {
        const frame = encode(message(buffers));
        const back = decodeFrame(frame as Buffer, typeof frame !== 'string', framing);
        expect(back.header).toEqual(message().header);
        expect(back.metadata).toEqual({ k: 'é' });
        expect(back.content).toEqual(message().content);
        expect((back.buffers ?? []).map((b) => bytes(b).toString('hex'))).toEqual(
          buffers.map((b) => b.toString('hex')),
        );
      }
    });
  }

  it('refuses malformed frames with FrameError', () => {
    const bad: [Buffer | string, boolean, 'v1' | 'legacy'][] = [
      [Buffer.alloc(3), true, 'v1'],
      [Buffer.alloc(80, 0xff), true, 'v1'],
      ['{"channel":"shell"}', false, 'v1'],
      ['{not json', false, 'legacy'],
      ['[]', false, 'legacy'],
      ['{"channel":"iopub","header":{"msg_id":"a","msg_type":"status","session":"s"}}', false, 'legacy'],
      ['{"channel":"shell","header":{"msg_id":"a"}}', false, 'legacy'],
      [Buffer.from([0, 0, 0, 9, 0, 0, 0, 1]), true, 'legacy'],
    ];
    for (const [data, isBinary, framing] of bad) {
      expect(() => decodeFrame(data, isBinary, framing), String(data)).toThrow(FrameError);
    }
  });
});
