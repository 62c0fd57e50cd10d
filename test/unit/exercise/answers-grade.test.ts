// A student's answers file (validated against its exercise, file:line:col,
// E_ANSWERS) and a class's results read back for grading (E_RESULT), down to
// the CSV a spreadsheet opens.

import { describe, expect, it } from 'vitest';
import { AnswersError, answersTemplate, parseAnswers } from '../../../src/exercise/answers.js';
import { ResultError, gradeCsv, gradeRow, gradeTable, parseResult } from '../../../src/exercise/grade.js';
import { loadExercise } from '../../../src/exercise/load.js';
import { buildResult, RESULT_FORMAT } from '../../../src/exercise/result.js';
import { scoreAnswers } from '../../../src/exercise/score.js';
import { inLang } from '../../../src/exercise/schema.js';

const x = loadExercise('four-way-close').exercise;

function problem(text: string): string {
  try {
    parseAnswers(text, 'a.yaml', x);
  } catch (e) {
    expect(e).toBeInstanceOf(AnswersError);
    expect([(e as AnswersError).code, (e as AnswersError).exitCode]).toEqual(['E_ANSWERS', 2]);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('answers files', () => {
  it('takes a choice id, an order and a number; an empty or missing answer is unanswered', () => {
    const a = parseAnswers('student: alice\nanswers:\n  time-wait: client\n  client-order: [FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT]\n  fin-wait-2-ms:\n', 'a.yaml', x);
    expect(a).toEqual({ student: 'alice', answers: { 'time-wait': 'client', 'client-order': ['FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'] } });
  });

  it.each([
    ['an unknown prediction', 'answers:\n  who: client\n', "a.yaml:2:3: answers.who: unknown prediction 'who'; expected one of time-wait, client-order, fin-wait-2-ms"],
    ['a choice that is not one', 'answers:\n  time-wait: middle\n', "a.yaml:2:14: answers.time-wait: 'middle' is not a choice of time-wait; expected one of client, server, both, neither"],
    ['an order with an item missing', 'answers:\n  client-order: [FIN-WAIT-1, TIME-WAIT]\n', 'a.yaml:2:17: answers.client-order: [FIN-WAIT-1, TIME-WAIT] is not an order of client-order\'s items; expected a list with each of TIME-WAIT, FIN-WAIT-2, FIN-WAIT-1 once'],
    ['a number as text', 'answers:\n  fin-wait-2-ms: soon\n', "a.yaml:2:18: answers.fin-wait-2-ms: 'soon' is not a number; expected a number in ms"],
    ['another exercise', 'exercise: last-ack-lost\nanswers: {}\n', "a.yaml:1:11: exercise: 'last-ack-lost' is not this exercise; expected four-way-close"],
    ['no answers at all', 'student: x\n', 'a.yaml:1:1: answers: missing; expected a mapping of prediction ids to answers'],
  ])('refuses %s, at its line and column', (_, text, msg) => {
    expect(problem(text)).toBe(msg);
  });

  it('the template is an answers file: filled in, it parses', () => {
    const t = answersTemplate(x, (p) => inLang(p.question, 'en'));
    expect(parseAnswers(t, 'template.yaml', x).answers).toEqual({ 'client-order': ['TIME-WAIT', 'FIN-WAIT-2', 'FIN-WAIT-1'] });
    const filled = t.replace('time-wait: ', 'time-wait: client').replace('fin-wait-2-ms: ', 'fin-wait-2-ms: 250');
    expect(parseAnswers(filled, 'filled.yaml', x).answers['fin-wait-2-ms']).toBe(250);
  });
});

/** A result as `exercise run --json` writes it, for a made-up run. */
function resultFor(student: string, answers: Record<string, string | number | string[]>, confirmed = true, variant?: number): string {
  const readings = { 'client-fin-wait-2': { text: '250 ms', value: 250, seen: true } };
  const scored = scoreAnswers(x, { student, answers }, readings);
  const check = { type: 'expectation' as const, t: 1, status: confirmed ? ('met' as const) : ('failed' as const), ok: confirmed, subject: 'client states (kernel)', expected: 'e', observed: 'o' };
  const r = buildResult({ exercise: x, file: 'exercises/four-way-close.yaml', student, lang: 'en', wall: '2026-12-02T20:00:00.000Z', lab: { id: 'x1', profile: 'passthrough', exitCode: confirmed ? 0 : 3 }, ...(variant !== undefined ? { variant: { number: variant, text: 'v', set: { times: '2' } } } : {}), checks: [check], scored, reveal: 'the reveal' });
  return JSON.stringify(r, null, 2);
}

describe('grading', () => {
  const right = { 'time-wait': 'client', 'client-order': ['FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'], 'fin-wait-2-ms': 300 };

  it('reads back what run wrote and makes one row per result', () => {
    const r = parseResult(resultFor('alice', right), 'alice.json');
    expect(r.format).toBe(RESULT_FORMAT);
    expect(gradeRow('alice.json', r)).toEqual({ file: 'alice.json', student: 'alice', exercise: 'four-way-close', points: 3, of: 3, labConfirmed: true, wrong: [], unanswered: [] });
    expect(gradeRow('v.json', parseResult(resultFor('alice', right, true, 1), 'v.json'))).toMatchObject({ exercise: 'four-way-close', variant: 1, points: 3 });
    const bob = gradeRow('bob.json', parseResult(resultFor('bob', { 'time-wait': 'server', 'fin-wait-2-ms': 40 }), 'bob.json'));
    expect(bob).toMatchObject({ points: 0, wrong: ['time-wait', 'fin-wait-2-ms'], unanswered: ['client-order'] });
  });

  it('writes RFC 4180 CSV (quotes where needed) and a table with the mean', () => {
    const rows = [
      gradeRow('a.json', parseResult(resultFor('alice', right), 'a.json')),
      gradeRow('b.json', parseResult(resultFor('Lee, "Sam"', { 'time-wait': 'client' }, false), 'b.json')),
      // A try-next variant's run (--try 2): a column of its own, so it is never mistaken for the exercise's.
      gradeRow('c.json', parseResult(resultFor('alice', right, true, 2), 'c.json')),
    ];
    expect(gradeCsv(rows)).toBe(
      'file,student,exercise,variant,points,of,percent,lab_confirmed,wrong,unanswered\r\n' +
        'a.json,alice,four-way-close,,3,3,100,yes,,\r\n' +
        'b.json,"Lee, ""Sam""",four-way-close,,1,3,33,no,,client-order fin-wait-2-ms\r\n' +
        'c.json,alice,four-way-close,2,3,3,100,yes,,\r\n',
    );
    expect(gradeTable(rows).split('\n').at(-2)).toBe('3 result(s), mean 78%; 1 run(s) whose lab did not confirm its checks');
  });

  it('refuses what is not a result, naming the file, line and field', () => {
    const bad = resultFor('alice', right).replace('"points": 3', '"points": "three"');
    const line = bad.split('\n').findIndex((l) => l.includes('"three"')) + 1;
    expect(() => parseResult(bad, 'bad.json')).toThrow(ResultError);
    expect(() => parseResult(bad, 'bad.json')).toThrow(new RegExp(`^bad\\.json:${line}:\\d+: score\\.points: 'three' is a string; expected a whole number$`));
    expect(() => parseResult('{"format": "other"}', 'o.json')).toThrow(/\n  o\.json:1:12: format: "other" is not a result of this kind/);
  });
});
