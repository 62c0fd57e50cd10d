// The DESIGN scenario catalogue as seen in packets: each case scripts the
// segments (sent, delivered, dropped, held) and asserts both endpoints' full
// state sequences and every segment's role.

import { describe, expect, it } from 'vitest';
import { TcpFlag } from '../../../src/tcp/segment.js';
import type { TcpState } from '../../../src/tcp/state.js';
import type { Role } from '../../../src/tcp/role.js';
import { HANDSHAKE, Lab, type LabOptions } from './script.js';

interface Scenario {
  name: string;
  opts?: LabOptions;
  script: string;
  client: TcpState[];
  server: TcpState[];
  roles: Role[];
  /** Records left after the script (timers and linger included). */
  left?: number;
}

const OPEN: TcpState[] = ['CLOSED', 'SYN-SENT', 'ESTAB'];
const ACCEPT: TcpState[] = ['LISTEN', 'SYN-RECV', 'ESTAB'];
const HS_ROLES: Role[] = ['syn', 'syn-ack', 'handshake-ack'];

const scenarios: Scenario[] = [
  {
    name: '1 normal four-way close',
    script: `${HANDSHAKE}
      c>s PA len=5
      s>c A
      c>s FA
      s>c A
      s>c FA
      c>s A
      wait 59999
      wait 1
      wait 10000`,
    client: [...OPEN, 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT', 'CLOSED'],
    server: [...ACCEPT, 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED'],
    roles: [...HS_ROLES, 'data', 'ack', 'fin', 'ack-of-fin', 'fin-ack', 'last-ack'],
    left: 0,
  },
  {
    name: '2 three-way close (FIN and ACK coalesced)',
    script: `${HANDSHAKE}
      c>s FA
      s>c FA
      c>s A
      wait 60000`,
    client: [...OPEN, 'FIN-WAIT-1', 'TIME-WAIT', 'CLOSED'],
    server: [...ACCEPT, 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED'],
    roles: [...HS_ROLES, 'fin', 'fin-ack', 'last-ack'],
  },
  {
    name: '3 last ACK lost: FIN retransmitted, TIME-WAIT re-ACKs',
    script: `${HANDSHAKE}
      c>s FA
      s>c A
      s>c FA
      c>s A drop
      wait 205
      s>c FA retx
      c>s A drop
      wait 208
      s>c FA retx
      c>s A
      wait 59999`,
    client: [...OPEN, 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'],
    server: [...ACCEPT, 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED'],
    roles: [...HS_ROLES, 'fin', 'ack-of-fin', 'fin-ack', 'last-ack', 'retransmission', 'last-ack', 'retransmission', 'last-ack'],
  },
  {
    name: '4 FIN late (68 s): a FIN-WAIT-2 not known to be orphaned waits for it, past tcp_fin_timeout',
    script: `${HANDSHAKE}
      c>s FA
      s>c A
      wait 68000
      s>c FA
      c>s A`,
    client: [...OPEN, 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'],
    server: [...ACCEPT, 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED'],
    roles: [...HS_ROLES, 'fin', 'ack-of-fin', 'fin-ack', 'last-ack'],
  },
  {
    name: '4b FIN delayed: FIN-WAIT-2 until it arrives',
    script: `${HANDSHAKE}
      c>s FA
      s>c A
      s>c FA hold
      wait 30000
      release
      c>s A`,
    client: [...OPEN, 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'],
    server: [...ACCEPT, 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED'],
    roles: [...HS_ROLES, 'fin', 'ack-of-fin', 'fin-ack', 'last-ack'],
  },
  {
    name: '4c half-closed (never orphaned): FIN-WAIT-2 stays, no timer invents CLOSED',
    script: `${HANDSHAKE}
      c>s FA
      s>c A
      wait 600000`,
    client: [...OPEN, 'FIN-WAIT-1', 'FIN-WAIT-2'],
    server: [...ACCEPT, 'CLOSE-WAIT'],
    roles: [...HS_ROLES, 'fin', 'ack-of-fin'],
    left: 1,
  },
  {
    name: '5 simultaneous close via CLOSING',
    script: `${HANDSHAKE}
      c>s FA hold
      s>c FA hold
      release
      c>s A
      s>c A
      wait 60000`,
    client: [...OPEN, 'FIN-WAIT-1', 'CLOSING', 'TIME-WAIT', 'CLOSED'],
    server: [...ACCEPT, 'FIN-WAIT-1', 'CLOSING', 'TIME-WAIT', 'CLOSED'],
    roles: [...HS_ROLES, 'fin', 'fin', 'last-ack', 'last-ack'],
  },
  {
    name: '6 half-close: FIN-WAIT-2 keeps receiving, CLOSE-WAIT keeps sending',
    script: `${HANDSHAKE}
      c>s FA
      s>c A
      s>c PA len=100
      s>c PA len=100
      c>s A
      s>c FA len=10
      c>s A`,
    client: [...OPEN, 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'],
    server: [...ACCEPT, 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED'],
    roles: [...HS_ROLES, 'fin', 'ack-of-fin', 'data', 'data', 'ack', 'fin-ack', 'last-ack'],
  },
  {
    name: '8 abortive close: RST sent, no TIME-WAIT',
    script: `${HANDSHAKE}
      c>s PA len=20
      s>c A
      c>s RA
      wait 10000`,
    client: [...OPEN, 'CLOSED'],
    server: [...ACCEPT, 'CLOSED'],
    roles: [...HS_ROLES, 'data', 'ack', 'rst'],
    left: 0,
  },
  {
    name: 'refused: RST+ACK to the SYN, no server endpoint ever',
    script: `
      c>s S
      s>c RA
      wait 10000`,
    client: ['CLOSED', 'SYN-SENT', 'CLOSED'],
    // Nothing listened: no server state at all (the kernel has no socket either).
    server: ['LISTEN'],
    roles: ['syn', 'rst'],
    left: 0,
  },
];

describe('tracker scenarios (DESIGN catalogue)', () => {
  it.each(scenarios)('$name', (sc) => {
    const lab = new Lab(sc.opts).run(sc.script);
    expect(lab.states('client', 1, 'CLOSED')).toEqual(sc.client);
    expect(lab.states('server', 1, 'LISTEN')).toEqual(sc.server);
    expect(lab.rolesOnly()).toEqual(sc.roles);
    if (sc.left !== undefined) expect(lab.tracker.size).toBe(sc.left);
  });

  it('1: TIME-WAIT ends exactly 2MSL after entering it, and the record is then forgotten', () => {
    const lab = new Lab().run(`${HANDSHAKE}
      c>s FA
      s>c A
      wait 7
      s>c FA
      c>s A`);
    const tw = lab.changes.find((c) => c.to === 'TIME-WAIT')!;
    expect(tw.t).toBe(7);
    expect(tw.cause).toBe('delivered FIN+ACK seq=1 ack=2');
    expect(lab.tracker.nextDeadline()).toBe(60_007);
    lab.run('wait 59999');
    expect(lab.tracker.get(1)!.clientEnd.state).toBe('TIME-WAIT');
    lab.run('wait 1');
    expect(lab.changes.at(-1)).toEqual({ conn: 1, endpoint: 'client', from: 'TIME-WAIT', to: 'CLOSED', cause: 'timer 2MSL', t: 60_007 });
    // Both CLOSED: the record lingers lingerMs past its last segment (t=7), already over.
    lab.run('wait 0');
    expect(lab.tracker.size).toBe(0);
    expect(lab.tracker.nextDeadline()).toBeUndefined();
  });

  it('1: causes name the segment with ISN-relative numbers', () => {
    const lab = new Lab().run(`${HANDSHAKE}
      c>s PA len=100
      c>s FA`);
    expect(lab.changes.filter((c) => c.endpoint === 'client').map((c) => c.cause)).toEqual([
      'sent SYN seq=0',
      'delivered SYN+ACK seq=0 ack=1',
      'sent FIN+ACK seq=101 ack=1',
    ]);
    expect(lab.changes.filter((c) => c.endpoint === 'server').map((c) => c.cause)).toEqual([
      'sent SYN+ACK seq=0 ack=1',
      'delivered ACK seq=1 ack=1',
      'delivered FIN+ACK seq=101 ack=1',
    ]);
    const ce = lab.tracker.get(1)!.clientEnd;
    expect(ce.finSeq).toBe(1000 + 101);
    expect(ce.sndNxt).toBe(1000 + 102);
  });

  it('3: every FIN delivered to TIME-WAIT restarts 2MSL', () => {
    const lab = new Lab().run(`${HANDSHAKE}
      c>s FA
      s>c A
      s>c FA
      c>s A drop
      wait 205
      s>c FA retx
      c>s A drop
      wait 408
      s>c FA retx`);
    const client = lab.tracker.get(1)!.clientEnd;
    expect(client.state).toBe('TIME-WAIT');
    expect(client.timer).toEqual({ kind: '2MSL', at: 613 + 60_000 });
    lab.run('wait 59999');
    expect(lab.tracker.get(1)!.clientEnd.state).toBe('TIME-WAIT');
    lab.run('wait 1');
    expect(lab.changes.at(-1)).toMatchObject({ endpoint: 'client', to: 'CLOSED', cause: 'timer 2MSL', t: 60_613 });
  });

  it('4: an orphan (the kernel says its application closed it in FIN-WAIT-1) times out tcp_fin_timeout after entering FIN-WAIT-2', () => {
    const lab = new Lab({ finTimeoutMs: 30_000 }).run(`${HANDSHAKE}
      wait 100
      c>s FA`);
    lab.tracker.orphaned(1, 'client', 100);
    expect(lab.tracker.get(1)!.clientEnd.timer).toBeUndefined();
    lab.run(`wait 50
      s>c A`);
    expect(lab.tracker.get(1)!.clientEnd.timer).toEqual({ kind: 'fin-timeout', at: 30_150 });
    lab.run('wait 29999');
    expect(lab.tracker.get(1)!.clientEnd.state).toBe('FIN-WAIT-2');
    lab.run('wait 1');
    expect(lab.changes.at(-1)).toMatchObject({ endpoint: 'client', from: 'FIN-WAIT-2', to: 'CLOSED', cause: 'timer tcp_fin_timeout (orphaned: its application closed it)', t: 30_150 });
    // A late FIN finds no socket: the kernel answers with RST.
    lab.run(`s>c FA
      c>s R`);
    expect(lab.tracker.get(1)!.serverEnd.state).toBe('CLOSED');
  });

  it('4: a half-closed FIN-WAIT-2 closed by its application later times out from that moment; the FIN first wins', () => {
    const lab = new Lab({ finTimeoutMs: 2000 }).run(`${HANDSHAKE}
      c>s FA
      s>c A
      wait 5000`);
    expect(lab.tracker.get(1)!.clientEnd).toMatchObject({ state: 'FIN-WAIT-2', timer: undefined });
    // tcp_close() in FIN-WAIT-2 at 5 s: tcp_time_wait(sk, TCP_FIN_WAIT2, tmo).
    lab.tracker.orphaned(1, 'client', 5000);
    lab.tracker.orphaned(1, 'client', 6000); // only the first report counts
    expect(lab.tracker.get(1)!.clientEnd.timer).toEqual({ kind: 'fin-timeout', at: 7000 });
    lab.run('wait 2000');
    expect(lab.changes.at(-1)).toMatchObject({ endpoint: 'client', to: 'CLOSED', t: 7000 });

    const early = new Lab({ finTimeoutMs: 2000 }).run(`${HANDSHAKE}
      c>s FA
      s>c A`);
    early.tracker.orphaned(1, 'client', 0);
    early.run(`wait 1000
      s>c FA
      c>s A
      wait 1500`);
    expect(early.tracker.get(1)!.clientEnd).toMatchObject({ state: 'TIME-WAIT', timer: { kind: '2MSL' } });
  });

  it('5: the FINs cross on the wire, each delivered before the other end sees its own acked', () => {
    const lab = new Lab().run(`${HANDSHAKE}
      c>s FA hold
      s>c FA hold
      release c>s
      release s>c`);
    expect(lab.tracker.get(1)!.clientEnd.state).toBe('CLOSING');
    expect(lab.tracker.get(1)!.serverEnd.state).toBe('CLOSING');
  });

  it('6: half-close: the active closer keeps counting received bytes', () => {
    const lab = new Lab().run(`${HANDSHAKE}
      c>s FA
      s>c A
      s>c PA len=100
      s>c PA len=100`);
    const c = lab.tracker.get(1)!.clientEnd;
    expect(c.state).toBe('FIN-WAIT-2');
    expect(c.rcvNxt).toBe(5000 + 201);
  });
});

describe('no listener (issue 11)', () => {
  it('the server leaves LISTEN when it answers with its SYN-ACK, not when the SYN reaches it', () => {
    const lab = new Lab().run('c>s S');
    expect(lab.tracker.get(1)!.serverEnd.state).toBe('LISTEN');
    expect(lab.changes.filter((c) => c.endpoint === 'server')).toEqual([]);
    lab.run('s>c SA');
    expect(lab.changes.filter((c) => c.endpoint === 'server')).toEqual([
      { conn: 1, endpoint: 'server', from: 'LISTEN', to: 'SYN-RECV', cause: 'sent SYN+ACK seq=0 ack=1', t: 0 },
    ]);
  });

  it('a RST+ACK answering the SYN: the client is refused (ECONNREFUSED), the server never existed', () => {
    const lab = new Lab().run(`
      c>s S
      s>c RA`);
    const conn = lab.tracker.get(1)!;
    expect(conn.refused).toBe(true);
    expect(conn.serverEnd.state).toBe('LISTEN');
    expect(lab.changes).toEqual([
      { conn: 1, endpoint: 'client', from: 'CLOSED', to: 'SYN-SENT', cause: 'sent SYN seq=0', t: 0 },
      { conn: 1, endpoint: 'client', from: 'SYN-SENT', to: 'CLOSED', cause: 'delivered RST+ACK seq=5000 ack=1 (ECONNREFUSED: no listener, the RST answers its SYN)', t: 0 },
    ]);
    // The server has no ISN: its RST's seq is absolute. Nothing to reset on either side any more.
    expect(lab.tracker.rstFor(1, 'server')).toBeUndefined();
    expect(lab.tracker.rstFor(1, 'client')).toBeUndefined();
  });

  it('a RST that does not acknowledge the SYN refuses nothing (the client ignores it too)', () => {
    const lab = new Lab().run(`
      c>s S
      s>c R`);
    expect(lab.tracker.get(1)!.refused).toBe(false);
    expect(lab.tracker.get(1)!.clientEnd.state).toBe('SYN-SENT');
  });

  it('a listener that comes up for the retransmitted SYN answers it: the connection opens after all', () => {
    const lab = new Lab().run(`
      c>s S
      s>c RA drop
      wait 1000
      c>s S retx
      s>c SA
      c>s A`);
    const conn = lab.tracker.get(1)!;
    expect(conn.refused).toBe(false);
    expect(lab.states('server', 1, 'LISTEN')).toEqual(['LISTEN', 'SYN-RECV', 'ESTAB']);
    expect(lab.states('client', 1, 'CLOSED')).toEqual(['CLOSED', 'SYN-SENT', 'ESTAB']);
  });
});

describe('7 forged RST (Linux acceptance)', () => {
  const established = () =>
    new Lab().run(`${HANDSHAKE}
      c>s PA len=10
      s>c A
      s>c PA len=30
      c>s A`);
  const RA = TcpFlag.RST | TcpFlag.ACK;

  it('rstFor gives seq = rcv_nxt and ack = snd_nxt of the receiver', () => {
    const lab = established();
    expect(lab.tracker.rstFor(1, 'server')).toEqual({ seq: 1000 + 11, ack: 5000 + 31 });
    expect(lab.tracker.rstFor(1, 'client')).toEqual({ seq: 5000 + 31, ack: 1000 + 11 });
  });

  it('out of window is ignored, in window draws a challenge ACK, exact closes', () => {
    const lab = established();
    const exact = lab.tracker.rstFor(1, 'server')!;
    const out = lab.forge('server', RA, exact.seq + 1_000_000, exact.ack);
    expect(out.rst?.verdict).toBe('ignored');
    expect(out.changes).toEqual([]);
    const before = lab.forge('server', RA, exact.seq - 1, exact.ack);
    expect(before.rst?.verdict).toBe('ignored');
    const inWin = lab.forge('server', RA, exact.seq + 1, exact.ack);
    expect(inWin.rst?.verdict).toBe('challenge-ack');
    expect(inWin.changes).toEqual([]);
    expect(lab.tracker.get(1)!.serverEnd.state).toBe('ESTAB');
    const hit = lab.forge('server', RA, exact.seq, exact.ack);
    expect(hit.rst?.verdict).toBe('accepted');
    expect(hit.changes).toEqual([
      { conn: 1, endpoint: 'server', from: 'ESTAB', to: 'CLOSED', cause: 'delivered RST+ACK seq=11 ack=31 (seq == rcv_nxt)', t: 0 },
    ]);
    // Scenario 7 continued: the client writes, the server (no socket) answers RST, the client is reset.
    lab.run(`
      c>s PA len=5
      s>c R`);
    expect(lab.states('client', 1, 'CLOSED')).toEqual(['CLOSED', 'SYN-SENT', 'ESTAB', 'CLOSED']);
    expect(lab.states('server', 1, 'LISTEN')).toEqual(['LISTEN', 'SYN-RECV', 'ESTAB', 'CLOSED']);
    expect(lab.rolesOnly().slice(-2)).toEqual(['data', 'rst']);
  });

  it('judgeRst predicts without changing anything', () => {
    const lab = established();
    const { seq } = lab.tracker.rstFor(1, 'client')!;
    expect(lab.tracker.judgeRst(1, 'client', seq)?.verdict).toBe('accepted');
    expect(lab.tracker.judgeRst(1, 'client', seq + 100)?.verdict).toBe('challenge-ack');
    expect(lab.tracker.get(1)!.clientEnd.state).toBe('ESTAB');
  });

  it('CLOSE-WAIT also accepts rcv_nxt-1 (the FIN consumed); ESTAB does not', () => {
    const lab = established();
    const estab = lab.tracker.rstFor(1, 'server')!;
    expect(lab.tracker.judgeRst(1, 'server', estab.seq - 1)?.verdict).toBe('ignored');
    lab.run('c>s FA');
    const cw = lab.tracker.rstFor(1, 'server')!;
    expect(cw.seq).toBe(estab.seq + 1);
    const r = lab.forge('server', TcpFlag.RST, cw.seq - 1, 0);
    expect(r.rst?.verdict).toBe('accepted');
    expect(lab.tracker.get(1)!.serverEnd.state).toBe('CLOSED');
  });

  it('TIME-WAIT: only seq == rcv_nxt removes it (tcp_rfc1337=0); with rfc1337 it stays', () => {
    const close = `${HANDSHAKE}
      c>s FA
      s>c FA
      c>s A`;
    for (const rfc1337 of [false, true]) {
      const lab = new Lab({ rfc1337 }).run(close);
      const { seq } = lab.tracker.rstFor(1, 'client')!;
      expect(lab.forge('client', TcpFlag.RST, seq + 1, 0).rst?.verdict).toBe('ignored');
      const r = lab.forge('client', TcpFlag.RST, seq, 0);
      expect(r.rst?.verdict).toBe(rfc1337 ? 'ignored' : 'accepted');
      expect(lab.tracker.get(1)!.clientEnd.state).toBe(rfc1337 ? 'TIME-WAIT' : 'CLOSED');
    }
  });

  it("tcp_rfc1337 is each end's own: set for the server only, the client's TIME-WAIT still ends on the RST", () => {
    const close = `${HANDSHAKE}
      c>s FA
      s>c FA
      c>s A`;
    const lab = new Lab({ rfc1337: { client: false, server: true } }).run(close);
    const { seq } = lab.tracker.rstFor(1, 'client')!;
    expect(lab.forge('client', TcpFlag.RST, seq, 0).rst?.verdict).toBe('accepted');
    expect(lab.tracker.get(1)!.clientEnd.state).toBe('CLOSED');
  });

  it('SYN-SENT: accepted only with an ACK of its SYN', () => {
    const lab = new Lab().run('c>s S drop');
    const { ack } = lab.tracker.rstFor(1, 'client')!;
    expect(lab.forge('client', TcpFlag.RST, 0, ack).rst?.verdict).toBe('ignored');
    expect(lab.forge('client', TcpFlag.RST | TcpFlag.ACK, 0, ack + 1).rst?.verdict).toBe('ignored');
    expect(lab.forge('client', TcpFlag.RST | TcpFlag.ACK, 0, ack).rst?.verdict).toBe('accepted');
    expect(lab.tracker.get(1)!.clientEnd.state).toBe('CLOSED');
  });

  it('both ends reset at once: no TIME-WAIT anywhere, record gone after linger', () => {
    const lab = established();
    for (const to of ['client', 'server'] as const) {
      const { seq, ack } = lab.tracker.rstFor(1, to)!;
      expect(lab.forge(to, RA, seq, ack).rst?.verdict).toBe('accepted');
    }
    expect(lab.tracker.rstFor(1, 'client')).toBeUndefined();
    lab.run('wait 10000');
    expect(lab.tracker.size).toBe(0);
  });
});

describe('10 a new SYN on a 4-tuple in TIME-WAIT', () => {
  it('client reuses its own TIME-WAIT: the old record ends, a new id starts', () => {
    const lab = new Lab().run(`${HANDSHAKE}
      c>s FA
      s>c FA
      c>s A
      wait 1000`);
    expect(lab.tracker.get(1)!.clientEnd.state).toBe('TIME-WAIT');
    lab.reconnect(900_000, 77_000);
    lab.run(HANDSHAKE);
    expect(lab.conn).toBe(2);
    expect(lab.states('client', 1, 'CLOSED')).toEqual([...OPEN, 'FIN-WAIT-1', 'TIME-WAIT', 'CLOSED']);
    expect(lab.changes.find((c) => c.conn === 1 && c.to === 'CLOSED' && c.endpoint === 'client')!.cause).toMatch(/TIME-WAIT reused by conn 2/);
    expect(lab.states('client', 2, 'CLOSED')).toEqual(OPEN);
    expect(lab.states('server', 2, 'LISTEN')).toEqual(ACCEPT);
    expect(lab.roles.slice(-3)).toEqual(['c>s syn', 's>c syn-ack', 'c>s handshake-ack']);
    lab.run('wait 10000');
    expect([...lab.tracker.connections()].map((c) => c.id)).toEqual([2]);
  });

  it('server in TIME-WAIT: the new SYN delivered to it ends it (TCP_TW_SYN); an old duplicate FIN changes nothing', () => {
    const lab = new Lab().run(`${HANDSHAKE}
      s>c FA
      c>s FA
      s>c A`);
    expect(lab.tracker.get(1)!.serverEnd.state).toBe('TIME-WAIT');
    lab.reconnect(900_000, 77_000);
    lab.run('c>s S hold');
    // Sent, not yet delivered: the old TIME-WAIT still holds.
    expect(lab.tracker.get(1)!.serverEnd.state).toBe('TIME-WAIT');
    expect(lab.tracker.get(1)!.superseded).toBe(true);
    expect(lab.conn).toBe(2);
    lab.run(`release
      s>c SA
      c>s A`);
    expect(lab.changes.find((c) => c.conn === 1 && c.endpoint === 'server' && c.to === 'CLOSED')!.cause).toBe('delivered SYN seq=0 of new connection 2 on its 4-tuple');
    expect(lab.states('server', 1, 'LISTEN')).toEqual([...ACCEPT, 'FIN-WAIT-1', 'TIME-WAIT', 'CLOSED']);
    expect(lab.states('server', 2, 'LISTEN')).toEqual(ACCEPT);
    // Replay the old connection's FIN (seq 1000+1) into the new one: outside its window.
    const r = lab.tracker.deliver(
      { family: 4, srcAddr: lab.c.addr, srcPort: lab.c.port, dstAddr: lab.s.addr, dstPort: lab.s.port, seq: 1001, ack: 5002, flags: TcpFlag.FIN | TcpFlag.ACK, window: 100, payloadLength: 0 },
      lab.now,
    );
    expect(r.conn?.id).toBe(2);
    expect(r.changes).toEqual([]);
    expect(lab.tracker.get(2)!.serverEnd.state).toBe('ESTAB');
    expect(lab.tracker.size).toBe(1); // the superseded record is gone
  });
});

describe('wrap-around and families', () => {
  it('ISNs just below 2^32: a full close across the wrap', () => {
    const lab = new Lab({ clientIsn: 0xfffffff0, serverIsn: 0xfffffffe }).run(`${HANDSHAKE}
      c>s PA len=100
      s>c A
      s>c PA len=50
      c>s A
      c>s FA
      s>c A
      s>c FA
      c>s A`);
    const s = lab.tracker.get(1)!.serverEnd;
    expect(s.rcvNxt).toBe((0xfffffff0 + 1 + 100 + 1) >>> 0);
    expect(s.finSeq).toBe((0xfffffffe + 1 + 50) >>> 0);
    lab.run('wait 60000');
    expect(lab.states('client', 1, 'CLOSED')).toEqual([...OPEN, 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT', 'CLOSED']);
    expect(lab.states('server', 1, 'LISTEN')).toEqual([...ACCEPT, 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    expect(lab.rolesOnly()).toEqual([...HS_ROLES, 'data', 'ack', 'data', 'ack', 'fin', 'ack-of-fin', 'fin-ack', 'last-ack']);
    expect(lab.changes.find((c) => c.to === 'FIN-WAIT-1')!.cause).toBe('sent FIN+ACK seq=101 ack=51');
  });

  it('RST acceptance across the wrap', () => {
    const lab = new Lab({ clientIsn: 0xffffffff, serverIsn: 0xfffffff0 }).run(`${HANDSHAKE}
      c>s PA len=10`);
    const { seq } = lab.tracker.rstFor(1, 'server')!;
    expect(seq).toBe(10);
    expect(lab.tracker.judgeRst(1, 'server', 0xffffffff)?.verdict).toBe('ignored');
    expect(lab.tracker.judgeRst(1, 'server', 11)?.verdict).toBe('challenge-ack');
    expect(lab.tracker.judgeRst(1, 'server', 10)?.verdict).toBe('accepted');
  });

  it('IPv6: scenario 1 and lookup by the 6-tuple', () => {
    const lab = new Lab({ family: 6 }).run(`${HANDSHAKE}
      c>s FA
      s>c A
      s>c FA
      c>s A`);
    const conn = lab.tracker.get(1)!;
    expect(conn.family).toBe(6);
    expect(conn.client).toEqual({ addr: '2001:2::1', port: 43210 });
    expect(conn.server).toEqual({ addr: '2001:2::2', port: 7000 });
    expect(lab.states('client', 1, 'CLOSED')).toEqual([...OPEN, 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
    expect(lab.states('server', 1, 'LISTEN')).toEqual([...ACCEPT, 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    // The same addresses and ports under IPv4 are another connection.
    const v4 = { family: 4 as const, srcAddr: '2001:2::1', srcPort: 43210, dstAddr: '2001:2::2', dstPort: 7000, seq: 1, ack: 0, flags: TcpFlag.SYN, window: 1, payloadLength: 0 };
    expect(lab.tracker.lookup(v4)).toBeUndefined();
    expect(lab.tracker.lookup({ ...v4, family: 6 })?.id).toBe(1);
  });
});

describe('picked up mid-stream', () => {
  it('both ESTAB, no invented history, then a normal close', () => {
    const lab = new Lab({ clientIsn: 123456, serverIsn: 654321 });
    // Pretend a long history: both sides are 1000 bytes in.
    lab.c.nxt = (lab.c.isn + 1001) as typeof lab.c.nxt;
    lab.s.nxt = (lab.s.isn + 1001) as typeof lab.s.nxt;
    lab.c.rcv = lab.s.nxt;
    lab.s.rcv = lab.c.nxt;
    lab.run(`
      c>s PA len=10
      s>c A
      c>s FA
      s>c FA
      c>s A`);
    const conn = lab.tracker.get(1)!;
    expect(conn.pickedUp).toBe(true);
    expect(conn.server.port).toBe(7000);
    expect(lab.states('client', 1)).toEqual(['ESTAB', 'FIN-WAIT-1', 'TIME-WAIT']);
    expect(lab.states('server', 1)).toEqual(['ESTAB', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    expect(lab.rolesOnly()).toEqual(['data', 'ack', 'fin', 'fin-ack', 'last-ack']);
  });
});
