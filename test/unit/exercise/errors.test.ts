// Bad exercise files never run: exit 2 (E_EXERCISE), every problem as
// file:line:col: path: message, from the same machinery as profiles
// (yaml-source.ts) — schema problems and the cross-field ones alike.

import { describe, expect, it } from 'vitest';
import { ExerciseError, parseExercise } from '../../../src/exercise/parse.js';
import { BASE, CASES } from './cases.js';

const EXPECTED: Record<string, string> = {
  "two correct choices": "x.yaml:16:7: predictions[0].choices: 2 choices marked correct: true; expected exactly one",
  "no correct choice": "x.yaml:16:7: predictions[0].choices: 0 choices marked correct: true; expected exactly one",
  "a placeholder naming nothing": "x.yaml:18:18: predictions[0].reveal.en: '{{sc}}' names no evidence; expected one of {{cs}}, {{fw2}}, {{answer}}, {{yours}}, {{measured}}, {{checks}}",
  "a number answer naming no evidence": "x.yaml:23:24: predictions[1].answer.evidence: 'fw3' names no evidence; expected one of fw2",
  "a number answer from text evidence": "x.yaml:23:24: predictions[1].answer.evidence: 'cs' is states evidence, which measures nothing; expected entered, dwell, count or gap evidence",
  "a unit that is not the evidence's": "x.yaml:22:11: predictions[1].unit: 's', but evidence 'fw2' (dwell) is measured in ms; expected unit: ms",
  "an unknown kind of prediction": "x.yaml:20:11: predictions[1].kind: kind 'essay' is not a kind of prediction; expected kind: choice, order, number",
  "an unknown field": "x.yaml:4:1: scenery: unknown field 'scenery'; expected one of $schema, id, number, scenario, title, story, lab, checks, evidence, predictions, hints, tryNext",
  "an unknown kind of evidence": "x.yaml:9:7: evidence.cs: unknown kind of evidence 'stats'; expected a mapping with exactly one of states, segments, entered, dwell, count, gap, gaps, app, exit, actions (e.g. {states: {endpoint: client}})",
  "a bad tolerance": "x.yaml:24:16: predictions[1].tolerance: 'a bit' is not a percentage; expected e.g. '25%'",
  "an order answer that is not an order of its items": "x.yaml:30:13: predictions[2].answer: [A, B, B] is not an order of the items; expected each of A, B, C exactly once",
  "the same prediction id twice": "x.yaml:19:9: predictions[1].id: 'who' again (predictions[0] has it); expected each prediction id once",
  "a bad state in evidence": "x.yaml:10:42: evidence.fw2.dwell.state: 'FIN_WAIT_2' is not a known TCP state (did you mean 'FIN-WAIT-2'?); expected one of CLOSED, LISTEN, SYN-SENT, SYN-RECV, ESTAB, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT",
  "no English text": "x.yaml:4:8: title.en: missing; expected English text",
  "an inline profile with params": "x.yaml:10:5: lab.profile.params: a profile written in an exercise takes no params; expected fixed values (or a profile file, or a built-in profile with lab.set)",
};

function problemOf(text: string): string {
  try {
    parseExercise(text, 'x.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ExerciseError);
    expect([(e as ExerciseError).code, (e as ExerciseError).exitCode]).toEqual(['E_EXERCISE', 2]);
    return (e as Error).message;
  }
  throw new Error('the exercise was accepted');
}

describe('exercise errors', () => {
  it('the base case is a valid exercise', () => {
    const x = parseExercise(BASE, 'x.yaml');
    expect(x.predictions.map((p) => p.kind)).toEqual(['choice', 'number']);
  });

  it.each(CASES)('%s', (name, text) => {
    expect(problemOf(text)).toBe(EXPECTED[name]);
  });

  it('lists every problem of a file, in file order', () => {
    const text = BASE.replace('scenario: 1', 'scenario: 0').replace('unit: ms', 'unit: s').replace("'seen: {{cs}}'", "'{{nope}}'");
    const msg = problemOf(text);
    // The schema's problems come first (a cross-field check needs a valid shape).
    expect(msg).toBe('x.yaml:3:11: scenario: 0 is too small; expected a scenario number from the catalogue (DESIGN.md)');
    const cross = problemOf(BASE.replace('unit: ms', 'unit: s').replace("'seen: {{cs}}'", "'{{nope}}'"));
    expect(cross.split('\n').map((l) => l.trim().split(':').slice(0, 3).join(':'))).toEqual(['2 problems in x.yaml:', 'x.yaml:18:18', 'x.yaml:22:11']);
  });

  it('an empty file and YAML syntax errors are placed too', () => {
    expect(problemOf('')).toBe('x.yaml:1:1: the file is empty; expected an exercise with id, title, story, lab and predictions');
    expect(problemOf('id: a\nid: b\n')).toBe("x.yaml:2:1: YAML syntax: Map keys must be unique ('id' again)");
  });
});
