// Proof that the forged RSTs' numbers are real (RFC 5961 §3.2 on Linux): a
// RST whose seq is rcv_nxt + 1 — inside the window, but not exact — draws a
// challenge ACK and leaves the server ESTAB (kernel probe, `ss`, the
// namespace's TCPChallengeACK counter); a RST with seq == rcv_nxt, 1.2 s later
// (past Linux's 500 ms per-socket limit on challenge ACKs), closes it.

import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { labDown, startCli, waitForEvents, type LabEvent } from '../helpers/run-lab.js';
import { TMP, dwells, seq, show, writeProfile } from '../helpers/profile-lab.js';

const root = requireRoot();

const PROFILE = `# Off-by-one RST first, exact RST later.
name: rst-challenge
description: a RST with seq = rcv_nxt + 1, then one with seq = rcv_nxt
lab:
  server: ['--on-eof', 'close']
  client: ['--send', '100', '--then', 'wait:1200']
rules:
  # The server's ACK of the client's data: after it the connection is idle,
  # so any later segment from the server is an answer to the forged RST.
  - id: off-by-one
    match: {from: server, role: ack}
    action: {rst: {to: server, seqOffset: 1}}
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

/** TcpExt ChallengeACK of a namespace (/proc/net/netstat is per network namespace). */
function challengeAcks(ns: string): number {
  const text = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netstat'], { encoding: 'utf8' });
  const [names, values] = text.split('\n').filter((l) => l.startsWith('TcpExt:'));
  const i = names!.split(/\s+/).indexOf('TCPChallengeACK');
  return Number(values!.split(/\s+/)[i]);
}

function ssServer(ns: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'ss', '-tanH', 'sport', '= :8080'], { encoding: 'utf8' });
}

const rsts = (evs: readonly LabEvent[]): LabEvent[] => evs.filter((e) => e.type === 'action' && e.action === 'rst');

describe.skipIf(root.skip)('RST acceptance on a real kernel', () => {
  let id = '';
  afterEach(() => labDown(id));

  it('an in-window RST off by one draws a challenge ACK and the server stays ESTAB; the exact one closes it', async () => {
    id = uniqueLabId('p4');
    const file = writeProfile('rst-challenge.yaml', PROFILE);
    const json = `${TMP}/${id}.jsonl`;
    const cli = startCli(['lab', '--id', id, '--no-ui', '--segments', '--profile', file, '--kernel-probe', 'trace', '--json', json], 30_000);
    try {
      // The off-by-one RST has gone out: give the server a moment to answer.
      const first = await waitForEvents(json, (evs) => rsts(evs).length >= 1, 15_000);
      const forged = rsts(first)[0]!;
      expect(forged.rule).toBe(1);
      await new Promise((r) => setTimeout(r, 150));
      const during = await waitForEvents(json, () => true);
      // Server segments after the RST, other than the ACK that triggered it (rule 1, passed first).
      const challenge = during.filter((e) => e.type === 'segment' && e.from === 'server' && e.t >= forged.t && e.rule === undefined);
      const ss = ssServer(`${id}-s`);
      const counter = challengeAcks(`${id}-s`);
      console.log(`after the off-by-one RST: server answered ${JSON.stringify(challenge)}; ss: ${ss.trim()}; TCPChallengeACK=${counter}`);
      // The answer is a pure ACK of what the server has received (ack = the client's 100 bytes).
      expect(challenge.length).toBe(1);
      expect(challenge[0]!.flags).toBe('A');
      expect(challenge[0]!.ack).toBe(101);
      expect(challenge[0]!.t - forged.t).toBeLessThan(0.05);
      expect(counter).toBeGreaterThanOrEqual(1);
      expect(ss).toMatch(/^ESTAB\s+\d+\s+\d+\s+198\.18\.0\.2:8080\s+198\.18\.0\.1:\d+/m);
      expect(seq(during, 'server', 'kernel').at(-1)).toBe('ESTAB');
      expect(seq(during, 'server', 'inferred').at(-1)).toBe('ESTAB');
      // The client has not closed yet: the exact RST is still to come.
      expect(rsts(during).length).toBe(1);

      const run = await cli.done;
      const evs = await waitForEvents(json, (e) => e.some((x) => x.type === 'end'), 2000);
      console.log(`rst-challenge: exit ${run.code}\n  server kernel   ${show(evs, 'server', 'kernel')}\n  server inferred ${show(evs, 'server', 'inferred')}\n${run.stderr}`);
      expect(run.code).toBe(0);
      const exact = rsts(evs)[1]!;
      expect(exact.rule).toBe(2);
      // Past the 500 ms per-socket challenge-ACK limit, and it closes the server at once.
      expect(exact.t - forged.t).toBeGreaterThan(0.5);
      const server = dwells(evs, 'server', 'kernel');
      expect(server.map((d) => d.state).slice(-2)).toEqual(['ESTAB', 'CLOSED']);
      expect(Math.abs(server.at(-1)!.t - exact.t)).toBeLessThan(0.02);
      expect(evs.some((e) => e.type === 'app' && e.endpoint === 'server' && e.event === 'ECONNRESET')).toBe(true);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.done;
    }
  });
});
