// Tap mode's sans-io core: frames in, events and injections out, no sockets.
// A handshake and a data segment seen on the wire drive both endpoints'
// states (causes say "observed"); a profile rule forges a RST with the
// receiver's exact rcv_nxt (tcpkill's arithmetic); the forged RST, when the
// capture sees it go by, is not counted twice. Profiles that need to be
// inline are refused with a message naming each rule.

import { describe, expect, it } from 'vitest';
import { buildTcpFrame } from '../../../src/packet/build.js';
import { decodeFrame } from '../../../src/packet/frame.js';
import { TapCore } from '../../../src/tap/core.js';
import { tapProfileProblems, checkTapProfile } from '../../../src/tap/profile.js';
import { tapFilter } from '../../../src/tap/runtime.js';
import { parseProfile } from '../../../src/rules/parse.js';
import { compileProfile } from '../../../src/rules/match.js';
import type { TcpmitmEvent, StateEvent, SegmentEvent } from '../../../src/engine/events.js';
import { TcpmitmError } from '../../../src/cli/errors.js';

const C = { addr: '127.0.0.1', port: 40000, isn: 1000 };
const S = { addr: '127.0.0.1', port: 9000, isn: 5000 };

function frame(from: 'c' | 's', flags: string, seq: number, ack: number, len = 0): Buffer {
  const [a, b] = from === 'c' ? [C, S] : [S, C];
  return buildTcpFrame({ src: a.addr, dst: b.addr, srcPort: a.port, dstPort: b.port, seq, ack, flags, window: 512, payload: new Uint8Array(len).fill(0x61) });
}

function harness(profileYaml?: string) {
  const events: TcpmitmEvent[] = [];
  const injected: { frame: Buffer; ipOffset: number; family: 4 | 6; dst: string }[] = [];
  const wakes: (number | undefined)[] = [];
  const decider = profileYaml ? compileProfile(parseProfile(profileYaml, 'test.yaml')) : undefined;
  const core = new TapCore({
    start: 0,
    ...(decider ? { decider } : {}),
    out: { emit: (e) => events.push(e), inject: (f, o, fam, dst) => injected.push({ frame: f, ipOffset: o, family: fam, dst }), wakeAt: (t) => wakes.push(t) },
    timeWaitMs: 60_000,
  });
  return { core, events, injected, wakes };
}

const states = (evs: TcpmitmEvent[], who: string) => evs.filter((e): e is StateEvent => e.type === 'state' && e.endpoint === who).map((e) => e.to);

const RST_ON_DATA = `
name: t7-rst-on-data
description: RST to the server when the client's data goes by
rules:
  - id: rst-on-data
    match: { from: client, role: data }
    action: { rst: { to: server } }
    times: 1
`;

describe('TapCore', () => {
  it('a segment seen on the wire is both sent and delivered: both ends move, causes say observed', () => {
    const h = harness();
    h.core.onFrame(frame('c', 'S', C.isn, 0), 1);
    h.core.onFrame(frame('s', 'SA', S.isn, C.isn + 1), 2);
    h.core.onFrame(frame('c', 'A', C.isn + 1, S.isn + 1), 3);
    h.core.onFrame(frame('c', 'FA', C.isn + 1, S.isn + 1), 4);
    h.core.onFrame(frame('s', 'A', S.isn + 1, C.isn + 2), 5);
    h.core.onFrame(frame('s', 'FA', S.isn + 1, C.isn + 2), 6);
    h.core.onFrame(frame('c', 'A', C.isn + 2, S.isn + 2), 7);
    expect(states(h.events, 'client')).toEqual(['SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
    expect(states(h.events, 'server')).toEqual(['SYN-RECV', 'ESTAB', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    const st = h.events.filter((e): e is StateEvent => e.type === 'state');
    expect(st.every((e) => e.source === 'inferred' && e.cause!.startsWith('observed '))).toBe(true);
    expect(st[0]!.cause).toBe('observed sent SYN seq=0');
    expect(h.injected).toEqual([]);
    expect(h.core.stats).toMatchObject({ frames: 7, forged: 0, malformed: 0 });
    // TIME-WAIT's 2MSL runs from the server's FIN going by (t=6 ms): a wake-up then, and CLOSED on the timer.
    expect(h.wakes.at(-1)).toBe(60_006);
    h.core.onTimer(60_005);
    expect(states(h.events, 'client').at(-1)).toBe('TIME-WAIT');
    h.core.onTimer(60_006);
    expect(states(h.events, 'client').at(-1)).toBe('CLOSED');
  });

  it('the server enters SYN-RECV when its SYN-ACK goes by; a RST+ACK to the SYN instead means no listener: no server state at all', () => {
    const h = harness();
    h.core.onFrame(frame('c', 'S', C.isn, 0), 1);
    expect(states(h.events, 'server')).toEqual([]);
    h.core.onFrame(frame('s', 'SA', S.isn, C.isn + 1), 2);
    expect(h.events.filter((e): e is StateEvent => e.type === 'state' && e.endpoint === 'server')).toMatchObject([
      { from: 'LISTEN', to: 'SYN-RECV', cause: 'observed sent SYN+ACK seq=0 ack=1' },
    ]);

    const refused = harness();
    // Linux's answer from no socket: seq 0, ack = the SYN's seq + 1 (tcp_v4_send_reset).
    refused.core.onFrame(frame('c', 'S', C.isn, 0), 1);
    refused.core.onFrame(frame('s', 'RA', 0, C.isn + 1), 2);
    expect(states(refused.events, 'server')).toEqual([]);
    const client = refused.events.filter((e): e is StateEvent => e.type === 'state' && e.endpoint === 'client');
    expect(client.map((e) => e.to)).toEqual(['SYN-SENT', 'CLOSED']);
    expect(client[1]!.cause).toBe('observed delivered RST+ACK seq=0 ack=1 (ECONNREFUSED: no listener, the RST answers its SYN)');
    expect([...refused.core.connections()][0]).toMatchObject({ refused: true, serverEnd: { state: 'LISTEN' } });
  });

  it('forges the RST a rule asks for with seq = the receiver rcv_nxt and ack = its snd_nxt, once', () => {
    const h = harness(RST_ON_DATA);
    h.core.onFrame(frame('c', 'S', C.isn, 0), 1);
    h.core.onFrame(frame('s', 'SA', S.isn, C.isn + 1), 2);
    h.core.onFrame(frame('c', 'A', C.isn + 1, S.isn + 1), 3);
    h.core.onFrame(frame('c', 'PA', C.isn + 1, S.isn + 1, 100), 4);
    expect(h.injected).toHaveLength(1);
    const inj = h.injected[0]!;
    expect(inj).toMatchObject({ ipOffset: 14, family: 4, dst: S.addr });
    const d = decodeFrame(inj.frame);
    if (!d.ok || d.value.kind !== 'tcp') throw new Error('forged frame does not decode');
    const f = d.value;
    expect([f.srcAddr, f.srcPort, f.dstAddr, f.dstPort]).toEqual([C.addr, C.port, S.addr, S.port]);
    expect(f.seq).toBe(C.isn + 1 + 100); // the server has received the 100 bytes that just went by
    expect(f.ack).toBe(S.isn + 1);
    expect(f.flags).toBe(0x14); // RST|ACK
    expect(f.tcpChecksumOk && f.ipChecksumOk).toBe(true);
    const segs = h.events.filter((e): e is SegmentEvent => e.type === 'segment');
    expect(segs.map((s) => `${s.role}:${s.verdict}`)).toEqual(['syn:pass', 'syn-ack:pass', 'handshake-ack:pass', 'data:pass', 'rst:forged']);
    expect(segs.at(-1)).toMatchObject({ rule: 1, detail: 'RST to server', from: 'client', seq: 101 });
    expect(h.events.find((e) => e.type === 'action')).toMatchObject({ action: 'rst', rule: 1, detail: "forged RST to server seq=101 (rule 1 on data from client)" });
    expect(states(h.events, 'server').at(-1)).toBe('CLOSED');
    expect(h.core.stats.forged).toBe(1);

    // The capture sees our RST go by: nothing new happens.
    const before = h.events.length;
    h.core.onFrame(inj.frame, 5);
    expect(h.events.length).toBe(before);
    // More data from the client: times: 1, so no second RST; the server's kernel answers with its own RST.
    h.core.onFrame(frame('c', 'PA', C.isn + 101, S.isn + 1, 10), 6);
    h.core.onFrame(frame('s', 'R', S.isn + 1, 0), 7);
    expect(h.injected).toHaveLength(1);
    expect(states(h.events, 'client').at(-1)).toBe('CLOSED');
  });

  it('a RST by hand goes to the connection named; commands that need to be inline are refused with a warning', () => {
    const h = harness();
    h.core.onFrame(frame('c', 'S', C.isn, 0), 1);
    h.core.onFrame(frame('s', 'SA', S.isn, C.isn + 1), 2);
    h.core.onFrame(frame('c', 'A', C.isn + 1, S.isn + 1), 3);
    h.core.onControl({ kind: 'rst', conn: 1, to: 'both' }, 4);
    expect(h.injected.map((i) => i.dst)).toEqual([C.addr, S.addr]);
    const seqs = h.injected.map((i) => {
      const d = decodeFrame(i.frame);
      return d.ok && d.value.kind === 'tcp' ? [d.value.dstPort, d.value.seq] : [];
    });
    expect(seqs).toEqual([[C.port, S.isn + 1], [S.port, C.isn + 1]]);
    h.core.onControl({ kind: 'drop-next', conn: 1, dir: 'c2s' }, 5);
    expect(h.events.at(-1)).toMatchObject({ type: 'warning', message: expect.stringContaining('tap mode is not inline: it cannot drop next') });
    h.core.onControl({ kind: 'rst', conn: 9, to: 'server' }, 6);
    expect(h.events.at(-1)).toMatchObject({ type: 'warning', message: 'no connection #9 to reset' });
  });

  it('with segmentOptions (--tcp-options) its segment events carry the TCP options as the engine\'s do, SACK edges relative', () => {
    const events: TcpmitmEvent[] = [];
    const core = new TapCore({ start: 0, segmentOptions: true, out: { emit: (e) => events.push(e), inject: () => {}, wakeAt: () => {} } });
    const seen = (from: 'c' | 's', flags: string, seq: number, ack: number, options: Parameters<typeof buildTcpFrame>[0]['options']) => {
      const [a, b] = from === 'c' ? [C, S] : [S, C];
      core.onFrame(buildTcpFrame({ src: a.addr, dst: b.addr, srcPort: a.port, dstPort: b.port, seq, ack, flags, window: 512, options }), 1);
    };
    seen('c', 'S', C.isn, 0, [{ kind: 'mss', value: 65495 }, { kind: 'nop' }, { kind: 'nop' }, { kind: 'sack-permitted' }, { kind: 'nop' }, { kind: 'window-scale', shift: 7 }]);
    seen('s', 'SA', S.isn, C.isn + 1, [{ kind: 'mss', value: 65495 }]);
    seen('s', 'A', S.isn + 1, C.isn + 1, [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[C.isn + 101, C.isn + 201]] }]);
    seen('c', 'A', C.isn + 1, S.isn + 1, []);
    const segs = events.filter((e): e is SegmentEvent => e.type === 'segment');
    expect(segs.map((e) => e.options)).toEqual(['mss 65495,nop,nop,sackOK,nop,wscale 7', 'mss 65495', 'nop,nop,sack 1 {101:201}', undefined]);
  });

  it('a RST by hand to an end that is CLOSED is refused as the engine refuses it', () => {
    const h = harness();
    h.core.onFrame(frame('c', 'S', C.isn, 0), 1);
    h.core.onFrame(frame('s', 'RA', 0, C.isn + 1), 2);
    h.core.onControl({ kind: 'rst', conn: 1, to: 'client' }, 3);
    expect(h.injected).toHaveLength(0);
    expect(h.events.at(-1)).toMatchObject({ type: 'warning', message: 'cannot forge a RST to the client of #1: it is CLOSED, there is no connection left to reset' });
  });

  it('counts non-TCP and malformed frames without tracking them', () => {
    const h = harness();
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    h.core.onFrame(arp, 1);
    const bad = frame('c', 'S', C.isn, 0);
    bad[14 + 0] = 0x41; // IPv4 with IHL 1 (< 5)
    h.core.onFrame(bad, 2);
    expect(h.core.stats).toMatchObject({ frames: 2, nonTcp: 1, malformed: 1 });
    expect(h.events).toEqual([]);
  });
});

describe('tap profiles', () => {
  it('accepts pass and rst rules', () => {
    expect(tapProfileProblems(parseProfile(RST_ON_DATA, 'x.yaml'))).toEqual([]);
  });
  it('refuses every rule that needs to be inline, naming it, with exit 2', () => {
    const p = parseProfile(
      `
name: t7-inline
description: things tap cannot do
rules:
  - { id: a, action: drop }
  - { id: b, action: { delay: { ms: 100 } } }
  - { id: c, action: { coalesce: { window_ms: 100 } } }
  - { id: d, action: hold }
  - { id: e, action: duplicate }
  - { id: f, action: blackhole }
  - { id: g, action: { await: { until: peer-fin, timeout_ms: 100 } } }
  - { id: h, action: { rst: { to: server, instead: true } } }
  - { id: i, action: { rst: { to: client } } }
`,
      'inline.yaml',
    );
    expect(tapProfileProblems(p)).toEqual([
      'rule 1 (a) asks for drop',
      'rule 2 (b) asks for delay',
      'rule 3 (c) asks for coalesce',
      'rule 4 (d) asks for hold',
      'rule 5 (e) asks for duplicate',
      'rule 6 (f) asks for blackhole',
      'rule 7 (g) asks for await',
      'rule 8 (h) asks for rst with instead: true (dropping the trigger)',
    ]);
    let err: unknown;
    try {
      checkTapProfile(p, 'inline.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TcpmitmError);
    expect((err as TcpmitmError).exitCode).toBe(2);
    expect((err as TcpmitmError).message).toContain('not inline');
  });
  it('captures tcp, narrowed to one port when asked', () => {
    expect(tapFilter()).toBe('tcp');
    expect(tapFilter(8080)).toBe('tcp port 8080');
  });
});
