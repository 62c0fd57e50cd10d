// Every built-in exercise through the real CLI on real namespaces, as a
// grader runs it: `exercise run ID --answers FILE --json RESULT`. With the
// right answers the score is full and the exit 0; with wrong ones the score is
// 0, still exit 0, and the reveal says why (the comment on the choice made and
// on the right one). Either way the exercise's checks are confirmed by the
// kernel probe (tracepoint), and the reveal quotes this run's own events
// (kept with --events). A class's results grade to CSV; an exercise whose
// check the run cannot confirm exits 3 and says the lab is wrong.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot } from '../helpers/lab.js';
import { labDownAll, runCli, type LabEvent } from '../helpers/run-lab.js';
import { exerciseRunner, expectKernelConfirmed, logLines, reveal, type ExerciseRun } from '../helpers/exercise-lab.js';

const root = requireRoot();
const runner = exerciseRunner('xex');
const dir = runner.dir;
const runExercise = runner.run;

/** ms the client's (or server's) kernel spent in `state`, from this run's events. */
function kernelDwellMs(r: ExerciseRun, endpoint: string, state: string): number {
  const own = r.events.filter((e) => e.type === 'state' && e.source === 'kernel' && e.endpoint === endpoint && e.conn === 1);
  const k = own.findIndex((e) => e.to === state);
  return Math.round((own[k + 1]!.t - own[k]!.t) * 1000);
}

describe.skipIf(root.skip).concurrent('built-in exercises on real labs', { timeout: 300_000 }, () => {
  afterAll(() => {
    runner.cleanup();
    labDownAll();
  });

  const results: Record<string, string> = {};

  it('1 four-way-close, right answers: full score, the kernel confirms, the reveal quotes the run', async () => {
    const r = await runExercise('1', 'ex1-right', 'student: alice\nanswers:\n  time-wait: client\n  client-order: [FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT]\n  fin-wait-2-ms: 260\n');
    results['alice-1'] = join(dir, 'ex1-right.result.json');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 3, of: 3 });
    expectKernelConfirmed(r);
    // The number was measured on this run, from the kernel's own times.
    expect(r.result.predictions[2]!.measured).toBe(kernelDwellMs(r, 'client', 'FIN-WAIT-2'));
    const text = reveal(r);
    for (const line of logLines(r, (e) => ['fin', 'fin-ack', 'ack-of-fin', 'last-ack'].includes(String(e.role)))) expect(text).toContain(line);
    expect(text).toContain('Score: 3 of 3');
  });

  it('1 four-way-close, wrong answers: 0 points, exit 0, the reveal says why', async () => {
    const r = await runExercise('four-way-close', 'ex1-wrong', 'student: bob\nanswers:\n  time-wait: server\n  client-order: [FIN-WAIT-2, FIN-WAIT-1, TIME-WAIT]\n  fin-wait-2-ms: 40\n');
    results['bob-1'] = join(dir, 'ex1-wrong.result.json');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 0, of: 3 });
    expectKernelConfirmed(r);
    const text = reveal(r);
    expect(text).toContain('your answer: the server (it closed last) — wrong');
    expect(text).toContain('server: The server closes last, but it is the passive closer.');
    expect(text).toContain('client: Right. TIME-WAIT belongs to the active closer');
    expect(text).toContain('your answer: FIN-WAIT-2 → FIN-WAIT-1 → TIME-WAIT — wrong');
  });

  it('2 three-way-close, right answers: full score; the kernel never waits in FIN-WAIT-2', async () => {
    const r = await runExercise('2', 'ex2-right', 'student: alice\nanswers:\n  skipped: fin-wait-2\n  fin-wait-1-ms: 300\n  server-side: nothing\n');
    results['alice-2'] = join(dir, 'ex2-right.result.json');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 3, of: 3 });
    expectKernelConfirmed(r);
    expect(r.result.checks.results.find((c) => c.subject === 'client never (kernel)')?.status).toBe('met');
    expect(r.result.predictions[1]!.measured).toBe(kernelDwellMs(r, 'client', 'FIN-WAIT-1'));
    const coalesced = logLines(r, (e) => e.verdict === 'coalesce');
    expect(coalesced.length).toBeGreaterThanOrEqual(1);
    for (const line of coalesced) expect(reveal(r)).toContain(line);
  });

  it('2 three-way-close, wrong answers in Chinese: 0 points, the reveal in Chinese quotes the same run', async () => {
    const r = await runExercise('2', 'ex2-wrong-zh', 'student: 李雷\nanswers:\n  skipped: time-wait\n  fin-wait-1-ms: 40\n  server-side: time-wait\n', ['--lang', 'zh']);
    results['lilei-2'] = join(dir, 'ex2-wrong-zh.result.json');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 0, of: 3 });
    expect(r.result.lang).toBe('zh');
    expectKernelConfirmed(r);
    const text = reveal(r);
    expect(text).toMatch(/^揭晓 — 练习 2：/);
    expect(text).toContain('你的答案：TIME-WAIT — 错误');
    expect(text).toContain('客户端仍然是先关闭的一方');
    for (const line of logLines(r, (e) => e.verdict === 'coalesce')) expect(text).toContain(line);
  });

  it('3 last-ack-lost, right answers: full score; LAST-ACK held, every FIN copy quoted with its gaps', async () => {
    const r = await runExercise('3', 'ex3-right', 'student: alice\nanswers:\n  server-does: retransmit\n  first-retransmission-ms: 200\n  client-answers: re-ack\n');
    results['alice-3'] = join(dir, 'ex3-right.result.json');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 3, of: 3 });
    expectKernelConfirmed(r);
    const fins = logLines(r, (e) => e.from === 'server' && String(e.flags).includes('F'));
    expect(fins.length).toBeGreaterThanOrEqual(4);
    const text = reveal(r);
    for (const line of fins.slice(0, 8)) expect(text).toContain(line);
    // The measured gap is this run's first FIN-to-retransmission gap.
    const ts = r.events.filter((e) => e.type === 'segment' && e.from === 'server' && String(e.flags).includes('F')).map((e) => e.t);
    expect(r.result.predictions[1]!.measured).toBe(Math.round((ts[1]! - ts[0]!) * 1000));
    // Every re-ACK from TIME-WAIT dropped, and quoted as dropped.
    expect(logLines(r, (e) => e.from === 'client' && e.role === 'last-ack').every((l) => l.includes('DROP'))).toBe(true);
  });

  it('3 last-ack-lost, wrong answers: 0 points, exit 0', async () => {
    const r = await runExercise('3', 'ex3-wrong', 'student: "Lee, Sam"\nanswers:\n  server-does: closes\n  first-retransmission-ms: 1000\n  client-answers: rst\n');
    results['sam-3'] = join(dir, 'ex3-wrong.result.json');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 0, of: 3 });
    expectKernelConfirmed(r);
    expect(reveal(r)).toContain('your answer: 1000 ms — wrong');
    expect(reveal(r)).toContain('rst: That is what a host does when it no longer knows the connection at all');
  });

  /** Exercises 4–13: the right answers (IPv4) score full, the wrong ones (IPv6) nothing; the checks are the kernel's too; the reveal quotes `quoted` segments. */
  const MORE: { ex: string; right: string; wrong: string; quoted: (e: LabEvent) => boolean; lang?: 'zh' }[] = [
    {
      ex: 'fin-delayed',
      right: 'answers:\n  client-waits: fin-wait-2\n  server-waits: last-ack\n  fin-wait-2-ms: 2300\n',
      wrong: 'answers:\n  client-waits: time-wait\n  server-waits: close-wait\n  fin-wait-2-ms: 300\n',
      quoted: (e) => e.from === 'server' && String(e.flags).includes('F') && e.verdict === 'delay',
    },
    {
      ex: 'simultaneous-close',
      right: 'answers:\n  new-state: closing\n  time-wait: both\n  client-order: [FIN-WAIT-1, CLOSING, TIME-WAIT]\n',
      wrong: 'answers:\n  new-state: close-wait\n  time-wait: client\n  client-order: [FIN-WAIT-1, TIME-WAIT, CLOSING]\n',
      quoted: (e) => String(e.flags).includes('F'),
      lang: 'zh',
    },
    {
      ex: 'forged-rst',
      right: 'answers:\n  client-sees: econnreset\n  client-state: closed\n  server-sees: epipe\n',
      wrong: 'answers:\n  client-sees: eof\n  client-state: time-wait\n  server-sees: fine\n',
      quoted: (e) => String(e.flags).includes('R'),
    },
    {
      ex: 'dead-peer',
      right: 'answers:\n  client-error: etimedout\n  closed-after-s: 12\n  server-knows: stays\n',
      wrong: 'answers:\n  client-error: econnreset\n  closed-after-s: 7200\n  server-knows: closes\n',
      quoted: (e) => e.from === 'client' && e.role === 'keepalive',
      lang: 'zh',
    },
    {
      // Peers of the exercise's own over passthrough's.
      ex: 'half-close',
      right: 'answers:\n  still-reads: yes\n  client-state: fin-wait-2\n  server-state: close-wait\n',
      wrong: 'answers:\n  still-reads: rst\n  client-state: time-wait\n  server-state: last-ack\n',
      quoted: (e) => e.from === 'server' && e.role === 'data',
    },
    {
      ex: 'natural-three-way-close',
      right: 'answers:\n  segments: 3\n  why: delayed-ack\n',
      wrong: 'answers:\n  segments: 4\n  why: tcpmitm\n',
      quoted: (e) => ['fin', 'fin-ack', 'ack-of-fin', 'last-ack'].includes(String(e.role)),
    },
    {
      ex: 'abortive-close',
      right: 'answers:\n  sends: rst\n  time-wait: "no"\n  server-sees: closed\n',
      wrong: 'answers:\n  sends: fin\n  time-wait: "yes"\n  server-sees: close-wait\n',
      quoted: (e) => String(e.flags).includes('R'),
      lang: 'zh',
    },
    {
      ex: 'process-killed',
      right: 'answers:\n  what-leaves: fin\n  after-write: rst\n',
      wrong: 'answers:\n  what-leaves: nothing\n  after-write: ack\n',
      quoted: (e) => e.from === 'client' && (String(e.flags).includes('F') || String(e.flags).includes('R')),
    },
    {
      // The profile's lab.sysctls pin the client's tcp_rfc1337 (its parameter, default 0).
      ex: 'time-wait-assassination',
      right: 'answers:\n  client-does: ends-time-wait\n  time-wait-ms: 200\n  server-next-fin: rst\n',
      wrong: 'answers:\n  client-does: ignores\n  time-wait-ms: 60000\n  server-next-fin: ack\n',
      quoted: (e) => String(e.flags).includes('R') || (e.from === 'server' && String(e.flags).includes('F')),
      lang: 'zh',
    },
    {
      // A diagnosis: the fault hidden during the run, the questions after it (lab.hidden, after: true).
      ex: 'what-is-wrong',
      right: 'answers:\n  fault: acks-lost\n  lost-count: 2\n  server-waits: last-ack\n',
      wrong: 'answers:\n  fault: fin-lost\n  lost-count: 0\n  server-waits: close-wait\n',
      quoted: (e) => e.verdict === 'drop',
    },
    {
      // Programs of its own (Python: Node has no SHUT_RD); the data sent after SHUT_RD is read, not discarded.
      ex: 'shut-rd',
      right: 'answers:\n  on-the-wire: nothing\n  later-data: queued\n  server-state: estab\n',
      wrong: 'answers:\n  on-the-wire: fin\n  later-data: discarded\n  server-state: fin-wait-1\n',
      quoted: (e) => e.from === 'client' && e.role === 'data',
      lang: 'zh',
    },
    {
      // SHUT_RDWR: the FIN, then the server's kernel resets on the client's later data (TCPAbortOnData).
      ex: 'shut-rdwr',
      right: 'answers:\n  on-the-wire: fin\n  later-data: rst\n  server-recv: econnreset\n',
      wrong: 'answers:\n  on-the-wire: nothing\n  later-data: queued\n  server-recv: data\n',
      quoted: (e) => String(e.flags).includes('R') || (e.from === 'client' && e.role === 'data'),
    },
  ];
  for (const m of MORE) {
    it(`${m.ex}, right answers: full score, confirmed by the kernel, the reveal quotes the run`, async () => {
      const r = await runExercise(m.ex, `${m.ex}-right`, m.right);
      expect(r.code).toBe(0);
      expect(r.result.score.points).toBe(r.result.score.of);
      expectKernelConfirmed(r);
      const lines = logLines(r, m.quoted);
      expect(lines.length).toBeGreaterThanOrEqual(1);
      for (const line of lines.slice(0, 6)) expect(reveal(r)).toContain(line);
    });
    // Over IPv6: the same lab on 2001:2::/48 must confirm the same checks (the right answers run over IPv4).
    it(`${m.ex}, wrong answers${m.lang === 'zh' ? ' in Chinese' : ''}, over IPv6: no points, exit 0, the reveal says why`, async () => {
      const r = await runExercise(m.ex, `${m.ex}-wrong`, m.wrong, [...(m.lang ? ['--lang', m.lang] : []), '--ipv6']);
      expect(r.code).toBe(0);
      expect(r.result.score.points).toBe(0);
      expectKernelConfirmed(r);
      const conn = r.events.find((e) => e.type === 'connection')!;
      expect([conn.client, conn.server]).toEqual([expect.stringMatching(/^\[2001:2::1\]:\d+$/), '[2001:2::2]:8080']);
      expect(reveal(r)).toContain(m.lang === 'zh' ? ' — 错误' : ' — wrong');
      expect(reveal(r)).toContain(m.lang === 'zh' ? '正确。' : 'Right.');
    });
  }

  it("shutdown(SHUT_RD) on Linux: nothing on the wire, the later 200 bytes acknowledged and read, then recv() returns 0 at once", async () => {
    const r = await runExercise('shut-rd', 'shut-rd-kernel', 'answers:\n  later-data: queued\n');
    expect(r.code).toBe(0);
    expectKernelConfirmed(r);
    const app = r.events.filter((e) => e.type === 'app' && e.endpoint === 'server').map((e) => e.event);
    expect(app).toEqual(expect.arrayContaining(['shut-rd', 'recv-200', 'recv-0']));
    expect(app.indexOf('shut-rd')).toBeLessThan(app.indexOf('recv-200'));
    // The server's kernel acknowledged the 200 bytes (ack=301), and no RST was sent by anyone.
    const segs = r.events.filter((e) => e.type === 'segment');
    expect(segs.some((e) => e.from === 'server' && e.ack === 301 && e.len === 0)).toBe(true);
    expect(segs.filter((e) => String(e.flags).includes('R'))).toEqual([]);
    // Nothing left the server between its ACK of the first 100 bytes and its ACK of the 200.
    const i100 = segs.findIndex((e) => e.from === 'server' && e.ack === 101);
    const i300 = segs.findIndex((e) => e.from === 'server' && e.ack === 301);
    expect(segs.slice(i100 + 1, i300).filter((e) => e.from === 'server')).toEqual([]);
  });

  it("a hidden fault stays hidden until the reveal: the run's log shows every segment as sent, none of tcpmitm's doing, no profile; the events keep it all", async () => {
    const r = await runExercise('what-is-wrong', 'hidden-log', 'answers:\n  fault: acks-lost\n');
    expect(r.code).toBe(0);
    const [during, after] = r.stdout.split('\nReveal — ');
    expect(after, r.stdout).toBeDefined();
    expect(during).toMatch(/profile \(hidden until the reveal\)/);
    expect(during).not.toMatch(/drop-last-ack|DROP|\(rule \d+\)|rules:/);
    // Every last ACK is a line of the log, the two dropped ones looking sent, as a capture beside the client shows them.
    const lastAcks = r.events.filter((e) => e.type === 'segment' && e.from === 'client' && e.role === 'last-ack');
    expect(lastAcks.filter((e) => e.verdict === 'drop')).toHaveLength(2);
    expect(during!.match(/c→s {2}\[\.\] seq=\d+ ack=\d+ len=0 win=\d+ {2}last-ack\n/g)?.length).toBe(lastAcks.length);
    expect(r.stderr).not.toMatch(/drop-last-ack/);
    // The reveal names it.
    expect(after).toContain('DROP (rule 1)');
  });

  it('over IPv6 (--ipv6): the same exercise, the same verdicts, the connection on 2001:2::/48', async () => {
    const r = await runExercise('3', 'ex3-v6', 'answers:\n  server-does: retransmit\n  first-retransmission-ms: 200\n  client-answers: re-ack\n', ['--ipv6']);
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 3, of: 3 });
    expectKernelConfirmed(r);
    const conn = r.events.find((e) => e.type === 'connection')!;
    expect([conn.client, conn.server]).toEqual([expect.stringMatching(/^\[2001:2::1\]:\d+$/), '[2001:2::2]:8080']);
    for (const line of logLines(r, (e) => e.from === 'server' && String(e.flags).includes('F')).slice(0, 8)) expect(reveal(r)).toContain(line);
  });

  it("an exercise whose check the run cannot confirm exits 3, and still reveals what the run did", async () => {
    const own = join(dir, 'impossible.yaml');
    // Exercise 1 with a check no four-way close can meet: the client never in FIN-WAIT-2.
    const text = readFileSync(join(import.meta.dirname, '../../exercises/four-way-close.yaml'), 'utf8')
      .replace('id: four-way-close', 'id: impossible')
      .replace('    states: [ESTAB?, FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT]\n', '    states: [ESTAB?, FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT]\n    not: [FIN-WAIT-2]\n');
    writeFileSync(own, text);
    const r = await runExercise(own, 'impossible', 'answers:\n  time-wait: client\n');
    expect(r.code).toBe(3);
    expect(r.result.checks.confirmed).toBe(false);
    expect(r.result.lab.exitCode).toBe(3);
    expect(r.result.score).toEqual({ points: 1, of: 3 });
    expect(reveal(r)).toContain("The run did NOT confirm the exercise's checks");
    expect(reveal(r)).toContain('The lab, not your answers, is wrong here');
    expect(r.result.checks.results.find((c) => c.subject === 'client never (kernel)')?.status).toBe('failed');
  });

  it('a class grades to CSV: one row per result', async () => {
    // Runs after the others in this file have written their results (concurrent: wait for them).
    const want = ['alice-1', 'bob-1', 'alice-2', 'lilei-2', 'alice-3', 'sam-3'];
    const deadline = Date.now() + 300_000;
    while (!want.every((k) => results[k] !== undefined) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 500));
    const files = want.map((k) => results[k]!);
    const run = await runCli(['exercise', 'grade', '--csv', ...files], 20_000);
    console.log(run.stdout);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('file,student,exercise,variant,points,of,percent,lab_confirmed,wrong,unanswered');
    expect(lines).toHaveLength(7);
    expect(lines.filter((l) => l.includes(',alice,'))).toHaveLength(3);
    expect(lines.filter((l) => l.includes(',alice,')).every((l) => l.includes(',3,3,100,yes,,'))).toBe(true);
    expect(lines.find((l) => l.includes(',bob,'))).toContain(',four-way-close,,0,3,0,yes,time-wait client-order fin-wait-2-ms,');
    expect(lines.find((l) => l.includes('"Lee, Sam"'))).toContain(',last-ack-lost,,0,3,0,yes,');
    expect(lines.find((l) => l.includes(',李雷,'))).toContain(',three-way-close,,0,3,0,yes,');
  }, 330_000);
});
