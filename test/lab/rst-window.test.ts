// Forged RSTs outside the receiver's window, on a real kernel (RFC 5961 §3.2 as
// tcp_validate_incoming() does it): one right of the window (seqOffset
// 1000000, far beyond the server's 64 KiB) and one just left of it
// (seqOffset 4294967295, which is −1 mod 2^32). Both are dropped without a
// word — no challenge ACK (TcpExt TCPChallengeACK stays 0), no segment in
// answer, the server still ESTAB in `ss`, the kernel probe and the
// inference — and the exact RST afterwards closes it, so only the offset
// made the difference. (rst-challenge.test.ts: an in-window offset draws a
// challenge ACK.)

import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { labDown, startCli, waitForEvents, type LabEvent } from '../helpers/run-lab.js';
import { TMP, seq, show, writeProfile } from '../helpers/profile-lab.js';

const root = requireRoot();

const PROFILE = `# A RST right of the window, one left of it, then the exact one.
name: rst-window
description: RSTs outside the server's window (dropped), then one with seq = rcv_nxt
lab:
  server: ['--on-eof', 'close']
  client: ['--send', '100', '--then', 'wait:1200']
rules:
  # The server is ESTAB once the handshake ACK is delivered (it passes first).
  - id: right-of-window
    match: {from: client, role: handshake-ack}
    action: {rst: {to: server, seqOffset: 1000000}}
    times: 1
  # The server's ACK of the 100 bytes: rcv_wup = rcv_nxt now, so rcv_nxt - 1 is left of the window.
  - id: left-of-window
    match: {from: server, role: ack}
    action: {rst: {to: server, seqOffset: 4294967295}}
    times: 1
  - id: exact
    match: {from: client, flags: 'FIN,!RST'}
    action: {rst: {to: server, instead: true}}
    times: 1
expect:
  server:
    states: [ESTAB, CLOSED]
    not: [CLOSE-WAIT, LAST-ACK]
`;

/** One TcpExt counter of a namespace (the lab's namespace is new: it started at 0). */
function tcpExt(ns: string, name: string): number {
  const text = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netstat'], { encoding: 'utf8' });
  const [names, values] = text.split('\n').filter((l) => l.startsWith('TcpExt:'));
  return Number(values!.split(/\s+/)[names!.split(/\s+/).indexOf(name)]);
}

const rsts = (evs: readonly LabEvent[]): LabEvent[] => evs.filter((e) => e.type === 'segment' && e.verdict === 'forged');

describe.skipIf(root.skip)('RSTs outside the window on a real kernel', () => {
  let id = '';
  afterEach(() => labDown(id));

  it('right of the window and left of it (seqOffset mod 2^32): dropped silently, the server stays ESTAB; the exact one closes it', async () => {
    id = uniqueLabId('rw');
    const json = `${TMP}/${id}.jsonl`;
    const cli = startCli(['lab', '--id', id, '--no-ui', '--segments', '--profile', writeProfile('rst-window.yaml', PROFILE), '--kernel-probe', 'trace', '--json', json], 30_000);
    try {
      const early = await waitForEvents(json, (evs) => rsts(evs).length >= 2, 15_000);
      const [right, left] = rsts(early);
      expect([right!.rule, left!.rule]).toEqual([1, 2]);
      // Their absolute numbers, in the action events: the server's rcv_nxt + 1000000, and rcv_nxt − 1.
      const acts = early.filter((e) => e.type === 'action' && e.action === 'rst').map((e) => Number(/seq=(\d+)/.exec(String(e.detail))![1]));
      const clientIsn = (acts[1]! + 1 - 101) >>> 0;
      expect(acts[0]).toBe((clientIsn + 1 + 1_000_000) >>> 0);
      // Each RST is judged when it arrives; the client waits 1200 ms before its FIN, so the connection is idle now.
      await new Promise((r) => setTimeout(r, 150));
      const during = await waitForEvents(json, () => true);
      const ss = execFileSync('ip', ['netns', 'exec', `${id}-s`, 'ss', '-tanH', 'sport', '= :8080'], { encoding: 'utf8' });
      const challenges = tcpExt(`${id}-s`, 'TCPChallengeACK');
      // After the first RST the server sent only what the traffic asked for: the ACK of the data (rule 2's
      // trigger, which carries its rule); nothing answered either RST.
      // By the stream's order, not by times: the SYN-ACK before the handshake ACK may share its millisecond.
      const fromServerAfter = (ev: LabEvent) => during.slice(during.indexOf(ev) + 1).filter((e) => e.type === 'segment' && e.from === 'server');
      const afterRight = fromServerAfter(during.find((e) => e.type === 'segment' && e.verdict === 'forged' && e.rule === 1)!);
      console.log(`after the out-of-window RSTs: server sent ${JSON.stringify(afterRight)}; ss: ${ss.trim()}; TCPChallengeACK=${challenges}`);
      expect(challenges).toBe(0);
      expect(afterRight.map((e) => `${e.flags} ${e.role} rule ${e.rule}`)).toEqual(['A ack rule 2']);
      expect(ss).toMatch(/^ESTAB\s+\d+\s+\d+\s+198\.18\.0\.2:8080\s+198\.18\.0\.1:\d+/m);
      for (const src of ['kernel', 'inferred'] as const) expect(seq(during, 'server', src).at(-1)).toBe('ESTAB');

      const run = await cli.done;
      const evs = await waitForEvents(json, (e) => e.some((x) => x.type === 'end'), 2000);
      console.log(`rst-window: exit ${run.code}\n  server kernel   ${show(evs, 'server', 'kernel')}\n  server inferred ${show(evs, 'server', 'inferred')}\n${run.stderr}`);
      expect(run.code).toBe(0);
      const exact = rsts(evs)[2]!;
      expect(exact.rule).toBe(3);
      // The exact one resets the server: CLOSED right after it, in both views, and the application hears it.
      for (const src of ['kernel', 'inferred'] as const) expect(seq(evs, 'server', src).slice(-2)).toEqual(['ESTAB', 'CLOSED']);
      const closed = evs.find((e) => e.type === 'state' && e.endpoint === 'server' && e.source === 'kernel' && e.to === 'CLOSED')!;
      expect(closed.t).toBeGreaterThanOrEqual(exact.t - 0.002);
      expect(evs.some((e) => e.type === 'app' && e.endpoint === 'server' && e.event === 'ECONNRESET')).toBe(true);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.done;
    }
  });
});
