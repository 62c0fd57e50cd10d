// A time-triggered signal on real namespaces: a rule with `at: {after: 700ms,
// since: conn}` and `action: {signal: {to: server, name: KILL}}` kills the
// server's program 700 ms after the connection's first segment, with no
// segment to cue it. Confirmed on the kernel, not only in tcpmitm's log: the
// signal is sent no earlier than 700 ms after the SYN and soon after; the
// program's exit is SIGKILL, by the rule; then the dead process's kernel
// closes its socket for it — the tracepoint's FIN-WAIT-1, the FIN on the wire,
// both after the signal — and `ss` in the server's namespace shows that
// socket in FIN-WAIT-2 held by no process while the client, still running,
// holds its end in CLOSE-WAIT. Bounded waits; the lab is removed whatever
// happens.

import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { requireRoot, skipWithoutTracepoint, uniqueLabId } from '../helpers/lab.js';
import { labDown, leftovers, readEvents, startCli, waitForEvents, type LabEvent, type RunningCli } from '../helpers/run-lab.js';
import { TMP, writeGreeter, writeProfile } from '../helpers/profile-lab.js';

const root = requireRoot();
const skipTrace = skipWithoutTracepoint();

/** Accepts one connection, greets it, then reads until EOF: it never closes by itself. */
const GREETER = writeGreeter('greeter-at.py');

// The client reads the greeting and keeps its socket 2.5 s (half-open allowed: the server's FIN leaves it in
// CLOSE-WAIT), then closes.
const KILL_AT = `name: kill-at-700ms
description: SIGKILL to the server's program 700 ms after the connection's first segment
lab:
  client: ['--send', '0', '--recv', '5', '--then', 'wait:2500']
rules:
  - id: kill-server-at
    at: {after: 700ms, since: conn}
    action: {signal: {to: server, name: KILL}}
expect:
  server: {states: [ESTAB, FIN-WAIT-1, FIN-WAIT-2], signal: KILL}
  client: {states: [ESTAB, CLOSE-WAIT, LAST-ACK?, CLOSED]}
`;

/** `ss -tanpH` in one of the lab's namespaces: state, local, peer, and the process column when a process holds the socket. */
function ssIn(ns: string): string[] {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'ss', '-tanpH'], { encoding: 'utf8', timeout: 5_000 });
  return r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().replace(/\s+/g, ' '));
}

describe.skipIf(root.skip || skipTrace)('a time-triggered signal on a real lab (tracepoint probe)', { timeout: 60_000 }, () => {
  const id = uniqueLabId('exgsig');
  let running: RunningCli | undefined;
  afterAll(() => {
    if (running !== undefined) {
      try {
        process.kill(-running.child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    labDown(id);
  });

  it("SIGKILL to the server 700 ms after the SYN: sent then, the program dies of it, and its kernel FINs for it (an orphan in FIN-WAIT-2, by ss)", async () => {
    const json = join(TMP, `${id}.jsonl`);
    const profile = writeProfile('kill-at-700ms.yaml', KILL_AT);
    running = startCli(['lab', '--id', id, '--no-ui', '--profile', profile, '--kernel-probe', 'trace', '--json', json, '--server', `exec python3 ${GREETER}`], 30_000);
    // Once the program has been reaped, while the client still waits: the sockets as the kernel has them.
    const killed = (evs: LabEvent[]): boolean => evs.some((e) => e.type === 'exit' && e.endpoint === 'server');
    let serverSockets: string[] = [];
    let clientSockets: string[] = [];
    try {
      await waitForEvents(json, killed, 15_000);
      // The kernel's FIN leaves at the close of the last fd, and the client's ACK is a round trip away.
      await waitForEvents(json, (evs) => evs.some((e) => e.type === 'state' && e.source === 'kernel' && e.endpoint === 'server' && e.to === 'FIN-WAIT-2'), 5_000);
      serverSockets = ssIn(`${id}-s`);
      clientSockets = ssIn(`${id}-c`);
    } finally {
      await running.done;
    }
    const run = await running.done;
    console.log(`kill-at-700ms: exit ${run.code} in ${(run.ms / 1000).toFixed(1)} s\n  server ss: ${serverSockets.join(' | ')}\n  client ss: ${clientSockets.join(' | ')}\n${run.stderr}`);
    expect(run.code).toBe(0);
    const evs = readEvents(json);

    // The signal: from the rule's timer, 700 ms after the connection's first segment (the SYN), not before, and
    // soon after (the timer is the engine's; a loaded machine may be late by a scheduling slice, not by seconds).
    const syn = evs.find((e) => e.type === 'segment' && e.conn === 1 && e.role === 'syn')!;
    const signal = evs.find((e) => e.type === 'action' && e.action === 'signal')!;
    expect(signal).toMatchObject({ conn: 1, rule: 1 });
    expect(String(signal.detail)).toMatch(/^sent SIGKILL to the server's program \(pid \d+, exec python3 \S+greeter-at\.py\) on rule 1 \(kill-server-at: 700 ms after the connection's first segment\)$/);
    expect(signal.t - syn.t).toBeGreaterThanOrEqual(0.7 - 0.001);
    expect(signal.t - syn.t).toBeLessThan(0.7 + 0.3);
    expect(evs.filter((e) => e.type === 'action' && e.action === 'signal')).toHaveLength(1);

    // The program: killed by that SIGKILL, the rule's (not a failure of the run), reaped right after it was sent.
    const exit = evs.find((e) => e.type === 'exit' && e.endpoint === 'server')!;
    expect(exit).toMatchObject({ signal: 'KILL', by: 'cue', rule: 1 });
    expect(exit.t).toBeGreaterThanOrEqual(signal.t);
    expect(exit.t - signal.t).toBeLessThan(0.5);

    // The kernel: ESTAB until the signal, then it closed the dead process's socket — FIN-WAIT-1 (tracepoint) and
    // the FIN on the wire after the signal, then FIN-WAIT-2 when the client ACKed it; never a RST (nothing unread).
    const kernelServer = evs.filter((e) => e.type === 'state' && e.source === 'kernel' && e.endpoint === 'server' && e.conn === 1);
    const fw1 = kernelServer.find((e) => e.to === 'FIN-WAIT-1')!;
    expect(fw1.t).toBeGreaterThanOrEqual(signal.t);
    expect(kernelServer.filter((e) => e.t < signal.t).map((e) => e.to).at(-1)).toBe('ESTAB');
    const fin = evs.find((e) => e.type === 'segment' && e.from === 'server' && String(e.flags).includes('F'))!;
    expect(fin.t).toBeGreaterThanOrEqual(signal.t);
    expect(fin.t - signal.t).toBeLessThan(0.5);
    expect(evs.indexOf(fin)).toBeGreaterThan(evs.indexOf(signal));
    expect(evs.filter((e) => e.type === 'segment' && e.from === 'server' && String(e.flags).includes('R'))).toEqual([]);
    // ss, while the client still waited: the server's socket is an orphan in FIN-WAIT-2 (no process column), the
    // client's end is in CLOSE-WAIT, held by its program.
    const orphan = serverSockets.filter((l) => l.startsWith('FIN-WAIT-2 ') && l.includes(':8080 '));
    expect(orphan, serverSockets.join('\n')).toHaveLength(1);
    expect(orphan[0]).not.toContain('users:');
    expect(serverSockets.some((l) => l.startsWith('LISTEN ') || l.startsWith('ESTAB '))).toBe(false);
    const closeWait = clientSockets.filter((l) => l.startsWith('CLOSE-WAIT ') && l.includes(':8080'));
    expect(closeWait, clientSockets.join('\n')).toHaveLength(1);
    expect(closeWait[0]).toContain('users:');

    // The run's checks: the server's states and `signal: KILL` met by the rule's signal; the client's close after.
    expect(evs.filter((e) => e.type === 'expectation' && e.status !== 'met')).toEqual([]);
    expect(run.stderr).toContain('killed by SIGKILL, sent by tcpmitm on rule 1 (a signal rule)');
    labDown(id);
    expect(leftovers(id)).toEqual([]);
  });
});
