// Cues on real namespaces, beside the kernel's tracepoint: a signal rule that
// kills the server on the client's data segment (the server's kernel FINs for
// it; the held data then reaches a socket with no process and draws a RST),
// and a time trigger that resets a connection 300 ms after the client
// entered FIN-WAIT-2 (a server that never closes). Profiles that signal a
// program the run does not have are refused before anything starts, naming
// the rule; a bad signal name is an error at its file:line:col. Checks follow
// the kernel's own order of events, not wall-clock thresholds.

import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot, skipWithoutTracepoint, uniqueLabId } from '../helpers/lab.js';
import { labDown, labNamespaces, runCli, type LabEvent } from '../helpers/run-lab.js';
import { dwells, runProfile, writeGreeter, writeProfile, type ProfileRun } from '../helpers/profile-lab.js';

const root = requireRoot();
const skipTrace = skipWithoutTracepoint();

const ids = new Set<string>();
const id = (): string => {
  const v = uniqueLabId('cue');
  ids.add(v);
  return v;
};

function show(run: ProfileRun, label: string): void {
  const line = (ep: 'client' | 'server', src: 'inferred' | 'kernel') =>
    dwells(run.events, ep, src)
      .map((d) => `${d.state}@${d.t.toFixed(3)}`)
      .join(' → ');
  console.log(
    `${label}: exit ${run.code} in ${(run.ms / 1000).toFixed(1)} s\n` +
      `  client inferred ${line('client', 'inferred')}\n  client kernel   ${line('client', 'kernel')}\n` +
      `  server inferred ${line('server', 'inferred')}\n  server kernel   ${line('server', 'kernel')}\n` +
      run.events
        .filter((e) => e.type === 'action' || e.type === 'exit' || e.type === 'warning')
        .map((e) => `  ${JSON.stringify(e)}`)
        .join('\n'),
  );
}

/** The index in the run's event order of the first event `pred` picks (−1: none). */
const at = (evs: readonly LabEvent[], pred: (e: LabEvent) => boolean): number => evs.findIndex(pred);
const kernelState = (endpoint: string, to: string) => (e: LabEvent) => e.type === 'state' && e.source === 'kernel' && e.endpoint === endpoint && e.to === to && e.conn === 1;
const kernelStates = (evs: readonly LabEvent[], endpoint: string): string[] =>
  evs.filter((e) => e.type === 'state' && e.source === 'kernel' && e.endpoint === endpoint && e.conn === 1).map((e) => String(e.to));

/**
 * A server that greets each connection as soon as it has accepted it: the
 * client's request (sent once it has read the greeting) then comes after the
 * accept, by causality. A kill before accept() would instead reset the
 * connection from the listener's queue (inet_csk_listen_stop), a race with
 * Node's or Python's accept loop.
 */
const GREETER = writeGreeter('greeter.py');

const KILL_ON_DATA = `name: kill-on-data
description: the server is killed (SIGKILL) by tcpmitm when the client's request arrives
lab:
  client: ['--send', '0', '--recv', '5', '--write-after-ms', '0', '--then', 'wait:1000']
rules:
  - id: kill-server
    match: {from: client, role: data}
    action: {signal: {to: server, name: KILL}}
    times: 1
expect:
  client: {states: [ESTAB, CLOSE-WAIT, CLOSED], not: [TIME-WAIT]}
  server: {states: [ESTAB, FIN-WAIT-1, CLOSED], not: [TIME-WAIT], signal: KILL}
`;

const RST_IN_FIN_WAIT_2 = `name: reset-fin-wait-2
description: a RST to both ends 300 ms after the client entered FIN-WAIT-2 (the server never closes)
lab:
  server: ['--on-eof', 'never']
  client: ['--send', '100', '--then', 'close']
rules:
  - id: reset-fin-wait-2
    at: {after: 300ms, since: state, endpoint: client, state: FIN-WAIT-2}
    action: {rst: {to: both}}
expect:
  client: {states: [ESTAB, FIN-WAIT-1, FIN-WAIT-2, CLOSED], not: [TIME-WAIT]}
  server: {states: [ESTAB, CLOSE-WAIT, CLOSED], not: [LAST-ACK]}
`;

describe.skipIf(root.skip || skipTrace).concurrent('cues on real labs (tracepoint probe)', { timeout: 120_000 }, () => {
  afterAll(() => {
    for (const v of ids) labDown(v);
  });

  it("SIGKILL to the server on the client's data: its kernel FINs, the held data then draws a RST; the kill is the rule's, not a failure", async () => {
    const run = await runProfile(id(), writeProfile('kill-on-data.yaml', KILL_ON_DATA), { args: ['--server', `exec python3 ${GREETER}`] });
    show(run, 'kill-on-data');
    expect(run.code).toBe(0);
    const evs = run.events;
    const signal = evs.find((e) => e.type === 'action' && e.action === 'signal')!;
    expect(signal).toMatchObject({ conn: 1, rule: 1 });
    expect(String(signal.detail)).toMatch(/^sent SIGKILL to the server's program \(pid \d+, exec python3 \S+greeter\.py\) on rule 1 \(on data from client\)$/);
    // The data was held, not passed, until the server had gone.
    const data = evs.find((e) => e.type === 'segment' && e.from === 'client' && e.role === 'data')!;
    expect(data).toMatchObject({ verdict: 'hold', rule: 1 });
    const exit = evs.find((e) => e.type === 'exit' && e.endpoint === 'server')!;
    expect(exit).toMatchObject({ signal: 'KILL', by: 'cue', rule: 1 });
    const release = at(evs, (e) => e.type === 'action' && e.action === 'release' && String(e.detail).includes('released data from client'));
    expect(String(evs[release]!.detail)).toMatch(/^the server's program \(pid \d+\) exited \(SIGKILL\): released data from client after \d+ ms$/);
    expect(evs.filter((e) => e.type === 'warning')).toEqual([]);
    // The kernel's order: the signal, the dead server's FIN (its kernel closes
    // the socket for it: FIN-WAIT-1), then the data is released, then the
    // server's kernel answers it with a RST and the socket is CLOSED.
    const sent = evs.indexOf(signal);
    const fin = at(evs, (e) => e.type === 'segment' && e.from === 'server' && String(e.flags).includes('F'));
    const rst = at(evs, (e) => e.type === 'segment' && e.from === 'server' && String(e.flags).includes('R'));
    expect(sent).toBeGreaterThanOrEqual(0);
    expect(fin).toBeGreaterThan(sent);
    expect(release).toBeGreaterThan(fin);
    expect(rst).toBeGreaterThan(release);
    expect(evs[rst]!.verdict).toBe('pass');
    expect(kernelStates(evs, 'server')).toEqual(expect.arrayContaining(['FIN-WAIT-1', 'CLOSED']));
    expect(at(evs, kernelState('server', 'FIN-WAIT-1'))).toBeGreaterThan(sent);
    expect(kernelStates(evs, 'server')).not.toContain('TIME-WAIT');
    // The client heard the FIN (CLOSE-WAIT), then the RST (CLOSED).
    expect(at(evs, kernelState('client', 'CLOSED'))).toBeGreaterThan(at(evs, kernelState('client', 'CLOSE-WAIT')));
    // Its checks: the server's `signal: KILL` is met by the rule's signal.
    const checks = evs.filter((e) => e.type === 'expectation');
    expect(checks.filter((c) => c.status !== 'met')).toEqual([]);
    expect(checks.find((c) => c.subject === 'server exit')).toMatchObject({ status: 'met', expected: 'killed by SIGKILL' });
    expect(run.stderr).toContain('killed by SIGKILL, sent by tcpmitm on rule 1 (a signal rule)');
  });

  it('a RST 300 ms after the client entered FIN-WAIT-2 (a server that never closes): both ends CLOSED, no TIME-WAIT', async () => {
    const run = await runProfile(id(), writeProfile('reset-fin-wait-2.yaml', RST_IN_FIN_WAIT_2));
    show(run, 'reset-fin-wait-2');
    expect(run.code).toBe(0);
    const evs = run.events;
    const forged = evs.filter((e) => e.type === 'segment' && e.verdict === 'forged');
    expect(forged.map((e) => e.detail)).toEqual(['RST to client', 'RST to server']);
    expect(forged.every((e) => e.rule === 1)).toBe(true);
    const why = evs.filter((e) => e.type === 'action' && e.action === 'rst').map((e) => String(e.detail));
    expect(why).toHaveLength(2);
    for (const w of why) expect(w).toMatch(/\(rule 1, 300 ms after the client entered FIN-WAIT-2\)$/);
    // The timer counts from the inferred FIN-WAIT-2 and never fires early.
    const fw2 = evs.find((e) => e.type === 'state' && e.source === 'inferred' && e.endpoint === 'client' && e.to === 'FIN-WAIT-2')!;
    expect(forged[0]!.t - fw2.t).toBeGreaterThanOrEqual(0.3 - 0.001);
    // The kernel: the client left FIN-WAIT-2 for CLOSED only after the forged RST; the server left CLOSE-WAIT for CLOSED.
    const firstForged = evs.indexOf(forged[0]!);
    expect(at(evs, kernelState('client', 'CLOSED'))).toBeGreaterThan(firstForged);
    expect(at(evs, kernelState('client', 'FIN-WAIT-2'))).toBeLessThan(firstForged);
    expect(kernelStates(evs, 'client')).not.toContain('TIME-WAIT');
    expect(at(evs, kernelState('server', 'CLOSED'))).toBeGreaterThan(at(evs, kernelState('server', 'CLOSE-WAIT')));
    // Fired once: one connection, one firing.
    expect(evs.filter((e) => e.type === 'segment' && e.verdict === 'forged')).toHaveLength(2);
    expect(evs.filter((e) => e.type === 'expectation' && e.status !== 'met')).toEqual([]);
  });
});

const STOP_ON_DATA = `name: stop-on-data
description: the server is stopped (SIGSTOP) when the client's request arrives; its kernel still acknowledges it
lab:
  server: ['--on-eof', 'close', '--send', '100']
  client: ['--send', '100', '--recv', '100', '--then', 'close']
  duration: 3
rules:
  - id: stop-server
    match: {from: client, role: data}
    action: {signal: {to: server, name: STOP}}
    times: 1
`;

describe.skipIf(root.skip || skipTrace)('a signal that stops rather than ends', { timeout: 120_000 }, () => {
  afterAll(() => {
    for (const v of ids) labDown(v);
  });

  it("SIGSTOP to the server on the client's data: held until the process is stopped; its kernel still ACKs the request, the process never answers; the run's stop ends it (SIGCONT with SIGTERM)", async () => {
    const run = await runProfile(id(), writeProfile('stop-on-data.yaml', STOP_ON_DATA));
    show(run, 'stop-on-data');
    expect(run.code).toBe(0);
    const evs = run.events;
    const release = at(evs, (e) => e.type === 'action' && e.action === 'release' && String(e.detail).includes('released data from client'));
    expect(String(evs[release]!.detail)).toMatch(/^the server's program \(pid \d+\) is stopped \(SIGSTOP\): released data from client after \d+ ms$/);
    // The kernel answers for a stopped process: an ACK of the 100 bytes, and no reply data ever.
    const ack = at(evs, (e) => e.type === 'segment' && e.from === 'server' && e.ack === 101);
    expect(ack).toBeGreaterThan(release);
    expect(evs.filter((e) => e.type === 'segment' && e.from === 'server' && e.role === 'data')).toEqual([]);
    expect(evs.filter((e) => e.type === 'app' && e.endpoint === 'server' && e.event === 'data')).toEqual([]);
    // Still ESTAB on both ends in the kernel's view when the run ends at its duration.
    expect(kernelStates(evs, 'server').at(-1)).toBe('ESTAB');
    // Stopped at the end by tcpmitm (a stopped process acts on SIGTERM once it gets SIGCONT): not a failure.
    expect(evs.find((e) => e.type === 'exit' && e.endpoint === 'server')).toMatchObject({ by: 'tcpmitm', signal: 'TERM' });
    expect(evs.filter((e) => e.type === 'warning' && String(e.message).includes('SIGSTOP'))).toEqual([]);
  });
});

describe.skipIf(root.skip)('profiles whose cues a run cannot carry out', { timeout: 60_000 }, () => {
  const killer = writeProfile(
    'kill-anywhere.yaml',
    `name: kill-anywhere\ndescription: kills the server on its first data\nrules:\n  - id: kill-server\n    match: {from: client, role: data}\n    action: {signal: {to: server, name: KILL}}\n`,
  );
  const where = `${killer}:6:22: rule 1 (kill-server) sends SIGKILL to the server's program`;

  it('tap refuses a signal rule at start (exit 2), naming it at file:line:col', async () => {
    const r = await runCli(['tap', '--iface', 'lo', '--no-ui', '--profile', killer]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${where}, but tap runs no programs of its own`);
  });

  it('attach refuses it before it opens anything', async () => {
    const r = await runCli(['attach', '--a', 'nosuchif0', '--b', 'nosuchif1', '--no-ui', '--profile', killer]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${where}, but attach runs no programs of its own`);
  });

  it('lab up (no programs) refuses it before any namespace exists', async () => {
    const lab = id();
    const r = await runCli(['lab', 'up', '--id', lab, '--profile', killer]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${where}, but \`lab up\` runs no programs`);
    expect(labNamespaces(lab)).toEqual([]);
  });

  it('a bad signal name is an error at its file:line:col (profiles check)', async () => {
    const bad = writeProfile('bad-signal.yaml', `name: bad-signal\ndescription: d\nrules:\n  - match: {role: data}\n    action: {signal: {to: server, name: SIGKILL}}\n`);
    const r = await runCli(['profiles', 'check', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:5:41: rules[0].action.signal.name: 'SIGKILL' is written with SIG; expected the name without it: 'KILL'`);
  });
});
