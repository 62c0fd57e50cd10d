// Which ends of an intercept run the kernel probe can answer for: only
// sockets of this namespace (its addresses, loopback). An end on another
// host, or routed through this one, gets its kernel checks not checked, with
// why; the inference's checks are unaffected.

import { describe, expect, it } from 'vitest';
import { LocalEnds } from '../../src/intercept/local-ends.js';
import { check } from '../../src/rules/expect.js';
import type { TcpmitmEvent } from '../../src/engine/events.js';

const conn = (n: number, client: string, server: string): TcpmitmEvent => ({ type: 'connection', t: 0.1, conn: n, client, server, pickedUp: false });
const state = (endpoint: 'client' | 'server', source: 'inferred' | 'kernel', from: string, to: string, t: number): TcpmitmEvent =>
  ({ type: 'state', t, conn: 1, endpoint, source, from, to }) as TcpmitmEvent;

describe('LocalEnds', () => {
  it('loopback and this namespace\'s addresses are local; others are not, and say so', () => {
    const ends = new LocalEnds(new Set([1, 2]), ['198.18.77.1', '2001:2:77::1']);
    ends.onEvent(conn(1, '127.0.0.1:40000', '127.0.0.1:8080'));
    ends.onEvent(conn(2, '[2001:2:77::2]:40000', '[2001:2:77::1]:8080'));
    ends.onEvent(conn(3, '198.18.91.1:40000', '198.18.92.1:8080'));
    expect(ends.answerable(1, 'client')).toBe(true);
    expect(ends.answerable(1, 'server')).toBe(true);
    expect(ends.answerable(2, 'server')).toBe(true);
    expect(ends.answerable(2, 'client')).toMatch(/^the client's socket \(\[2001:2:77::2\]:40000\) is not on this host/);
    // Not among the connections the expectations name: not kept, nothing said against it.
    expect(ends.answerable(3, 'client')).toBe(true);
  });

  it('in the checks: a routed end\'s kernel half is not checked, its inference checked as ever', () => {
    const ends = new LocalEnds(new Set([1]), ['198.18.91.254', '198.18.92.254']);
    const events = [conn(1, '198.18.91.1:40000', '198.18.92.1:8080'), state('server', 'inferred', 'ESTAB', 'CLOSE-WAIT', 1), state('server', 'inferred', 'CLOSE-WAIT', 'LAST-ACK', 2)];
    for (const e of events) ends.onEvent(e);
    const results = check({ server: { states: ['CLOSE-WAIT', 'LAST-ACK'] } }, events, { t: 3, kernel: true, kernelEnd: ends.answerable });
    expect(results.map((r) => `${r.subject}: ${r.status}`)).toEqual(['server states (inferred): met', 'server states (kernel): not-checked']);
    expect(results[1]!.observed).toMatch(/^not checked: the server's socket \(198\.18\.92\.1:8080\) is not on this host/);
    // Without the per-end answer the same kernel half fails: nothing was seen.
    expect(check({ server: { states: ['CLOSE-WAIT', 'LAST-ACK'] } }, events, { t: 3, kernel: true }).map((r) => r.status)).toEqual(['met', 'failed']);
  });
});
