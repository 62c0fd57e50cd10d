import { describe, expect, it } from 'vitest';
import { MAX_LOOKUPS_PER_READ, TraceSockets, type LookupRow, type Transition } from '../../../src/io/kernel-probe-sockets.js';
import type { ProcTcpRow } from '../../../src/io/proc-net-tcp.js';
import type { TcpState } from '../../../src/tcp/state.js';

const C = '198.18.0.1:40000';
const S = '198.18.0.2:8080';
const tr = (t: number, local: string, remote: string, from: TcpState, to: TcpState): Transition => ({ t, local, remote, from, to });
type Rows = Partial<Record<'client' | 'server', (ProcTcpRow | LookupRow)[]>>;
const none: Rows = {};
/** A lookup of one 4-tuple in the given rows (what sock_diag answers). */
const table = (rows: Rows) => (ns: 'client' | 'server', local: string, remote: string) => rows[ns]?.find((r) => r.local === local && r.remote === remote);

describe('TraceSockets', () => {
  it("connect() without bind: SYN-SENT is stamped at connect(), from its port-less event; the server's socket starts from LISTEN", () => {
    const s = new TraceSockets();
    expect(s.apply([tr(1.0, '198.18.0.1:0', S, 'CLOSED', 'SYN-SENT')], table(none), 1.001)).toEqual([]);
    expect(s.apply([tr(1.2, C, S, 'SYN-SENT', 'ESTAB'), tr(1.2001, S, C, 'LISTEN', 'SYN-RECV'), tr(1.2002, S, C, 'SYN-RECV', 'ESTAB')], table(none), 1.21)).toEqual([
      { ns: 'client', local: C, remote: S, from: 'CLOSED', to: 'SYN-SENT', t: 1.0 },
      { ns: 'client', local: C, remote: S, from: 'SYN-SENT', to: 'ESTAB', t: 1.2 },
      { ns: 'server', local: S, remote: C, from: 'LISTEN', to: 'SYN-RECV', t: 1.2001 },
      { ns: 'server', local: S, remote: C, from: 'SYN-RECV', to: 'ESTAB', t: 1.2002 },
    ]);
  });

  it('"→ CLOSE" with a TIME-WAIT mini-socket listed is TIME-WAIT; its end (no tracepoint) is found at a later look', () => {
    const s = new TraceSockets();
    s.apply([tr(1, S, C, 'LISTEN', 'SYN-RECV'), tr(1, S, C, 'SYN-RECV', 'ESTAB'), tr(2, S, C, 'ESTAB', 'FIN-WAIT-1'), tr(2.01, S, C, 'FIN-WAIT-1', 'FIN-WAIT-2')], table(none), 2.02);
    const tw = { server: [{ local: S, remote: C, state: 'TIME-WAIT', inode: 0 } as const] };
    expect(s.apply([tr(2.03, S, C, 'FIN-WAIT-2', 'CLOSED')], table(tw), 2.04)).toEqual([{ ns: 'server', local: S, remote: C, from: 'FIN-WAIT-2', to: 'TIME-WAIT', t: 2.03 }]);
    expect(s.apply([], table(tw), 2.05)).toEqual([]);
    expect(s.apply([], table(none), 62.1)).toEqual([{ ns: 'server', local: S, remote: C, from: 'TIME-WAIT', to: 'CLOSED', since: 2.05, t: 62.1 }]);
  });

  it('a new socket on a tuple held in TIME-WAIT (a SYN reused it) ends the mini-socket first', () => {
    const s = new TraceSockets();
    const tw = { server: [{ local: S, remote: C, state: 'TIME-WAIT', inode: 0 } as const] };
    s.apply([tr(1, S, C, 'LISTEN', 'SYN-RECV'), tr(2, S, C, 'ESTAB', 'FIN-WAIT-1'), tr(2.01, S, C, 'FIN-WAIT-1', 'FIN-WAIT-2'), tr(2.02, S, C, 'FIN-WAIT-2', 'CLOSED')], table(tw), 2.03);
    const out = s.apply([tr(3.0, S, C, 'LISTEN', 'SYN-RECV'), tr(3.0001, S, C, 'SYN-RECV', 'ESTAB')], table(none), 3.01);
    expect(out).toEqual([
      { ns: 'server', local: S, remote: C, from: 'TIME-WAIT', to: 'CLOSED', since: 2.03, t: 3.0 },
      { ns: 'server', local: S, remote: C, from: 'LISTEN', to: 'SYN-RECV', t: 3.0 },
      { ns: 'server', local: S, remote: C, from: 'SYN-RECV', to: 'ESTAB', t: 3.0001 },
    ]);
  });

  it("an orphan's FIN-WAIT-2: at close() (→ CLOSE, the table lists FIN-WAIT-2) or seen at a look; its FIN then makes it TIME-WAIT", () => {
    const s = new TraceSockets();
    s.apply([tr(1, C, S, 'CLOSED', 'SYN-SENT'), tr(1, C, S, 'SYN-SENT', 'ESTAB'), tr(2, C, S, 'ESTAB', 'FIN-WAIT-1'), tr(2.01, C, S, 'FIN-WAIT-1', 'FIN-WAIT-2')], table(none), 2.02);
    const fw2 = { client: [{ local: C, remote: S, state: 'FIN-WAIT-2', inode: 0 } as const] };
    expect(s.apply([tr(5, C, S, 'FIN-WAIT-2', 'CLOSED')], table(fw2), 5.01)).toEqual([{ ns: 'client', local: C, remote: S, from: 'FIN-WAIT-2', to: 'FIN-WAIT-2', t: 5, orphan: true }]);
    const tw = { client: [{ local: C, remote: S, state: 'TIME-WAIT', inode: 0 } as const] };
    expect(s.apply([], table(tw), 6)).toEqual([{ ns: 'client', local: C, remote: S, from: 'FIN-WAIT-2', to: 'TIME-WAIT', since: 5.01, t: 6 }]);

    // tcp_fin_timeout > 60 s keeps it a full socket: its inode going to 0 is the only sign.
    const full = new TraceSockets();
    full.apply([tr(1, C, S, 'CLOSED', 'SYN-SENT'), tr(2, C, S, 'ESTAB', 'FIN-WAIT-1'), tr(2.01, C, S, 'FIN-WAIT-1', 'FIN-WAIT-2')], table({ client: [{ local: C, remote: S, state: 'FIN-WAIT-2', inode: 7 }] }), 2.02);
    expect(full.apply([], table({ client: [{ local: C, remote: S, state: 'FIN-WAIT-2', inode: 7 }] }), 3)).toEqual([]);
    expect(full.apply([], table({ client: [{ local: C, remote: S, state: 'FIN-WAIT-2', inode: 0 }] }), 4)).toEqual([
      { ns: 'client', local: C, remote: S, from: 'FIN-WAIT-2', to: 'FIN-WAIT-2', orphan: true, since: 3, t: 4 },
    ]);
  });

  it('ignores sockets outside the lab and listeners', () => {
    const s = new TraceSockets();
    expect(s.apply([tr(1, '10.0.0.1:22', '10.0.0.2:5000', 'ESTAB', 'FIN-WAIT-1'), tr(1, '198.18.0.2:8080', '0.0.0.0:0', 'CLOSED', 'LISTEN')], table(none), 1.1)).toEqual([]);
  });

  it('a burst of closes: at most MAX_LOOKUPS_PER_READ lookups per read, the rest next read, in order, and the watermark held before them', () => {
    const s = new TraceSockets();
    const n = 2 * MAX_LOOKUPS_PER_READ + 5;
    const port = (i: number) => `198.18.0.1:${20000 + i}`;
    const opened: Transition[] = [];
    for (let i = 0; i < n; i++) opened.push(tr(1, port(i), S, 'SYN-SENT', 'ESTAB'), tr(2, port(i), S, 'ESTAB', 'FIN-WAIT-1'), tr(2, port(i), S, 'FIN-WAIT-1', 'FIN-WAIT-2'));
    s.apply(opened, table(none), 2.5);
    const closes = Array.from({ length: n }, (_, i) => tr(3 + i * 1e-3, port(i), S, 'FIN-WAIT-2', 'CLOSED'));
    const rows = { client: Array.from({ length: n }, (_, i) => ({ local: port(i), remote: S, state: 'TIME-WAIT', inode: 0, expiresMs: 60_000 }) as const) };
    let asked = 0;
    const lookup = (ns: 'client' | 'server', local: string, remote: string) => (asked++, table(rows)(ns, local, remote));
    const out = s.apply(closes, lookup, 3.5);
    expect(asked).toBe(MAX_LOOKUPS_PER_READ);
    expect(out.map((o) => o.local)).toEqual(closes.slice(0, MAX_LOOKUPS_PER_READ).map((c) => c.local));
    expect(s.known()).toBeLessThan(closes[MAX_LOOKUPS_PER_READ]!.t);
    const rest = [...s.apply([], lookup, 3.6), ...s.apply([], lookup, 3.7)];
    expect(rest.map((o) => o.local)).toEqual(closes.slice(MAX_LOOKUPS_PER_READ).map((c) => c.local));
    expect(rest.every((o) => o.to === 'TIME-WAIT')).toBe(true);
    expect(s.known()).toBeUndefined();
  });

  it('a TIME-WAIT is looked at again only once its timer is due; an orphan\'s FIN-WAIT-2 at waits that double; LAST-ACK → CLOSE asks nothing', () => {
    const s = new TraceSockets();
    let asked = 0;
    let rows: Rows = { server: [{ local: S, remote: C, state: 'TIME-WAIT', inode: 0, expiresMs: 60_000 }] };
    const lookup = (ns: 'client' | 'server', local: string, remote: string) => (asked++, table(rows)(ns, local, remote));
    s.apply([tr(1, S, C, 'LISTEN', 'SYN-RECV'), tr(2, S, C, 'ESTAB', 'FIN-WAIT-1'), tr(2.01, S, C, 'FIN-WAIT-1', 'FIN-WAIT-2'), tr(2.02, S, C, 'FIN-WAIT-2', 'CLOSED')], lookup, 2.03);
    expect(asked).toBe(1);
    for (let t = 2.04; t < 62; t += 0.5) expect(s.apply([], lookup, t)).toEqual([]);
    expect(asked).toBe(1);
    rows = none;
    expect(s.apply([], lookup, 62.04)).toEqual([{ ns: 'server', local: S, remote: C, from: 'TIME-WAIT', to: 'CLOSED', since: 2.03, t: 62.04 }]);
    expect(asked).toBe(2);
    expect(s.followedCount).toBe(0);

    // The client's side of the same close: LAST-ACK → CLOSE is tcp_done(), no mini-socket to look for.
    const c = new TraceSockets();
    asked = 0;
    c.apply([tr(1, C, S, 'SYN-SENT', 'ESTAB'), tr(2, C, S, 'ESTAB', 'CLOSE-WAIT'), tr(2.1, C, S, 'CLOSE-WAIT', 'LAST-ACK'), tr(2.2, C, S, 'LAST-ACK', 'CLOSED')], lookup, 2.3);
    expect(asked).toBe(0);

    const o = new TraceSockets();
    rows = { client: [{ local: C, remote: S, state: 'FIN-WAIT-2', inode: 0, expiresMs: 3000 }] };
    asked = 0;
    o.apply([tr(1, C, S, 'SYN-SENT', 'ESTAB'), tr(2, C, S, 'ESTAB', 'FIN-WAIT-1'), tr(2.01, C, S, 'FIN-WAIT-1', 'CLOSED')], lookup, 2.02);
    for (let i = 0; i < 100; i++) o.apply([], lookup, 2.02 + i * 0.01);
    // 5 ms, 10, 20, … up to 1 s: a handful of looks in a second, not one per read.
    expect(asked).toBeGreaterThan(3);
    expect(asked).toBeLessThan(10);
  });

  it('a socket in focus (the views disagree on it) is looked at now, and the watermark covers it', () => {
    const s = new TraceSockets();
    let rows: Rows = { server: [{ local: S, remote: C, state: 'TIME-WAIT', inode: 0, expiresMs: 60_000 }] };
    const lookup = (ns: 'client' | 'server', local: string, remote: string) => table(rows)(ns, local, remote);
    s.apply([tr(1, S, C, 'LISTEN', 'SYN-RECV'), tr(2, S, C, 'ESTAB', 'FIN-WAIT-1'), tr(2.01, S, C, 'FIN-WAIT-1', 'FIN-WAIT-2'), tr(2.02, S, C, 'FIN-WAIT-2', 'CLOSED')], lookup, 2.03);
    s.focus([{ ns: 'server', key: `${S}|${C}` }], []);
    expect(s.apply([], lookup, 10)).toEqual([]);
    expect(s.known()).toBe(10);
    // Looked at 2 ms ago: not again yet, and known only as of then.
    expect(s.apply([], lookup, 10.002)).toEqual([]);
    expect(s.known()).toBe(10);
    // An RST ended it (tcp_rfc1337=0), long before its timer.
    rows = none;
    expect(s.apply([], lookup, 10.01)).toEqual([{ ns: 'server', local: S, remote: C, from: 'TIME-WAIT', to: 'CLOSED', since: 10, t: 10.01 }]);
    expect(s.known()).toBeUndefined();
  });

  it('thousands of sockets in focus: a read looks at the ones looked at longest ago, within the budget; the watermark is the oldest look; a focus ends with remove', () => {
    const s = new TraceSockets();
    const n = 5000;
    const port = (i: number) => `198.18.0.1:${20000 + i}`;
    const opened: Transition[] = [];
    for (let i = 0; i < n; i++) opened.push(tr(1, port(i), S, 'SYN-SENT', 'ESTAB'), tr(2, port(i), S, 'ESTAB', 'FIN-WAIT-1'), tr(2, port(i), S, 'FIN-WAIT-1', 'CLOSED'));
    const rows = { client: Array.from({ length: n }, (_, i) => ({ local: port(i), remote: S, state: 'TIME-WAIT', inode: 0, expiresMs: 60_000 }) as const) };
    const byTuple = new Map(rows.client.map((r) => [`${r.local}|${r.remote}`, r]));
    const asked: string[] = [];
    const lookup = (_ns: 'client' | 'server', local: string, remote: string) => (asked.push(local), byTuple.get(`${local}|${remote}`));
    // The closes' lookups, spread over reads by the budget.
    for (let t = 2.01; s.known() !== undefined || t === 2.01; t += 0.01) s.apply(t === 2.01 ? opened : [], lookup, t);
    const focus = Array.from({ length: n }, (_, i) => ({ ns: 'client' as const, key: `${port(i)}|${S}` }));
    // One not yet a socket: its focus applies once it is.
    s.focus([...focus, { ns: 'client', key: `198.18.0.1:39999|${S}` }], []);
    asked.length = 0;
    s.apply([], lookup, 10);
    expect(asked).toHaveLength(MAX_LOOKUPS_PER_READ);
    // The rest were last looked at when their close was read (before 10): the watermark waits for them.
    expect(s.known()).toBeLessThan(10);
    // Every socket in focus is looked at once before any twice.
    const seen = new Set<string>();
    for (let t = 10.01; seen.size < n; t += 0.01) {
      asked.length = 0;
      s.apply([], lookup, t);
      for (const a of asked) {
        expect(seen.has(a) && seen.size < n - MAX_LOOKUPS_PER_READ).toBe(false);
        seen.add(a);
      }
    }
    s.apply([tr(20, '198.18.0.1:39999', S, 'SYN-SENT', 'ESTAB'), tr(20, '198.18.0.1:39999', S, 'ESTAB', 'FIN-WAIT-1'), tr(20, '198.18.0.1:39999', S, 'FIN-WAIT-1', 'FIN-WAIT-2')], lookup, 20);
    expect(s.known()).toBeLessThanOrEqual(20);
    // Focus removed: the TIME-WAITs are not looked at again before their timers, and nothing holds the watermark back
    // (the half-closed FIN-WAIT-2 is still followed at its doubling waits, focus or not).
    s.focus([], [...focus, { ns: 'client', key: `198.18.0.1:39999|${S}` }]);
    asked.length = 0;
    for (let t = 21; t < 30; t += 0.5) s.apply([], lookup, t);
    expect(asked.filter((a) => a !== '198.18.0.1:39999')).toEqual([]);
    expect(s.known()).toBeUndefined();
  });
});
