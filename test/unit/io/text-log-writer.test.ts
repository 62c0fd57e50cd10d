// textLogWriter and a reader that went away (`tcpmitm … | head -1`): after its
// stream's error, the writer neither formats nor hands it anything (quietly, no throw).

import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { textLogWriter } from '../../../src/io/text-log.js';

describe('textLogWriter', () => {
  it('stops at a closed reader (EPIPE) without throwing', async () => {
    let writes = 0;
    const out = new Writable({
      write(_chunk, _enc, cb) {
        writes++;
        const err = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
        cb(err);
      },
    });
    const errors: Error[] = [];
    out.on('error', (e) => errors.push(e));
    // What the writer hands the stream (a destroyed stream would swallow it silently).
    let handed = 0;
    const write = out.write.bind(out);
    out.write = ((chunk: string) => (handed++, write(chunk))) as typeof out.write;
    const log = textLogWriter(out, { segments: false });
    log({ type: 'start', t: 0, mode: 'lab', lab: 'op1', profile: 'passthrough', wall: '' });
    log({ type: 'end', t: 0.1, reason: 'r', exitCode: 0 });
    await new Promise((r) => setImmediate(r));
    expect(writes).toBe(1);
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['EPIPE']);
    expect(() => {
      log({ type: 'warning', t: 0.2, message: 'later' });
      log({ type: 'end', t: 0.3, reason: 'r', exitCode: 0 });
    }).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(handed).toBe(1);
    expect(writes).toBe(1);
    expect(errors).toHaveLength(1);
  });

  it('writes at once past a bound on kept events, when the loop does not come round to write them', () => {
    const chunks: string[] = [];
    const out = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(String(chunk));
        cb();
      },
    });
    const log = textLogWriter(out, { segments: false });
    // No turn of the loop in between (a synchronous burst): the first 4096 lines go out together, the rest wait for the turn.
    for (let i = 0; i < 5000; i++) log({ type: 'warning', t: i / 1000, message: `w${i}` });
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.split('\n').filter(Boolean)).toHaveLength(4096);
  });
});
