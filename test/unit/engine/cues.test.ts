// The engine's cues, as a playbook: a signal rule holds its segment until the
// signal has taken effect (then passes or drops it, order kept behind it), or
// at most SIGNAL_WAIT_MS; time triggers forge a RST or send a signal at a
// time, once per connection or run, and never outlive their connection.

import { describe, expect, it } from 'vitest';
import { Playbook } from './playbook.js';
import { compileProfile } from '../../../src/rules/match.js';
import { parseProfile } from '../../../src/rules/parse.js';
import { SIGNAL_WAIT_MS, TimeTriggers, type SignalDelivery, type SignalRequest } from '../../../src/engine/cues.js';
import type { ActionEvent, SegmentEvent, WarningEvent } from '../../../src/engine/events.js';

function profile(rules: string) {
  return compileProfile(parseProfile(`name: t\ndescription: t\nrules:\n${rules}`, 't.yaml'));
}

const KILL_ON_DATA = `  - match: {from: client, role: data}\n    action: {signal: {to: server, name: KILL}}\n`;

function signals(waits: 'exit' | 'stop' | 'nothing' = 'exit'): { asked: SignalRequest[]; send: (r: SignalRequest) => SignalDelivery } {
  const asked: SignalRequest[] = [];
  return { asked, send: (r) => (asked.push(r), { sent: true, pid: 4242, program: 'built-in server', waits }) };
}

const actions = (p: Playbook) => p.events.filter((e): e is ActionEvent => e.type === 'action');
const warnings = (p: Playbook) => p.events.filter((e): e is WarningEvent => e.type === 'warning').map((w) => w.message);

describe('signal action on a segment', () => {
  it('holds the segment until the program is gone, keeps what follows it behind it, then passes it', () => {
    const s = signals();
    const p = new Playbook({ decider: profile(KILL_ON_DATA), signal: s.send });
    p.handshake();
    p.takeSends();
    p.fromClient('PA', 1, 1, 100);
    expect(s.asked).toEqual([{ id: 1, to: 'server', name: 'KILL', rule: 1, conn: 1 }]);
    expect(p.takeSends()).toEqual([]);
    const held = p.events.find((e): e is SegmentEvent => e.type === 'segment' && e.role === 'data')!;
    expect(held).toMatchObject({ verdict: 'hold', rule: 1, detail: `held until the server's program exits after SIGKILL (at most ${SIGNAL_WAIT_MS} ms)` });
    expect(actions(p)[0]).toMatchObject({ action: 'signal', conn: 1, rule: 1, detail: "sent SIGKILL to the server's program (pid 4242, built-in server) on rule 1 (on data from client)" });
    // The dead server's kernel FINs meanwhile: the other direction flows.
    p.now = 3;
    p.fromServer('FA', 1, 1);
    expect(p.takeSends()).toEqual(['a FA']);
    // The client's next segment waits behind the held data.
    p.now = 4;
    p.fromClient('A', 101, 2);
    expect(p.takeSends()).toEqual([]);
    p.now = 5;
    p.engine.onSignalSettled(1, "the server's program (pid 4242) exited (SIGKILL)", p.now);
    expect(p.takeSends()).toEqual(['b PA', 'b A']);
    expect(actions(p).map((a) => a.detail)).toContain("the server's program (pid 4242) exited (SIGKILL): released data from client after 5 ms");
    expect(warnings(p)).toEqual([]);
    expect(p.engine.pendingCount()).toBe(0);
  });

  it('then: drop drops the held segment once the signal has taken effect', () => {
    const s = signals();
    const p = new Playbook({ decider: profile(`  - match: {from: client, role: data}\n    action: {signal: {to: server, name: TERM, then: drop}}\n`), signal: s.send });
    p.handshake();
    p.takeSends();
    p.fromClient('PA', 1, 1, 100);
    p.engine.onSignalSettled(1, 'gone', 2);
    expect(p.takeSends()).toEqual([]);
    expect(actions(p).at(-1)).toMatchObject({ action: 'drop', detail: 'gone: dropped the held data from client after 2 ms' });
    expect(p.engine.stats.dropped).toBe(1);
  });

  it(`goes on with a warning when the signal has no effect within ${SIGNAL_WAIT_MS} ms`, () => {
    const p = new Playbook({ decider: profile(KILL_ON_DATA), signal: signals().send });
    p.handshake();
    p.takeSends();
    p.fromClient('PA', 1, 1, 100);
    p.advance(SIGNAL_WAIT_MS - 1);
    expect(p.takeSends()).toEqual([]);
    p.advance(1);
    expect(p.takeSends()).toEqual(['b PA']);
    expect(warnings(p)).toEqual([`the server's program was not gone within ${SIGNAL_WAIT_MS} ms of SIGKILL: the held data from client goes on (then: pass)`]);
    // A late report changes nothing.
    p.engine.onSignalSettled(1, 'late', p.now);
    expect(p.takeSends()).toEqual([]);
  });

  it('a signal with nothing to wait for (caught, harmless) lets the segment pass at once', () => {
    const p = new Playbook({ decider: profile(`  - match: {from: client, role: data}\n    action: {signal: {to: server, name: USR1}}\n`), signal: signals('nothing').send });
    p.handshake();
    p.takeSends();
    p.fromClient('PA', 1, 1, 100);
    expect(p.takeSends()).toEqual(['b PA']);
    expect(p.events.find((e) => e.type === 'segment' && e.role === 'data')).toMatchObject({ verdict: 'pass', detail: 'after SIGUSR1' });
  });

  it('without programs the signal is not sent, the run says so, and the segment goes on', () => {
    const p = new Playbook({ decider: profile(KILL_ON_DATA) });
    p.handshake();
    p.takeSends();
    p.fromClient('PA', 1, 1, 100);
    expect(p.takeSends()).toEqual(['b PA']);
    expect(warnings(p)).toEqual(["rule 1: SIGKILL not sent to the server's program (on data from client): no programs run here"]);
    expect(p.events.find((e) => e.type === 'segment' && e.role === 'data')).toMatchObject({ verdict: 'pass', detail: 'SIGKILL not sent' });
  });
});

describe('time triggers', () => {
  const RST_IN_FW2 = `  - at: {after: 300ms, since: state, endpoint: client, state: FIN-WAIT-2}\n    action: {rst: {to: client}}\n`;

  /** The client closes, the server ACKs its FIN and never closes: the client waits in FIN-WAIT-2. */
  function toFinWait2(p: Playbook): void {
    p.handshake();
    p.fromClient('FA', 1, 1);
    p.now = 10;
    p.fromServer('A', 1, 2);
    p.takeSends();
  }

  it('forges a RST once the client has waited 300 ms in FIN-WAIT-2: it goes CLOSED', () => {
    const p = new Playbook({ decider: profile(RST_IN_FW2) });
    toFinWait2(p);
    expect(p.states('client').at(-1)).toBe('FIN-WAIT-2');
    p.advance(299);
    expect(p.takeSends()).toEqual([]);
    p.advance(1);
    expect(p.takeSends()).toEqual(['a RA']);
    expect(p.states('client').at(-1)).toBe('CLOSED');
    const rst = actions(p).find((a) => a.action === 'rst')!;
    expect(rst).toMatchObject({ t: 0.31, rule: 1, conn: 1 });
    expect(rst.detail).toMatch(/^forged RST to client seq=\d+ \(rule 1, 300 ms after the client entered FIN-WAIT-2\)$/);
    // Once per connection.
    p.advance(10_000);
    expect(p.takeSends()).toEqual([]);
  });

  it('does not fire when the endpoint has left the state by then', () => {
    const p = new Playbook({ decider: profile(RST_IN_FW2) });
    toFinWait2(p);
    p.now = 100;
    p.fromServer('FA', 1, 2);
    expect(p.states('client').at(-1)).toBe('TIME-WAIT');
    p.takeSends();
    p.advance(1000);
    expect(p.takeSends()).toEqual([]);
    expect(actions(p).filter((a) => a.action === 'rst')).toEqual([]);
  });

  it('a connection closed on both ends takes its timers with it (since conn)', () => {
    const p = new Playbook({ decider: profile(`  - at: {after: 1s, since: conn}\n    action: {rst: {to: both}}\n`) });
    p.handshake();
    p.fromClient('R', 1, 0);
    expect(p.states('client').at(-1)).toBe('CLOSED');
    expect(p.states('server').at(-1)).toBe('CLOSED');
    p.takeSends();
    p.advance(2000);
    expect(p.takeSends()).toEqual([]);
  });

  it('since run sends its signal once', () => {
    const s = signals('nothing');
    const p = new Playbook({ decider: profile(`  - at: {after: 500ms, since: run}\n    action: {signal: {to: client, name: USR1}}\n`), signal: s.send });
    p.advance(499);
    expect(s.asked).toEqual([]);
    p.advance(1);
    expect(s.asked).toEqual([{ id: 1, to: 'client', name: 'USR1', rule: 1 }]);
    expect(actions(p)[0]).toMatchObject({ conn: 0, action: 'signal', detail: "sent SIGUSR1 to the client's program (pid 4242, built-in server) on rule 1 (signal 500ms after run: 500 ms after the start of the run)" });
    p.advance(5000);
    expect(s.asked).toHaveLength(1);
  });

  it('the timers of forgotten connections do not pile up', () => {
    const t = new TimeTriggers([{ rule: 1, label: 'x', afterMs: 60_000, since: 'conn', plan: { kind: 'rst', to: 'both', instead: false, seqOffset: 0 } }], 0);
    for (let c = 1; c <= 10_000; c++) {
      t.onConnection(c, c);
      t.forget(c);
    }
    expect((t as unknown as { heap: { size: number } }).heap.size).toBeLessThan(2100);
    expect(t.takeDue(1e9)).toEqual([]);
  });
});
