import { describe, expect, it } from 'vitest';
import { TraceSockets, type Transition } from '../../../src/io/kernel-probe-sockets.js';
import type { ProcTcpRow } from '../../../src/io/proc-net-tcp.js';
import type { TcpState } from '../../../src/tcp/state.js';

const C = '198.18.0.1:40000';
const S = '198.18.0.2:8080';
const tr = (t: number, local: string, remote: string, from: TcpState, to: TcpState): Transition => ({ t, local, remote, from, to });
type Rows = Partial<Record<'client' | 'server', ProcTcpRow[]>>;
const none: Rows = {};
const table = (rows: Rows) => (ns: 'client' | 'server') => rows[ns] ?? [];

describe('TraceSockets', () => {
  it("connect() without bind: SYN-SENT is stamped at connect(), from its port-less event; the server's socket starts from LISTEN", () => {
    const s = new TraceSockets(0);
    expect(s.apply([tr(1.0, '198.18.0.1:0', S, 'CLOSED', 'SYN-SENT')], table(none), 1.001)).toEqual([]);
    expect(s.apply([tr(1.2, C, S, 'SYN-SENT', 'ESTAB'), tr(1.2001, S, C, 'LISTEN', 'SYN-RECV'), tr(1.2002, S, C, 'SYN-RECV', 'ESTAB')], table(none), 1.21)).toEqual([
      { ns: 'client', local: C, remote: S, from: 'CLOSED', to: 'SYN-SENT', t: 1.0 },
      { ns: 'client', local: C, remote: S, from: 'SYN-SENT', to: 'ESTAB', t: 1.2 },
      { ns: 'server', local: S, remote: C, from: 'LISTEN', to: 'SYN-RECV', t: 1.2001 },
      { ns: 'server', local: S, remote: C, from: 'SYN-RECV', to: 'ESTAB', t: 1.2002 },
    ]);
  });

  it('"→ CLOSE" with a TIME-WAIT mini-socket listed is TIME-WAIT; its end (no tracepoint) is found at a later look', () => {
    const s = new TraceSockets(0);
    s.apply([tr(1, S, C, 'LISTEN', 'SYN-RECV'), tr(1, S, C, 'SYN-RECV', 'ESTAB'), tr(2, S, C, 'ESTAB', 'FIN-WAIT-1'), tr(2.01, S, C, 'FIN-WAIT-1', 'FIN-WAIT-2')], table(none), 2.02);
    const tw = { server: [{ local: S, remote: C, state: 'TIME-WAIT', inode: 0 } as const] };
    expect(s.apply([tr(2.03, S, C, 'FIN-WAIT-2', 'CLOSED')], table(tw), 2.04)).toEqual([{ ns: 'server', local: S, remote: C, from: 'FIN-WAIT-2', to: 'TIME-WAIT', t: 2.03 }]);
    expect(s.apply([], table(tw), 2.05)).toEqual([]);
    expect(s.apply([], table(none), 62.1)).toEqual([{ ns: 'server', local: S, remote: C, from: 'TIME-WAIT', to: 'CLOSED', since: 2.05, t: 62.1 }]);
  });

  it('a new socket on a tuple held in TIME-WAIT (a SYN reused it) ends the mini-socket first', () => {
    const s = new TraceSockets(0);
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
    const s = new TraceSockets(0);
    s.apply([tr(1, C, S, 'CLOSED', 'SYN-SENT'), tr(1, C, S, 'SYN-SENT', 'ESTAB'), tr(2, C, S, 'ESTAB', 'FIN-WAIT-1'), tr(2.01, C, S, 'FIN-WAIT-1', 'FIN-WAIT-2')], table(none), 2.02);
    const fw2 = { client: [{ local: C, remote: S, state: 'FIN-WAIT-2', inode: 0 } as const] };
    expect(s.apply([tr(5, C, S, 'FIN-WAIT-2', 'CLOSED')], table(fw2), 5.01)).toEqual([{ ns: 'client', local: C, remote: S, from: 'FIN-WAIT-2', to: 'FIN-WAIT-2', t: 5, orphan: true }]);
    const tw = { client: [{ local: C, remote: S, state: 'TIME-WAIT', inode: 0 } as const] };
    expect(s.apply([], table(tw), 6)).toEqual([{ ns: 'client', local: C, remote: S, from: 'FIN-WAIT-2', to: 'TIME-WAIT', since: 5.01, t: 6 }]);

    // tcp_fin_timeout > 60 s keeps it a full socket: its inode going to 0 is the only sign.
    const full = new TraceSockets(0);
    full.apply([tr(1, C, S, 'CLOSED', 'SYN-SENT'), tr(2, C, S, 'ESTAB', 'FIN-WAIT-1'), tr(2.01, C, S, 'FIN-WAIT-1', 'FIN-WAIT-2')], table({ client: [{ local: C, remote: S, state: 'FIN-WAIT-2', inode: 7 }] }), 2.02);
    expect(full.apply([], table({ client: [{ local: C, remote: S, state: 'FIN-WAIT-2', inode: 7 }] }), 3)).toEqual([]);
    expect(full.apply([], table({ client: [{ local: C, remote: S, state: 'FIN-WAIT-2', inode: 0 }] }), 4)).toEqual([
      { ns: 'client', local: C, remote: S, from: 'FIN-WAIT-2', to: 'FIN-WAIT-2', orphan: true, since: 3, t: 4 },
    ]);
  });

  it('ignores sockets outside the lab and listeners', () => {
    const s = new TraceSockets(0);
    expect(s.apply([tr(1, '10.0.0.1:22', '10.0.0.2:5000', 'ESTAB', 'FIN-WAIT-1'), tr(1, '198.18.0.2:8080', '0.0.0.0:0', 'CLOSED', 'LISTEN')], table(none), 1.1)).toEqual([]);
  });
});
