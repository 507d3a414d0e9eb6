// Unit tests of the wire codec: signing, verification, counting of drops.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DELIMITER, type Message, WireCodec } from '../../notebook-server/src/kernel/wire.ts';

const KEY = 'a'.repeat(64);

describe('WireCodec', () => {
  it('round-trips a message and preserves identities and buffers', () => {
    const codec = new WireCodec(KEY);
    const msg = codec.message('shell', 'execute_request', { code: 'print("ü")' });
    msg.buffers = [new Uint8Array([1, 2, 3])];
    const frames = codec.encode(msg, [Buffer.from('id-1')]);
    expect(frames[1]?.toString()).toBe(DELIMITER);
    const decoded = codec.decode(frames, 'shell');
    expect(decoded?.identities.map(String)).toEqual(['id-1']);
    expect(decoded?.message.header).toEqual(msg.header);
    expect(decoded?.message.content).toEqual({ code: 'print("ü")' });
    expect([...(decoded!.message.buffers![0] as Buffer)]).toEqual([1, 2, 3]);
    expect(codec.stats).toEqual({ badSignatures: 0, malformed: 0 });
  });

  it('signs exactly like jupyter_client: hex HMAC-SHA256 over header, parent, metadata, content', () => {
    const codec = new WireCodec('secret');
    const body = ['{"a":1}', '{}', '{}', '{"b":2}'].map((s) => Buffer.from(s));
    // Computed with Python: hmac.new(b"secret", digestmod=hashlib.sha256) updated with the four frames.
    expect(codec.sign(body)).toBe('9b14d94617bffb278285cea390d9dc17e01ec3188dba313f9548021906557a7b');
  });

  it('drops and counts a forged signature, a tampered frame and a truncated signature', () => {
    const codec = new WireCodec(KEY);
    const frames = codec.encode(codec.message('iopub', 'status', { execution_state: 'idle' }));
    const forged = [...frames];
    forged[1] = Buffer.from('0'.repeat(64));
    expect(codec.decode(forged, 'iopub')).toBeUndefined();
    const tampered = [...frames];
    tampered[5] = Buffer.from('{"execution_state":"busy"}');
    expect(codec.decode(tampered, 'iopub')).toBeUndefined();
    const short = [...frames];
    short[1] = Buffer.from('abc');
    expect(codec.decode(short, 'iopub')).toBeUndefined();
    const otherKey = new WireCodec('b'.repeat(64));
    expect(otherKey.decode(frames, 'iopub')).toBeUndefined();
    expect(codec.stats.badSignatures).toBe(3);
    expect(otherKey.stats.badSignatures).toBe(1);
    expect(codec.decode(frames, 'iopub')?.message.content).toEqual({ execution_state: 'idle' });
  });

  it('counts malformed messages separately', () => {
    const codec = new WireCodec('');
    expect(codec.decode([Buffer.from('no delimiter')], 'shell')).toBeUndefined();
    expect(
      codec.decode([Buffer.from(DELIMITER), Buffer.from(''), Buffer.from('{')], 'shell'),
    ).toBeUndefined();
    const bad = [DELIMITER, '', 'not json', '{}', '{}', '{}'].map((s) => Buffer.from(s));
    expect(codec.decode(bad, 'shell')).toBeUndefined();
    expect(codec.stats).toEqual({ badSignatures: 0, malformed: 3 });
  });

  it('gives every message a unique id', () => {
    const codec = new WireCodec(KEY);
    const ids = new Set(Array.from({ length: 1000 }, () => codec.header('status').msg_id));
    expect(ids.size).toBe(1000);
  });

  it('decode ∘ encode is the identity on arbitrary JSON content (property)', () => {
    const codec = new WireCodec(KEY);
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string(), (content, text) => {
        const msg = codec.message('iopub', 'stream', { ...content, text });
        const back = codec.decode(codec.encode(msg), 'iopub')?.message as Message;
        expect(back.content).toEqual(JSON.parse(JSON.stringify({ ...content, text })));
        expect(back.header).toEqual(msg.header);
      }),
      { numRuns: 200 },
    );
  });
});
