import { describe, expect, it } from 'vitest';
import { HIDDEN_PROFILE, blindView } from '../../../src/session/blind-view.js';
import type { TcpmitmEvent } from '../../../src/engine/events.js';

const seg = (over: Partial<Extract<TcpmitmEvent, { type: 'segment' }>>): TcpmitmEvent => ({
  type: 'segment', t: 1, conn: 1, dir: 'c2s', from: 'client', flags: 'A', seq: 102, ack: 2, len: 0, win: 63, role: 'last-ack', verdict: 'pass', ...over,
});

describe('the blind view of a hidden fault', () => {
  it('shows every segment as sent: a dropped, delayed or forged one looks passed, with no rule or words', () => {
    for (const verdict of ['drop', 'delay', 'forged', 'hold', 'coalesce', 'duplicate'] as const) {
      expect(blindView(seg({ verdict, rule: 1, detail: 'by rule' }))).toEqual(seg({}));
    }
    const plain = seg({});
    expect(blindView(plain)).toBe(plain);
    // A pass with words (queued behind a delayed segment) says nothing either.
    expect(blindView(seg({ detail: 'queued behind a delayed segment' }))).toEqual(seg({}));
  });

  it("hides tcpmitm's actions, the profile's name, the causes that name tcpmitm, and the counts of what it did", () => {
    expect(blindView({ type: 'action', t: 1, conn: 1, action: 'drop', detail: 'dropped last-ack from client', rule: 1 })).toBeUndefined();
    expect(blindView({ type: 'start', t: 0, mode: 'lab', lab: 'x', profile: 'drop-last-ack', wall: 'w' })).toMatchObject({ profile: HIDDEN_PROFILE });
    const st = blindView({ type: 'state', t: 1, conn: 1, endpoint: 'client', from: 'TIME-WAIT', to: 'CLOSED', source: 'inferred', cause: 'delivered RST forged by tcpmitm' });
    expect(st).toEqual({ type: 'state', t: 1, conn: 1, endpoint: 'client', from: 'TIME-WAIT', to: 'CLOSED', source: 'inferred' });
    const stats = blindView({
      type: 'stats', t: 1, frames: 10, bytes: 600, malformed: 0, nonTcp: 0, dropped: 2, delayed: 1, forged: 1, coalesced: 0, held: 0, duplicated: 0,
      tracked: 1, evictedHalfOpen: 0, evictedPickedUp: 0, evictedClosed: 0, expired: 0, untracked: 0,
    });
    expect(stats).toMatchObject({ frames: 10, dropped: 0, delayed: 0, forged: 0 });
  });

  it("leaves what the student diagnoses from: the kernel's states, the programs' events", () => {
    const k: TcpmitmEvent = { type: 'state', t: 1, conn: 1, endpoint: 'server', from: 'LAST-ACK', to: 'CLOSED', source: 'kernel' };
    expect(blindView(k)).toBe(k);
    const app: TcpmitmEvent = { type: 'app', t: 1, endpoint: 'client', event: 'ECONNRESET' };
    expect(blindView(app)).toBe(app);
  });
});
