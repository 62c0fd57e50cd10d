// Try-next variants scored with their own key (variant.ts): the overrides
// move a choice's `correct`, replace an order's or a number's answer, a
// choice's texts, an explanation, the checks, and add evidence — and nothing
// else, the exercise itself untouched. A bad override is refused with
// file:line:col like any other problem of an exercise. The built-in variants
// whose answers differ (checked on real runs, see the comments in their
// files) score the variant's right answers full and the exercise's wrong.

import { describe, expect, it } from 'vitest';
import { loadExercise } from '../../../src/exercise/load.js';
import { ExerciseError, parseExercise } from '../../../src/exercise/parse.js';
import { renderReveal } from '../../../src/exercise/reveal.js';
import { points, scoreAnswers } from '../../../src/exercise/score.js';
import { presentExercise } from '../../../src/exercise/present.js';
import type { EvidenceReading } from '../../../src/exercise/evidence.js';
import type { ChoicePrediction, Exercise } from '../../../src/exercise/schema.js';
import { isOwnVariant, variantExercise, variantLike } from '../../../src/exercise/variant.js';
import { BASE } from './cases.js';

const WITH_VARIANT = `${BASE}  - id: order
    kind: order
    question: {en: Order?}
    items: [A, B, C]
    answer: [A, B, C]
    reveal: {en: '{{cs}}'}
tryNext:
  - set: {x: 1}
    text: {en: the variant}
    checks:
      server: {states: [ESTAB, CLOSED]}
    evidence:
      ss: {states: {endpoint: server}}
    predictions:
      who:
        answer: server
        choices:
          server: {comment: {en: 'yes, here', zh: 这里是}}
        reveal: {en: 'the server: {{ss}}'}
      ms:
        answer: 5000
        tolerance: 10%
      order:
        answer: [C, B, A]
  - exercise: other
    text: {en: another exercise}
`;

function problemOf(text: string): string {
  try {
    parseExercise(text, 'x.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ExerciseError);
    return (e as Error).message;
  }
  throw new Error('the exercise was accepted');
}

const choice = (x: Exercise, id: string): ChoicePrediction => x.predictions.find((p) => p.id === id) as ChoicePrediction;

describe('a variant as an exercise of its own', () => {
  const x = parseExercise(WITH_VARIANT, 'x.yaml');
  const v = variantExercise(x, 0);

  it("moves the right choice, replaces a choice's comment, an order's and a number's answer, the tolerance, the explanation", () => {
    expect(choice(v, 'who').choices.map((c) => [c.id, c.correct === true, c.comment.en])).toEqual([
      ['client', false, 'yes'],
      ['server', true, 'yes, here'],
    ]);
    expect(choice(v, 'who').reveal).toEqual({ en: 'the server: {{ss}}' });
    expect(v.predictions[1]).toMatchObject({ id: 'ms', answer: 5000, tolerance: '10%', reveal: { en: '{{measured}}' } });
    expect(v.predictions[2]).toMatchObject({ id: 'order', answer: ['C', 'B', 'A'], items: ['A', 'B', 'C'] });
    expect(v.checks).toEqual({ server: { states: ['ESTAB', 'CLOSED'] } });
    expect(Object.keys(v.evidence!)).toEqual(['cs', 'fw2', 'ss']);
    // The story, the questions and the variants stay.
    expect([v.story, v.predictions.map((p) => p.question), v.tryNext]).toEqual([x.story, x.predictions.map((p) => p.question), x.tryNext]);
  });

  it('leaves the exercise itself as it was, and a variant of another exercise changes nothing here', () => {
    expect(choice(x, 'who').choices.find((c) => c.correct === true)!.id).toBe('client');
    expect(x.checks).toBeUndefined();
    expect(variantExercise(x, 1)).toBe(x);
    expect(variantExercise(x, 7)).toBe(x);
    expect([isOwnVariant(x, x.tryNext![0]!), isOwnVariant(x, x.tryNext![1]!)]).toEqual([true, false]);
  });

  it("scores the variant's answers right under its key, the exercise's wrong", () => {
    const readings: Record<string, EvidenceReading> = { fw2: { text: '300 ms', value: 300, seen: true } };
    const exercises = { student: 's', answers: { who: 'client', ms: 300, order: ['A', 'B', 'C'] } };
    const variants = { student: 's', answers: { who: 'server', ms: 5400, order: ['C', 'B', 'A'] } };
    expect([points(scoreAnswers(x, exercises, readings)), points(scoreAnswers(x, variants, readings))]).toEqual([{ points: 3, of: 3 }, { points: 0, of: 3 }]);
    expect([points(scoreAnswers(v, exercises, readings)), points(scoreAnswers(v, variants, readings))]).toEqual([{ points: 0, of: 3 }, { points: 3, of: 3 }]);
    // 5400 is within 10% of the variant's fixed 5000, not a measure of this run.
    expect(scoreAnswers(v, variants, readings)[1]).toMatchObject({ answer: 5000, tolerance: 500, correct: true });
  });

  it('says which variant ran: before the questions, in the reveal\'s title, and lists only the others', () => {
    expect(presentExercise(v, 'en', 1)).toContain('\nVariant 1:\n  the variant\n');
    const reveal = renderReveal({ exercise: v, scored: scoreAnswers(v, { answers: {} }, {}), readings: {}, checks: [], lang: 'en', variant: 1 });
    expect(reveal.split('\n')[0]).toBe('Reveal — Exercise 7 (variant 1): Mine');
    expect(reveal).not.toContain('--try 1');
    expect(reveal).toContain('  tcpmitm exercise run other\n');
    expect(renderReveal({ exercise: x, scored: [], readings: {}, checks: [], lang: 'zh' })).toContain('  tcpmitm exercise run mine --try 1（--set x=1）\n');
    // The only variant, run: nothing left to try.
    const tw = variantExercise(loadExercise('time-wait-assassination').exercise, 0);
    expect(renderReveal({ exercise: tw, scored: [], readings: {}, checks: [], lang: 'en', variant: 1 })).not.toContain('Try next');
  });
});

describe('a run with exactly a variant\'s --set and --sysctl, without --try', () => {
  it('is recognised as that variant (values compared as the command line writes them)', () => {
    const x = loadExercise('time-wait-assassination').exercise;
    expect(variantLike(x, { rfc1337: '1' }, undefined)).toBe(1);
    expect(variantLike(x, { rfc1337: '0' }, undefined)).toBeUndefined();
    expect(variantLike(x, {}, undefined)).toBeUndefined();
    const od = loadExercise('old-duplicate').exercise;
    expect(variantLike(od, {}, { both: { 'net.ipv4.tcp_timestamps': '0' } })).toBe(1);
    expect(variantLike(od, {}, { client: { 'net.ipv4.tcp_timestamps': '0' } })).toBeUndefined();
    // A variant naming another exercise is never this one's.
    expect(variantLike(loadExercise('keepalive-sysctls').exercise, {}, { client: { 'net.ipv4.tcp_keepalive_probes': '5' } })).toBe(1);
    expect(variantLike(loadExercise('killed-on-cue').exercise, {}, undefined)).toBeUndefined();
  });
});

describe('bad overrides are refused with file:line:col', () => {
  const cases: [string, string, RegExp][] = [
    ['a prediction the exercise does not have', "      ms:\n        answer: 5000", /x\.yaml:\d+:7: tryNext\[0\]\.predictions\.mss: 'mss' is not a prediction of this exercise; expected one of who, ms, order/],
    ['a choice the question does not have', '        answer: server', /x\.yaml:\d+:17: tryNext\[0\]\.predictions\.who\.answer: "sever" is not a choice of 'who'; expected one of client, server/],
    ['an order that is not of the items', '        answer: [C, B, A]', /tryNext\[0\]\.predictions\.order\.answer: \["C","B","B"\] is not an order of the items; expected each of A, B, C exactly once/],
    ['a number answer from text evidence', '        answer: 5000', /tryNext\[0\]\.predictions\.ms\.answer\.evidence: 'cs' measures nothing; expected entered, dwell, count or gap evidence in ms/],
    ['a tolerance for a choice', "        answer: server\n", /tryNext\[0\]\.predictions\.who\.tolerance: a tolerance for a choice prediction; expected one only for a number/],
    ['a placeholder naming no evidence', "reveal: {en: 'the server: {{ss}}'}", /tryNext\[0\]\.predictions\.who\.reveal\.en: '\{\{sss\}\}' names no evidence; expected one of \{\{cs\}\}, \{\{fw2\}\}, \{\{ss\}\}/],
    ['overrides for another exercise', '    text: {en: another exercise}\n', /tryNext\[1\]\.predictions: predictions for a variant that runs exercise 'other'; expected them only on a variant of this exercise/],
  ];
  const broken: Record<string, string> = {
    'a prediction the exercise does not have': WITH_VARIANT.replace("      ms:\n        answer: 5000", "      mss:\n        answer: 5000"),
    'a choice the question does not have': WITH_VARIANT.replace('        answer: server', '        answer: sever'),
    'an order that is not of the items': WITH_VARIANT.replace('        answer: [C, B, A]', '        answer: [C, B, B]'),
    'a number answer from text evidence': WITH_VARIANT.replace('        answer: 5000', '        answer: {evidence: cs}'),
    'a tolerance for a choice': WITH_VARIANT.replace('        answer: server\n', '        answer: server\n        tolerance: 3\n'),
    'a placeholder naming no evidence': WITH_VARIANT.replace("reveal: {en: 'the server: {{ss}}'}", "reveal: {en: 'the server: {{sss}}'}"),
    'overrides for another exercise': WITH_VARIANT.replace('    text: {en: another exercise}\n', '    text: {en: another exercise}\n    predictions:\n      who: {answer: client}\n'),
  };
  for (const [name, , re] of cases) {
    it(name, () => expect(problemOf(broken[name]!)).toMatch(re));
  }
});

describe("the built-in variants' keys", () => {
  /** The right choice of each choice prediction, under the exercise and under its variant `k` (from 1). */
  const keys = (ref: string, k: number): [Record<string, string>, Record<string, string>] => {
    const x = loadExercise(ref).exercise;
    const right = (e: Exercise) => Object.fromEntries(e.predictions.filter((p) => p.kind === 'choice').map((p) => [p.id, (p as ChoicePrediction).choices.find((c) => c.correct === true)!.id]));
    return [right(x), right(variantExercise(x, k - 1))];
  };

  it('time-wait-assassination, tcp_rfc1337=1: the RST is ignored, the next FIN is ACKed, TIME-WAIT lasts 60 s; the checks expect it', () => {
    expect(keys('time-wait-assassination', 1)).toEqual([
      { 'client-does': 'ends-time-wait', 'server-next-fin': 'rst' },
      { 'client-does': 'ignores', 'server-next-fin': 'ack' },
    ]);
    const v = variantExercise(loadExercise('time-wait-assassination').exercise, 0);
    expect(v.predictions[1]).toMatchObject({ id: 'time-wait-ms', answer: 60000, tolerance: '5%' });
    expect(v.checks).toMatchObject({ client: { not: ['CLOSED'] }, server: { states: ['ESTAB?', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED'] } });
  });

  it('old-duplicate, timestamps off: the sequence check rejects the old segment', () => {
    expect(keys('old-duplicate', 1)).toEqual([
      { 'new-syn': 'opens', 'old-segment': 'dup-ack', 'first-check': 'paws' },
      { 'new-syn': 'opens', 'old-segment': 'dup-ack', 'first-check': 'sequence' },
    ]);
  });

  it('orphan-timeout, tcp_fin_timeout 10 s: the orphan answers the late data with a RST', () => {
    expect(keys('orphan-timeout', 1)[1]).toMatchObject({ 'close-fate': 'rst', 'shutdown-fate': 'fin-wait-2', 'late-data': 'rst' });
  });

  it('the variants whose answers stay keep them (only texts or checks change)', () => {
    for (const [ref, k] of [['fin-delayed', 1], ['forged-rst', 1], ['keepalive-sysctls', 1], ['last-ack-lost', 1]] as const) {
      const [base, variant] = keys(ref, k);
      expect(variant, ref).toEqual(base);
    }
    expect(variantExercise(loadExercise('last-ack-lost').exercise, 0).checks?.server).toMatchObject({ states: ['ESTAB?', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED'] });
  });
});
