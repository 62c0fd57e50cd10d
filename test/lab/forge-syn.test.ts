// A SYN forged into a TIME-WAIT, on a real kernel (tcp_timewait_state_process,
// net/ipv4/tcp_minisocks.c). The server closes first, so its end goes to
// TIME-WAIT, and keeps listening (--count 2); right after its last ACK
// tcpmitm forges a bare SYN to it, as if from the client's port. Beyond the
// TIME-WAIT's rcv_nxt (seqOffset 1) it is TCP_TW_SYN: the TIME-WAIT ends at
// once and the listener answers with a SYN-ACK, which the client's kernel,
// having no such connection, resets. At rcv_nxt (seqOffset 0), carrying no
// timestamp, it is not newer: TCP_TW_ACK, the TIME-WAIT answers with its own
// ACK — and the client's kernel resets that, and the RST, at the TIME-WAIT's
// rcv_nxt, ends it (the TIME-WAIT assassination of RFC 1337, tcp_rfc1337=0).
// Both views, and `ss`. Checks are causal, not timed.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot, skipWithoutTracepoint, uniqueLabId } from '../helpers/lab.js';
import { labDown, startCli, waitForEvents, type LabEvent } from '../helpers/run-lab.js';
import { TMP, seq, show, writeProfile } from '../helpers/profile-lab.js';

const root = requireRoot();
const skipTrace = skipWithoutTracepoint();
const ids = new Set<string>();

const profile = (offset: number): string => `name: forge-syn-${offset}
description: the server closes first; a SYN forged into its TIME-WAIT at rcv_nxt + ${offset}
lab:
  # Closes first, 200 ms after accepting; still listening for a second connection.
  server: ['--close-after', '200', '--count', '2']
  client: ['--send', '100', '--recv', '1000000', '--then', 'close']
  duration: 3
rules:
  - id: syn-into-time-wait
    match: {from: server, role: last-ack}
    action: {forge: {to: server, flags: SYN, seqOffset: ${offset}}}
    times: 1
`;

const segs = (evs: readonly LabEvent[], pred: (e: LabEvent) => boolean): LabEvent[] => evs.filter((e) => e.type === 'segment' && pred(e));

/**
 * The server's TIME-WAIT ended within the run (60 s are far off): the inference
 * shows it; the kernel probe shows it too, or — when the TIME-WAIT lived only
 * the few ms before its lookup (tcp_time_wait() has no tracepoint) — the full
 * socket's FIN-WAIT-2 → CLOSED, and `ss` has no TIME-WAIT left.
 */
function expectTimeWaitEnded(evs: readonly LabEvent[]): void {
  expect(seq(evs, 'server', 'inferred').slice(-2)).toEqual(['TIME-WAIT', 'CLOSED']);
  expect([['TIME-WAIT', 'CLOSED'], ['FIN-WAIT-2', 'CLOSED']]).toContainEqual(seq(evs, 'server', 'kernel').slice(-2));
}

/** Runs the lab, and once the SYN is forged and answered reads `ss` in the server's namespace while the lab still runs. */
async function run(offset: number) {
  const id = uniqueLabId('fsyn');
  ids.add(id);
  const json = join(TMP, `${id}.jsonl`);
  const cli = startCli(['lab', '--id', id, '--no-ui', '--segments', '--profile', writeProfile(`forge-syn-${offset}.yaml`, profile(offset)), '--kernel-probe', 'trace', '--json', json], 30_000);
  try {
    await waitForEvents(json, (evs) => {
      const syn = segs(evs, (e) => e.verdict === 'forged')[0];
      return syn !== undefined && segs(evs, (e) => e.from === 'server' && e.t >= syn.t && e.rule === undefined).length > 0;
    }, 15_000);
    // The answer has left the server; its TIME-WAIT's fate is settled by then (the same softirq).
    const ss = execFileSync('ip', ['netns', 'exec', `${id}-s`, 'ss', '-tanH', 'state', 'time-wait'], { encoding: 'utf8' });
    const r = await cli.done;
    const evs = await waitForEvents(json, (e) => e.some((x) => x.type === 'end'), 5000);
    console.log(`forge-syn ${offset}: exit ${r.code}; ss time-wait: ${JSON.stringify(ss.trim())}\n  server kernel   ${show(evs, 'server', 'kernel')}\n  server inferred ${show(evs, 'server', 'inferred')}\n${r.stderr}`);
    return { code: r.code, evs, ss };
  } finally {
    cli.child.kill('SIGTERM');
    await cli.done;
    labDown(id);
  }
}

describe.skipIf(root.skip || skipTrace).concurrent('a SYN forged into TIME-WAIT on a real kernel', { timeout: 60_000 }, () => {
  afterAll(() => {
    for (const v of ids) labDown(v);
  });

  it('beyond rcv_nxt: TCP_TW_SYN — the TIME-WAIT ends, the listener SYN-ACKs, the client\'s kernel resets it', async () => {
    const { code, evs, ss } = await run(1);
    expect(code).toBe(0);
    const syn = segs(evs, (e) => e.verdict === 'forged')[0]!;
    expect(syn).toMatchObject({ from: 'client', flags: 'S', role: 'syn', rule: 1 });
    const [answer] = segs(evs, (e) => e.from === 'server' && e.t >= syn.t && e.rule === undefined);
    expect(answer).toMatchObject({ flags: 'SA' });
    // The client's kernel knows no such connection (its end is CLOSED): a RST.
    expect(segs(evs, (e) => e.from === 'client' && e.t >= answer!.t && String(e.flags).includes('R')).length).toBeGreaterThanOrEqual(1);
    expect(ss.trim()).toBe('');
    expectTimeWaitEnded(evs);
    const closed = evs.find((e) => e.type === 'state' && e.endpoint === 'server' && e.source === 'inferred' && e.to === 'CLOSED')!;
    expect(String(closed.cause)).toMatch(/TCP_TW_SYN/);
  });

  it('at rcv_nxt: TCP_TW_ACK — the TIME-WAIT answers with its own ACK; the client\'s RST to that ends it (RFC 1337)', async () => {
    const { code, evs, ss } = await run(0);
    expect(code).toBe(0);
    const syn = segs(evs, (e) => e.verdict === 'forged')[0]!;
    const [answer] = segs(evs, (e) => e.from === 'server' && e.t >= syn.t && e.rule === undefined);
    // Its own last ACK again: seq after its FIN, ack the client's FIN + 1 (the SYN's own seq).
    const lastAck = segs(evs, (e) => e.rule === 1)[0]!;
    expect(answer).toMatchObject({ flags: 'A', seq: lastAck.seq, ack: lastAck.ack });
    // The client's kernel has no socket for it: a RST with seq = that ack, the TIME-WAIT's rcv_nxt.
    const rst = segs(evs, (e) => e.from === 'client' && e.t >= answer!.t && String(e.flags).includes('R'))[0]!;
    expect(rst.seq).toBe(lastAck.ack);
    expect(ss.trim()).toBe('');
    expectTimeWaitEnded(evs);
    const closed = evs.find((e) => e.type === 'state' && e.endpoint === 'server' && e.source === 'inferred' && e.to === 'CLOSED')!;
    expect(String(closed.cause)).toMatch(/^delivered RST .*tcp_rfc1337=0/);
  });
});
