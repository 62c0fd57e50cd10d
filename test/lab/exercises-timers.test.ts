// Exercises 19 (orphan-timeout: close() versus shutdown() in FIN-WAIT-2,
// tcp_fin_timeout pinned to 3 s), 20 (linger-timeout: close() with unread
// data sends a RST; SO_LINGER {on, 2 s} with the FIN never acknowledged) and
// 21 (keepalive-sysctls: SO_KEEPALIVE alone, the namespace's
// tcp_keepalive_* pinned to 2 s / 1 s / 3) through the real CLI on real
// namespaces, as exercises.test.ts runs the others: right answers (IPv4)
// score full, wrong ones (IPv6) nothing, exit 0 either way, the checks
// confirmed by the tracepoint probe, the reveal quoting this run's lines.
//
// Every one of them waits on a kernel timer (3 s, 2 s, 2 s + 3 × 1 s). No
// assertion reads a duration: the numbers are measured on the run by the
// exercise itself (compared here with the same run's events), and the
// programs leave twice the timer's length before they depend on it having
// fired. What is asserted is what the kernels did and in which order.

import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot } from '../helpers/lab.js';
import type { LabEvent } from '../helpers/run-lab.js';
import { exerciseRunner, expectKernelConfirmed as kernelConfirmed, logLines, reveal, type ExerciseRun } from '../helpers/exercise-lab.js';

const root = requireRoot();
// One lab at a time: each run is mostly waiting on a timer, and two of them together would only share the 2 cores.
const runner = exerciseRunner('xtm', 1);

/** Confirmed by the kernel, and no check failed at all (the programs' exits included: each checks its own sockets). */
function expectKernelConfirmed(r: ExerciseRun): void {
  kernelConfirmed(r);
  expect(r.result.checks.results.filter((c) => c.status !== 'met')).toEqual([]);
}

/** The kernel's state events of one end on one connection, in order. */
function kernelStates(r: ExerciseRun, endpoint: string, conn: number): LabEvent[] {
  return r.events.filter((e) => e.type === 'state' && e.source === 'kernel' && e.endpoint === endpoint && e.conn === conn);
}

/** ms the kernel spent in `state` (the state event after it minus its own), from this run's events. */
function kernelDwellMs(r: ExerciseRun, endpoint: string, conn: number, state: string): number {
  const own = kernelStates(r, endpoint, conn);
  const k = own.findIndex((e) => e.to === state);
  return Math.round((own[k + 1]!.t - own[k]!.t) * 1000);
}

const segments = (r: ExerciseRun, pred: (e: LabEvent) => boolean): LabEvent[] => r.events.filter((e) => e.type === 'segment' && pred(e));
const appEvents = (r: ExerciseRun, endpoint: string): string[] => r.events.filter((e) => e.type === 'app' && e.endpoint === endpoint).map((e) => String(e.event));

/** The lab ran on 2001:2::/48. */
function expectIpv6(r: ExerciseRun): void {
  const conn = r.events.find((e) => e.type === 'connection')!;
  expect([conn.client, conn.server]).toEqual([expect.stringMatching(/^\[2001:2::1\]:\d+$/), '[2001:2::2]:8080']);
}

/** What exercise 19's kernels did: conn 1's orphan timed out with no segment and its late data drew a RST; conn 2 waited for the FIN. */
function expectOrphanTimeout(r: ExerciseRun): void {
  const start = r.events.find((e) => e.type === 'start')!;
  expect(start.sysctls).toMatchObject({ client: { 'net.ipv4.tcp_fin_timeout': '3' } });
  // Connection 1: FIN-WAIT-2 → CLOSED, no TIME-WAIT.
  const one = kernelStates(r, 'client', 1).map((e) => e.to);
  expect(one.slice(-3)).toEqual(['FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSED']);
  // After its FIN the client sent nothing on connection 1 but the RST, and that answered the server's data.
  const fin = r.events.findIndex((e) => e.type === 'segment' && e.conn === 1 && e.from === 'client' && e.role === 'fin');
  const after = r.events.slice(fin + 1).filter((e) => e.type === 'segment' && e.conn === 1);
  expect(after.filter((e) => e.from === 'client').map((e) => e.flags)).toEqual(['R']);
  expect(after.map((e) => `${String(e.from)} ${String(e.role)}`)).toEqual(['server ack-of-fin', 'server data', 'client rst']);
  // The orphan was gone (by its timer) before the server's data reached the client's kernel.
  const closed = kernelStates(r, 'client', 1).at(-1)!;
  const data = after.find((e) => e.role === 'data')!;
  expect(closed.t).toBeLessThan(data.t);
  // Connection 2 waited in FIN-WAIT-2 past connection 1's end, until the server's FIN: TIME-WAIT.
  const two = kernelStates(r, 'client', 2);
  expect(two.map((e) => e.to).slice(-2)).toEqual(['FIN-WAIT-2', 'TIME-WAIT']);
  expect(two.at(-1)!.t).toBeGreaterThan(closed.t);
  // The programs saw it too: the late 4 bytes read on connection 2; EPIPE at the server's second write on connection 1.
  expect(appEvents(r, 'client')).toEqual(expect.arrayContaining(['close-1', 'shutdown-2', 'data-2', 'eof-2']));
  expect(appEvents(r, 'server')).toContain('EPIPE');
}

/** What exercise 20's kernels did: a RST for the unread data; the lingering close() returned 0 and the FIN went on being retransmitted, no RST. */
function expectLingerTimeout(r: ExerciseRun): void {
  const one = segments(r, (e) => e.conn === 1 && e.from === 'client' && /[FR]/.test(String(e.flags)));
  expect(one.map((e) => e.flags)).toEqual(['RA']);
  expect(kernelStates(r, 'server', 1).map((e) => e.to).slice(-2)).toEqual(['ESTAB', 'CLOSED']);
  expect(appEvents(r, 'server')).toContain('ECONNRESET');
  const client = appEvents(r, 'client');
  expect(client).toContain('unread-100');
  expect(client.at(-1)).toMatch(/^close-returned-0-after-\d+ms$/);
  // The FIN was retransmitted after close() returned; the client never reset connection 2.
  const returned = r.events.findIndex((e) => e.type === 'app' && String(e.event).startsWith('close-returned-'));
  const fins = (from: number) => r.events.slice(from).filter((e) => e.type === 'segment' && e.conn === 2 && e.from === 'client' && String(e.flags).includes('F'));
  expect(fins(0).length).toBeGreaterThanOrEqual(3);
  expect(fins(returned).length).toBeGreaterThanOrEqual(1);
  expect(segments(r, (e) => e.conn === 2 && e.from === 'client' && String(e.flags).includes('R'))).toEqual([]);
  expect(kernelStates(r, 'client', 2).at(-1)!.to).toBe('FIN-WAIT-1');
  // What tcpmitm dropped: the server's ACKs, and nothing else.
  const dropped = segments(r, (e) => e.verdict === 'drop');
  expect(dropped.length).toBeGreaterThanOrEqual(3);
  expect(dropped.every((e) => e.conn === 2 && e.from === 'server' && e.flags === 'A')).toBe(true);
}

/** What exercise 21's kernels did: tcp_keepalive_probes probes, then a RST (dropped) and ETIMEDOUT; the server never knew. */
function expectKeepaliveBySysctls(r: ExerciseRun): void {
  const start = r.events.find((e) => e.type === 'start')!;
  expect(start.sysctls).toMatchObject({
    client: { 'net.ipv4.tcp_keepalive_time': '2', 'net.ipv4.tcp_keepalive_intvl': '1', 'net.ipv4.tcp_keepalive_probes': '3' },
  });
  const fromClient = segments(r, (e) => e.from === 'client' && (e.role === 'keepalive' || String(e.flags).includes('R')));
  expect(fromClient.map((e) => e.role)).toEqual(['keepalive', 'keepalive', 'keepalive', 'rst']);
  expect(fromClient.every((e) => e.verdict === 'drop')).toBe(true);
  // The program saw the namespace's values through getsockopt(), and its recv() got ETIMEDOUT.
  const app = appEvents(r, 'client');
  expect(app).toContain('keepalive-idle-2s-intvl-1s-count-3');
  expect(app.at(-1)).toBe('ETIMEDOUT');
  expect(kernelStates(r, 'client', 1).map((e) => e.to).slice(-2)).toEqual(['ESTAB', 'CLOSED']);
  expect(kernelStates(r, 'server', 1).at(-1)!.to).toBe('ESTAB');
}

describe.skipIf(root.skip)('exercises 19–21 (timers) on real labs', { timeout: 180_000 }, () => {
  afterAll(() => runner.cleanup());

  it('19 orphan-timeout, right answers: full score; the orphan times out silently, the open socket waits, the late data draws a RST', async () => {
    const r = await runner.run('19', 'ex19-right', 'answers:\n  close-fate: dropped\n  fin-wait-2-ms: 3000\n  shutdown-fate: fin-wait-2\n  late-data: rst\n');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 4, of: 4 });
    expectKernelConfirmed(r);
    expectOrphanTimeout(r);
    // The number was measured on this run, from the kernel's own times.
    expect(r.result.predictions[1]!.measured).toBe(kernelDwellMs(r, 'client', 1, 'FIN-WAIT-2'));
    const text = reveal(r);
    const quoted = logLines(r, (e) => (e.conn === 1 && ['fin', 'ack-of-fin', 'data', 'rst'].includes(String(e.role))) || (e.conn === 2 && ['data', 'ack'].includes(String(e.role))));
    expect(quoted.length).toBeGreaterThanOrEqual(6);
    for (const line of quoted) expect(text).toContain(line);
    expect(text).toMatch(/FIN-WAIT-2@\d+\.\d{3}s → CLOSED@\d+\.\d{3}s/);
    expect(text).toMatch(/FIN-WAIT-2@\d+\.\d{3}s → TIME-WAIT@\d+\.\d{3}s/);
    expect(text).toContain('Score: 4 of 4');
  });

  it('19 orphan-timeout, wrong answers in Chinese, over IPv6: no points, exit 0, the reveal says why', async () => {
    const r = await runner.run('orphan-timeout', 'ex19-wrong-zh', 'answers:\n  close-fate: waits\n  fin-wait-2-ms: 60000\n  shutdown-fate: closed\n  late-data: ack\n', ['--lang', 'zh', '--ipv6']);
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 0, of: 4 });
    expectKernelConfirmed(r);
    expectIpv6(r);
    expectOrphanTimeout(r);
    const text = reveal(r);
    expect(text).toMatch(/^揭晓 — 练习 19：/);
    expect(text).toContain(' — 错误');
    expect(text).toContain('waits: 那是连接 2 的情况，它的程序仍然持有套接字。');
    expect(text).toContain('dropped: 正确。已经没有程序持有它了（孤儿套接字）');
    expect(text).toContain('closed: 只有没有程序持有的套接字才会超时');
    expect(text).toContain('rst: 正确。这个四元组上已经没有套接字了');
  });

  it('20 linger-timeout, right answers: full score; a RST for unread data; the lingering close() returns 0 and the FIN goes on', async () => {
    const r = await runner.run('20', 'ex20-right', 'answers:\n  unread-close: rst\n  close-blocks-ms: 2000\n  close-returns: zero\n  after-return: retransmits\n');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 4, of: 4 });
    expectKernelConfirmed(r);
    expectLingerTimeout(r);
    const text = reveal(r);
    const quoted = logLines(r, (e) => (e.conn === 1 && ['data', 'rst'].includes(String(e.role))) || (e.conn === 2 && e.from === 'client' && String(e.flags).includes('F')));
    expect(quoted.length).toBeGreaterThanOrEqual(5);
    for (const line of quoted) expect(text).toContain(line);
    expect(text).toMatch(/close-returned-0-after-\d+ms@\d+\.\d{3}s/);
    expect(text).toContain('RSTs the client sent on connection 2: 0.');
  });

  it('20 linger-timeout, wrong answers over IPv6: no points, exit 0, the reveal says why', async () => {
    const r = await runner.run('linger-timeout', 'ex20-wrong', 'answers:\n  unread-close: fin\n  close-blocks-ms: 0\n  close-returns: etimedout\n  after-return: rst\n', ['--ipv6']);
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 0, of: 4 });
    expectKernelConfirmed(r);
    expectIpv6(r);
    expectLingerTimeout(r);
    const text = reveal(r);
    expect(text).toContain('fin: A FIN says "all I sent has been sent"');
    expect(text).toContain('rst: Right. Data the program will never read is lost');
    expect(text).toContain('your answer: 0 ms — wrong');
    expect(text).toContain('etimedout: Nothing timed out in TCP');
    expect(text).toContain('rst: Many texts say so, and some systems may; this kernel sent no RST on connection 2');
  });

  it('21 keepalive-sysctls, right answers: full score; 3 probes by the namespace, a RST, ETIMEDOUT; the server never knew', async () => {
    const r = await runner.run('21', 'ex21-right', 'answers:\n  probe-count: 3\n  client-error: etimedout\n  gives-up-ms: 5000\n  server-knows: stays\n');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 4, of: 4 });
    expectKernelConfirmed(r);
    expectKeepaliveBySysctls(r);
    expect(r.result.predictions[0]!.measured).toBe(3);
    expect(r.result.predictions[2]!.measured).toBe(kernelDwellMs(r, 'client', 1, 'ESTAB'));
    const text = reveal(r);
    const quoted = logLines(r, (e) => e.from === 'client' && (e.role === 'keepalive' || e.role === 'data' || String(e.flags).includes('R')));
    expect(quoted).toHaveLength(5);
    for (const line of quoted) expect(text).toContain(line);
    expect(text).toContain('keepalive-idle-2s-intvl-1s-count-3@');
    expect(text).toContain('7200 + 9 × 75 = 7875 s');
  });

  it('21 keepalive-sysctls, wrong answers in Chinese, over IPv6: no points, exit 0, the reveal says why', async () => {
    const r = await runner.run('keepalive-sysctls', 'ex21-wrong-zh', 'answers:\n  probe-count: 9\n  client-error: hangs\n  gives-up-ms: 7875000\n  server-knows: closes\n', ['--lang', 'zh', '--ipv6']);
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 0, of: 4 });
    expectKernelConfirmed(r);
    expectIpv6(r);
    expectKeepaliveBySysctls(r);
    const text = reveal(r);
    expect(text).toContain('你的答案：9 个报文段 — 错误');
    expect(text).toContain('hangs: 用默认值确实如此');
    expect(text).toContain('closes: 那个 RST 和其他报文一起被丢弃了');
    expect(text).toContain('etimedout: 正确。探测一直没有回应');
  });
});
