// Evidence, scores and reveals on one real run's events (a passthrough lab,
// test/fixtures/exercise/passthrough.jsonl), with built-in exercise 1: right
// answers score 3 of 3, wrong ones 0, and the reveal quotes this run — its
// segment lines and the kernel's states with their times — in both languages.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExpectationEvent, TcpmitmEvent } from '../../../src/engine/events.js';
import { readEvidence, type EvidenceReading } from '../../../src/exercise/evidence.js';
import { loadExercise } from '../../../src/exercise/load.js';
import { messages } from '../../../src/exercise/messages.js';
import { fill, formatAnswer, formatChecks, renderReveal } from '../../../src/exercise/reveal.js';
import { points, scoreAnswers } from '../../../src/exercise/score.js';
import type { Evidence, Exercise, Lang } from '../../../src/exercise/schema.js';
import type { Answers } from '../../../src/exercise/answers.js';

const EVENTS: TcpmitmEvent[] = readFileSync(join(import.meta.dirname, '../../fixtures/exercise/passthrough.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as TcpmitmEvent);
const CHECKS = EVENTS.filter((e): e is ExpectationEvent => e.type === 'expectation');
const en = messages('en');
const read = (e: Evidence, evs: readonly TcpmitmEvent[] = EVENTS): EvidenceReading => readEvidence(e, evs, en);

describe('evidence read from a run', () => {
  it("quotes the kernel's states with their times, from the first `from`", () => {
    expect(read({ states: { endpoint: 'client' } }).text).toBe('CLOSED → SYN-SENT@0.494s → ESTAB@0.500s → FIN-WAIT-1@0.509s → FIN-WAIT-2@0.558s → TIME-WAIT@0.822s');
    expect(read({ states: { endpoint: 'server', source: 'inferred' } }).text).toBe('LISTEN → SYN-RECV@0.499s → ESTAB@0.500s → CLOSE-WAIT@0.509s → LAST-ACK@0.813s → CLOSED@0.821s');
  });

  it('quotes segments as the text log prints them', () => {
    expect(read({ segments: { role: ['fin', 'fin-ack', 'ack-of-fin', 'last-ack'] } }).text.split('\n')).toEqual([
      '+0.509s  #1 c→s  [F.] seq=101 ack=1001 len=0 win=63  fin',
      '+0.557s  #1 s→c  [.] seq=1001 ack=102 len=0 win=64  ack-of-fin',
      '+0.813s  #1 s→c  [F.] seq=1001 ack=102 len=0 win=64  fin-ack',
      '+0.821s  #1 c→s  [.] seq=102 ack=1002 len=0 win=63  last-ack',
    ]);
    expect(read({ segments: { flags: 'FIN', first: 1 } }).text.split('\n')).toEqual(['+0.509s  #1 c→s  [F.] seq=101 ack=1001 len=0 win=63  fin', '… (1 more)']);
    expect(read({ segments: { flags: 'SYN,!ACK' } }).text).toBe('+0.494s  #1 c→s  [S] seq=0 len=0 win=64240  syn');
  });

  it('measures dwell (ms), entry (s), counts and gaps', () => {
    expect(read({ dwell: { endpoint: 'client', state: 'FIN-WAIT-2' } })).toEqual({ text: '264 ms (FIN-WAIT-2@0.558s → TIME-WAIT@0.822s)', value: 264, seen: true });
    expect(read({ entered: { endpoint: 'client', state: 'TIME-WAIT' } }).value).toBeCloseTo(0.822031, 6);
    expect(read({ count: { flags: 'FIN' } }).value).toBe(2);
    expect(read({ gap: { flags: 'FIN', nth: 1 } })).toEqual({ text: '304 ms (0.509s → 0.813s)', value: 304, seen: true });
    expect(read({ gaps: { from: 'client' } }).text).toBe('6, 2, 5, 2, 312 ms');
  });

  it('says what the run did not show, and gives a state still held only a lower bound', () => {
    expect(read({ gap: { flags: 'FIN', nth: 2 } })).toEqual({ text: en.notSeen, seen: false });
    expect(read({ dwell: { endpoint: 'server', state: 'CLOSING' } }).seen).toBe(false);
    const tw = read({ dwell: { endpoint: 'client', state: 'TIME-WAIT' } });
    expect(tw.value).toBeUndefined();
    expect(tw.text).toMatch(/^at least \d+ ms \(still in TIME-WAIT when the run ended\)$/);
    expect(read({ app: { endpoint: 'client' } }).text).toBe('connected@0.502s → sent@0.502s → data@0.508s → close@0.509s → closed@0.511s');
  });
});

const x: Exercise = loadExercise('four-way-close').exercise;
const readings = (lang: Lang): Record<string, EvidenceReading> =>
  Object.fromEntries(Object.entries(x.evidence ?? {}).map(([k, v]) => [k, readEvidence(v, EVENTS, messages(lang))]));
const RIGHT: Answers = { student: 'alice', answers: { 'time-wait': 'client', 'client-order': ['FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'], 'fin-wait-2-ms': 300 } };
const WRONG: Answers = { student: 'bob', answers: { 'time-wait': 'server', 'client-order': ['FIN-WAIT-2', 'FIN-WAIT-1', 'TIME-WAIT'], 'fin-wait-2-ms': 40 } };

describe('scoring', () => {
  it('right answers score every point; a number within its tolerance of the measured value is right', () => {
    const s = scoreAnswers(x, RIGHT, readings('en'));
    expect(s.map((p) => p.correct)).toEqual([true, true, true]);
    expect(s[2]).toMatchObject({ measured: 264, answer: 264, tolerance: 100 });
    expect(points(s)).toEqual({ points: 3, of: 3 });
  });

  it('wrong and missing answers score nothing, and are no error', () => {
    expect(points(scoreAnswers(x, WRONG, readings('en')))).toEqual({ points: 0, of: 3 });
    const none = scoreAnswers(x, { answers: {} }, readings('en'));
    expect(none.map((p) => [p.correct, p.yours])).toEqual([[false, undefined], [false, undefined], [false, undefined]]);
    // 365 is 101 ms from the measured 264: outside ±100.
    expect(scoreAnswers(x, { answers: { 'fin-wait-2-ms': 365 } }, readings('en'))[2]!.correct).toBe(false);
    expect(scoreAnswers(x, { answers: { 'fin-wait-2-ms': 364 } }, readings('en'))[2]!.correct).toBe(true);
  });

  it('a number the run did not show cannot be right', () => {
    const s = scoreAnswers(x, RIGHT, { ...readings('en'), 'client-fin-wait-2': { text: en.notSeen, seen: false } });
    expect([s[2]!.correct, s[2]!.answer]).toEqual([false, undefined]);
  });
});

describe('the reveal', () => {
  it('says per prediction what was answered, whether it was right, both comments, and quotes the run', () => {
    const text = renderReveal({ exercise: x, scored: scoreAnswers(x, WRONG, readings('en')), readings: readings('en'), checks: CHECKS, lang: 'en' });
    const lines = text.split('\n');
    expect(lines[0]).toBe('Reveal — Exercise 1: Normal four-way close: who gets TIME-WAIT?');
    expect(lines).toContain('   your answer: the server (it closed last) — wrong');
    expect(lines).toContain('   the answer: the client (it closed first)');
    expect(text).toContain('   server: The server closes last, but it is the passive closer.');
    expect(text).toContain('   client: Right. TIME-WAIT belongs to the active closer');
    // The run's own evidence, each line of a block at the placeholder's indentation.
    expect(lines).toContain('     CLOSED → SYN-SENT@0.494s → ESTAB@0.500s → FIN-WAIT-1@0.509s → FIN-WAIT-2@0.558s → TIME-WAIT@0.822s');
    expect(lines).toContain('   +0.813s  #1 s→c  [F.] seq=1001 ack=102 len=0 win=64  fin-ack');
    expect(lines).toContain('   +0.821s  #1 c→s  [.] seq=102 ack=1002 len=0 win=63  last-ack');
    expect(text).toContain('The client entered TIME-WAIT at 0.822s, when the server');
    expect(lines).toContain('   your answer: 40 ms — wrong');
    expect(lines).toContain('   the answer: 264 ms (measured on this run, within ±100 ms)');
    expect(text).toContain('On this run: 264 ms (FIN-WAIT-2@0.558s → TIME-WAIT@0.822s).');
    expect(text).toContain("The run confirmed the exercise's checks (all 6 checks met).");
    expect(lines).toContain('Score: 0 of 3');
    expect(text).not.toMatch(/\{\{/);
  });

  it('in Chinese: the same evidence, Chinese words around it', () => {
    const text = renderReveal({ exercise: x, scored: scoreAnswers(x, RIGHT, readings('zh')), readings: readings('zh'), checks: CHECKS, lang: 'zh' });
    const lines = text.split('\n');
    expect(lines[0]).toBe('揭晓 — 练习 1：正常的四次挥手：谁会进入 TIME-WAIT？');
    expect(lines).toContain('   你的答案：客户端（它先关闭） — 正确');
    expect(lines).toContain('   +0.813s  #1 s→c  [F.] seq=1001 ack=102 len=0 win=64  fin-ack');
    expect(text).toContain('客户端在 0.822s 进入 TIME-WAIT');
    expect(lines).toContain('得分：3 / 3');
  });

  it('a check the run did not confirm says the lab, not the student, is wrong', () => {
    const failed: ExpectationEvent[] = [{ ...CHECKS[0]!, status: 'failed', ok: false }];
    const text = renderReveal({ exercise: x, scored: scoreAnswers(x, RIGHT, readings('en')), readings: readings('en'), checks: failed, lang: 'en' });
    expect(text).toContain("The run did NOT confirm the exercise's checks (1 of 1 checks failed).");
    expect(text).toContain('The lab, not your answers, is wrong here');
  });

  it('fill keeps unknown placeholders and indents blocks', () => {
    expect(fill('a {{x}} {{y}}', { x: '1' })).toBe('a 1 {{y}}');
    expect(fill('  {{b}}', { b: 'l1\nl2' })).toBe('  l1\n  l2');
  });
});

describe('a Chinese reveal is Chinese where tcpmitm writes it', () => {
  it("the checks' status and subjects, and a number's unit", () => {
    const checks = [
      { type: 'expectation', t: 1, subject: 'client states (kernel)', status: 'met', expected: 'x', observed: 'SYN-SENT@0.1s → ESTAB@0.2s' },
      { type: 'expectation', t: 1, subject: 'server #2 never (inferred)', status: 'failed', expected: 'x', observed: 'CLOSED@1s' },
      { type: 'expectation', t: 1, subject: 'client exit', status: 'not-checked', expected: 'x', observed: 'not checked' },
    ] as const;
    expect(formatChecks(checks, 'zh').split('\n')).toEqual([
      '通过 客户端 状态（内核）：SYN-SENT@0.1s → ESTAB@0.2s',
      '失败 服务器 #2 从未出现（推断）：CLOSED@1s',
      '跳过 客户端 退出方式：not checked',
    ]);
    expect(formatChecks(checks).split('\n')[0]).toBe('ok   client states (kernel): SYN-SENT@0.1s → ESTAB@0.2s');
    const p = { id: 'n', kind: 'number', question: { en: 'q' }, unit: 'segments', answer: 2, tolerance: 0, reveal: { en: 'r' } } as const;
    expect(formatAnswer(p, 2, 'zh')).toBe('2 个报文段');
    expect(formatAnswer(p, 2, 'en')).toBe('2 segments');
  });
});

describe('try-next variants in the reveal', () => {
  it('print the command that runs them, --set and --sysctl alike', () => {
    const x1 = loadExercise('1').exercise;
    const withVariants: Exercise = {
      ...x1,
      tryNext: [
        { set: { times: 2 }, text: { en: 'two' } },
        { exercise: 'old-duplicate', sysctls: { both: { 'net.ipv4.tcp_timestamps': 0 }, server: { 'net.ipv4.tcp_fin_timeout': 5 } }, text: { en: 'off' } },
      ],
    };
    const text = renderReveal({ exercise: withVariants, scored: scoreAnswers(withVariants, RIGHT, readings('en')), readings: readings('en'), checks: CHECKS, lang: 'en' });
    // A variant of this exercise runs with --try (scored with its key); its flags are said aside.
    expect(text).toContain('  tcpmitm exercise run four-way-close --try 1 (--set times=2)\n');
    expect(text).toContain('  tcpmitm exercise run old-duplicate --sysctl net.ipv4.tcp_timestamps=0 --sysctl server:net.ipv4.tcp_fin_timeout=5\n');
  });
});
