// textLogWriter: lines in time order within the reorder window, a bound on
// what it keeps, and a reader that went away (`tcpmitm … | head -1`): after
// its stream's error, the writer neither formats nor hands it anything
// (quietly, no throw).

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Writable } from 'node:stream';
import { MAX_PENDING, REORDER_WINDOW_S, textLogWriter } from '../../../src/io/text-log.js';

function collector(): { out: Writable; chunks: string[]; lines: () => string[] } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { out, chunks, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

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
    const log = textLogWriter(out, { segments: false }, () => 0);
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

  describe('order and bounds (fake timers)', () => {
    let now = 0;
    beforeEach(() => {
      vi.useFakeTimers();
      now = 0;
    });
    afterEach(() => vi.useRealTimers());

    it('writes lines in time order: a kernel line that comes late goes before the later lines it arrived after', () => {
      const c = collector();
      const log = textLogWriter(c.out, { segments: false }, () => now);
      log({ type: 'state', t: 0.982, conn: 1, endpoint: 'client', from: 'CLOSED', to: 'SYN-SENT', source: 'inferred', cause: 'sent SYN seq=0' });
      log({ type: 'app', t: 0.987, endpoint: 'server', event: 'connected' });
      // The kernel's own change, read by the probe 10 ms later, with the kernel's time.
      log({ type: 'state', t: 0.9825, conn: 1, endpoint: 'client', from: 'CLOSED', to: 'SYN-SENT', source: 'kernel' });
      now = 1.0;
      vi.advanceTimersByTime(100);
      expect(c.chunks).toEqual([]);
      now = 0.987 + REORDER_WINDOW_S;
      vi.advanceTimersByTime(100);
      expect(c.lines()).toEqual([
        '+0.982s  #1 client  CLOSED → SYN-SENT  (sent SYN seq=0)',
        '+0.983s  #1 client  CLOSED → SYN-SENT  [kernel]',
        '+0.987s  server app: connected',
      ]);
      expect(c.chunks).toHaveLength(1);
    });

    it('the end writes everything at once, in order', () => {
      const c = collector();
      const log = textLogWriter(c.out, { segments: false }, () => now);
      log({ type: 'warning', t: 0.5, message: 'b' });
      log({ type: 'warning', t: 0.4, message: 'a' });
      log({ type: 'end', t: 0.6, reason: 'r', exitCode: 0 });
      expect(c.lines()).toEqual(['+0.400s  warning: a', '+0.500s  warning: b', '+0.600s  end: r (exit 0)']);
    });

    it('keeps at most MAX_PENDING events: past it the older half is written at once, in order', () => {
      const c = collector();
      const log = textLogWriter(c.out, { segments: false }, () => now);
      // A synchronous burst, newest first: the loop never comes round to its timers.
      for (let i = 0; i < MAX_PENDING; i++) log({ type: 'warning', t: (MAX_PENDING - i) / 1000, message: `w${MAX_PENDING - i}` });
      expect(c.chunks).toHaveLength(1);
      const first = c.lines();
      expect(first).toHaveLength(MAX_PENDING / 2);
      expect(first[0]).toBe('+0.001s  warning: w1');
      expect(first.at(-1)).toBe(`+${(MAX_PENDING / 2 / 1000).toFixed(3)}s  warning: w${MAX_PENDING / 2}`);
    });
  });
});
