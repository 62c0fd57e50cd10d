// The replay action on real namespaces, beside the kernel: the copy tcpmitm
// re-sends is the segment as it was (sequence numbers, TCP timestamp), and the
// receiving kernel treats it as the old duplicate it is. Into its own
// connection, 500 ms later: the server's kernel answers with an immediate ACK
// carrying a D-SACK of it (TcpExt TCPDSACKOldSent) and its application reads
// the 100 bytes once. Into the next connection on the 4-tuple (a reconnect
// from the same port through the server's TIME-WAIT): PAWS rejects it first
// (TcpExt PAWSEstab), the server answers with a duplicate ACK and its
// application reads nothing of it. A replay whose next connection never
// comes is reported and counted at the end. Checks are causal (the kernel's
// answer follows the copy; counters read after it), not timed.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot, skipWithoutTracepoint, uniqueLabId } from '../helpers/lab.js';
import { loadExercise } from '../../src/exercise/load.js';
import { labDown, startCli, waitForEvents, type LabEvent } from '../helpers/run-lab.js';
import { TMP, isSubsequence, seq, show, writeProfile } from '../helpers/profile-lab.js';

const root = requireRoot();
const skipTrace = skipWithoutTracepoint();

const ids = new Set<string>();
/** Exercise 16's own programs (lab.commands), with `env` exported first (the client's port and time open). */
const programs = loadExercise('old-duplicate').exercise.lab.commands!;
const withEnv = (env: Record<string, string>, command: string): string => `export ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}\n${command}`;

/** TcpExt counters of a namespace (/proc/net/netstat is per network namespace). */
function tcpExt(ns: string): Record<string, number> {
  const text = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netstat'], { encoding: 'utf8' });
  const [names, values] = text.split('\n').filter((l) => l.startsWith('TcpExt:'));
  const n = names!.split(/\s+/);
  const v = values!.split(/\s+/);
  return Object.fromEntries(n.slice(1).map((k, i) => [k, Number(v[i + 1])]));
}

const segs = (evs: readonly LabEvent[], pred: (e: LabEvent) => boolean): LabEvent[] => evs.filter((e) => e.type === 'segment' && pred(e));
/** The copy went into #2 and the server answered it. */
const answeredOn2 = (evs: LabEvent[]): boolean => {
  const copy = segs(evs, (e) => e.verdict === 'replay')[0];
  return copy !== undefined && segs(evs, (e) => e.conn === 2 && e.from === 'server' && e.t >= copy.t).length > 0;
};
const appData = (evs: readonly LabEvent[], endpoint: string): string[] =>
  evs.filter((e) => e.type === 'app' && e.endpoint === endpoint && e.event === 'data').map((e) => String(e.detail));

/**
 * Runs a lab with `profile`; with `ready`, waits for it (the copy sent and answered) and reads the server's
 * counters while the lab still runs.
 */
async function runAndRead(name: string, profile: string, args: readonly string[], ready?: (evs: LabEvent[]) => boolean) {
  const id = uniqueLabId('rpl');
  ids.add(id);
  const json = join(TMP, `${id}.jsonl`);
  const cli = startCli(['lab', '--id', id, '--no-ui', '--until-closed', '--segments', '--profile', writeProfile(`${name}.yaml`, profile), '--kernel-probe', 'trace', '--json', json, ...args], 40_000);
  try {
    // The lab's server namespace is new: its counters started at 0 with it.
    const after = ready === undefined ? {} : await waitForEvents(json, ready, 20_000).then(() => tcpExt(`${id}-s`));
    const run = await cli.done;
    const evs = await waitForEvents(json, (e) => e.some((x) => x.type === 'end'), 5000);
    console.log(`${name}: exit ${run.code}\n  server kernel   ${show(evs, 'server', 'kernel')}\n  server inferred ${show(evs, 'server', 'inferred')}\n${run.stderr}`);
    return { run, evs, counter: (k: string) => after[k] ?? 0 };
  } finally {
    cli.child.kill('SIGTERM');
    await cli.done;
    labDown(id);
  }
}

// One lab at a time: the tracepoint is host-wide, and labs beside each other load every probe.
describe.skipIf(root.skip || skipTrace)('replay on a real kernel', { timeout: 120_000 }, () => {
  afterAll(() => {
    for (const v of ids) labDown(v);
  });

  it('after_ms, same connection: the server kernel ACKs the old duplicate at once with a D-SACK; the application reads it once; an unused next-conn replay is counted', async () => {
    const profile = `name: replay-same
description: the client's request again 500 ms later; the server's ACK of it kept for a next connection that never comes
lab:
  server: ['--on-eof', 'close']
  client: ['--send', '100', '--then', 'wait:2500']
rules:
  - id: again
    match: {from: client, role: data}
    action: {replay: {after_ms: 500}}
    times: 1
  - id: never
    match: {from: server, role: ack}
    action: {replay: {into: next-conn}}
    times: 1
`;
    const answered = (evs: LabEvent[]): boolean => {
      const copy = segs(evs, (e) => e.verdict === 'replay')[0];
      return copy !== undefined && segs(evs, (e) => e.from === 'server' && e.t >= copy.t && e.rule === undefined).length > 0;
    };
    const { run, evs, counter } = await runAndRead('replay-same', profile, [], answered);
    expect(run.code).toBe(0);
    const original = segs(evs, (e) => e.rule === 1 && e.verdict === 'pass')[0]!;
    const copy = segs(evs, (e) => e.verdict === 'replay')[0]!;
    expect(copy).toMatchObject({ conn: 1, from: 'client', flags: original.flags, seq: original.seq, ack: original.ack, len: 100, rule: 1 });
    // Event times are whole ms: the difference in floating point may fall a hair short.
    expect(copy.t - original.t).toBeGreaterThanOrEqual(0.5 - 1e-6);
    // The kernel's answer: a pure ACK of what it has (101), right behind the copy (tcp_data_queue: a retransmit forces an immediate ACK).
    const answer = segs(evs, (e) => e.from === 'server' && e.t >= copy.t && e.rule === undefined)[0]!;
    expect(answer).toMatchObject({ flags: 'A', ack: 101, len: 0 });
    expect(counter('TCPDSACKOldSent')).toBeGreaterThanOrEqual(1);
    // Read once: the built-in server's reads add up to the 100 bytes sent.
    expect(appData(evs, 'server')).toEqual(['100 bytes']);
    // Neither view moved for it: the server stayed ESTAB until the client's FIN (the kernel's millisecond of
    // LAST-ACK may be missed by a probe reading behind on a loaded machine).
    expect(seq(evs, 'server', 'inferred').slice(-4)).toEqual(['ESTAB', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    expect(isSubsequence(['ESTAB', 'CLOSE-WAIT', 'CLOSED'], seq(evs, 'server', 'kernel'))).toBe(true);
    expect(seq(evs, 'server', 'kernel').filter((x) => x === 'ESTAB')).toHaveLength(1);
    // The unused one: reported at the end and counted.
    expect(evs.filter((e) => e.type === 'action' && e.action === 'replay').map((e) => e.detail)).toEqual([
      `replayed data from client of #1 into #1 (seq=${String(copy.detail).match(/original seq=(\d+)/)![1]} len=100)`,
      'not replayed: ack from server of #1 (no next connection on its 4-tuple came)',
    ]);
    expect(evs.filter((e) => e.type === 'stats').at(-1)).toMatchObject({ replayed: 1, replayUnused: 1 });
  });

  it('into next-conn: through the server\'s TIME-WAIT into a reconnect from the same port; PAWS rejects it, a duplicate ACK answers, nothing is read', async () => {
    const profile = `name: replay-next
description: the first connection's request, replayed into the next connection on its 4-tuple
rules:
  - id: old-duplicate
    match: {from: client, role: data, conn: 1}
    action: {replay: {into: next-conn, after_ms: 300}}
    times: 1
expect:
  server: {states: [FIN-WAIT-1, TIME-WAIT, CLOSED], within: 10s}
`;
    const args = [
      '--server', programs.server!,
      // The second connection stays open 4 s: the counters are read while it lasts. (Its source port is
      // the one the kernel picked for the first: a lab of exercises-replay.test.ts beside this one has its own.)
      '--client', withEnv({ OLD_DUPLICATE_HOLD_S: '4' }, programs.client!),
    ];
    const { run, evs, counter } = await runAndRead('replay-next', profile, args, answeredOn2);
    expect(run.code).toBe(0);
    const copy = segs(evs, (e) => e.verdict === 'replay')[0]!;
    expect(copy).toMatchObject({ conn: 2, from: 'client', flags: 'PA', len: 100, rule: 1 });
    expect(copy.detail).toMatch(/^of #1, captured \d+ ms ago, original seq=\d+$/);
    // Relative to the new connection's ISN the old seq is behind it: the ISN clock moved on (secure_tcp_seq).
    expect(Number(copy.seq)).toBeGreaterThan(2 ** 31);
    // And the server's new ISN came from its TIME-WAIT: tw_snd_nxt + 65537 (tcp_timewait_state_process), so the
    // old ack (its first ISN + 1, snd_nxt being + 2 after its FIN) is 65538 before it.
    expect(copy.ack).toBe(2 ** 32 - 65538);
    // Sent only once the server's end of #2 was ESTAB (kernel), and 300 ms after the handshake ACK.
    const estab = evs.find((e) => e.type === 'state' && e.conn === 2 && e.endpoint === 'server' && e.source === 'kernel' && e.to === 'ESTAB')!;
    expect(copy.t).toBeGreaterThan(estab.t);
    const handshakeAck = segs(evs, (e) => e.conn === 2 && e.role === 'handshake-ack')[0]!;
    expect(copy.t - handshakeAck.t).toBeGreaterThanOrEqual(0.3 - 1e-6);
    // The server's TIME-WAIT of #1 gave way to the new SYN (TCP_TW_SYN), in both views.
    for (const src of ['kernel', 'inferred'] as const) expect(seq(evs, 'server', src, 1).slice(-2)).toEqual(['TIME-WAIT', 'CLOSED']);
    // The answer: a duplicate ACK of the new connection's own data (50 bytes), and PAWS counted it.
    const answer = segs(evs, (e) => e.conn === 2 && e.from === 'server' && e.t >= copy.t)[0]!;
    expect(answer).toMatchObject({ flags: 'A', ack: 51, len: 0 });
    expect(counter('PAWSEstab')).toBe(1);
    // The application read A×100 on #1 and B×50 on #2, nothing else (and its own check says so: exit 0).
    expect(appData(evs, 'server')).toEqual(['100 bytes', '50 bytes']);
    expect(evs.find((e) => e.type === 'exit' && e.endpoint === 'server')).toMatchObject({ code: 0, by: 'self' });
    // #2's server never left ESTAB for the old duplicate: it went on to the client's FIN. (The kernel's LAST-ACK
    // lasts a millisecond: a probe reading behind, on a loaded machine, may report CLOSE-WAIT → CLOSED.)
    expect(seq(evs, 'server', 'inferred', 2)).toEqual(['SYN-RECV', 'ESTAB', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    expect(isSubsequence(['SYN-RECV', 'ESTAB', 'CLOSE-WAIT', 'CLOSED'], seq(evs, 'server', 'kernel', 2))).toBe(true);
  });

  it('into next-conn with timestamps off at the server: no PAWS; the sequence check rejects it, with the same duplicate ACK', async () => {
    const profile = `name: replay-next-ts0
description: as replay-next, the server's namespace with net.ipv4.tcp_timestamps=0
rules:
  - id: old-duplicate
    match: {from: client, role: data, conn: 1}
    action: {replay: {into: next-conn, after_ms: 300}}
    times: 1
`;
    // Timestamps off in the server's namespace (its SYN-ACK then offers none: neither connection has them).
    const args = [
      '--sysctl', 'server:net.ipv4.tcp_timestamps=0',
      '--server', programs.server!,
      '--client', withEnv({ OLD_DUPLICATE_HOLD_S: '4' }, programs.client!),
    ];
    const { run, evs, counter } = await runAndRead('replay-next-ts0', profile, args, answeredOn2);
    expect(run.code).toBe(0);
    expect(evs.find((e) => e.type === 'start')).toMatchObject({ sysctls: { server: { 'net.ipv4.tcp_timestamps': '0' } } });
    const copy = segs(evs, (e) => e.verdict === 'replay')[0]!;
    expect(copy).toMatchObject({ conn: 2, len: 100 });
    // No timestamps: the TIME-WAIT let the SYN in by its sequence number alone (the ISN clock had moved on).
    for (const src of ['kernel', 'inferred'] as const) expect(seq(evs, 'server', src, 1).slice(-2)).toEqual(['TIME-WAIT', 'CLOSED']);
    // Not PAWS this time: tcp_sequence() finds it left of the window; tcp_send_dupack() answers with a D-SACK of it.
    expect(counter('PAWSEstab')).toBe(0);
    expect(counter('DelayedACKLost')).toBe(1);
    expect(counter('TCPDSACKOldSent')).toBe(1);
    const answer = segs(evs, (e) => e.conn === 2 && e.from === 'server' && e.t >= copy.t)[0]!;
    expect(answer).toMatchObject({ flags: 'A', ack: 51, len: 0 });
    expect(appData(evs, 'server')).toEqual(['100 bytes', '50 bytes']);
  });
});
