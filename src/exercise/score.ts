// Scores a student's predictions against an exercise and one run's evidence:
// a choice is right when it is the one marked correct, an order when it is
// the answer's order exactly, a number when it is within the tolerance of the
// answer — a fixed one, or the value measured on this run. One point each; a
// wrong or missing answer is a score, never an error. Pure.

import type { Answer, Answers } from './answers.js';
import type { EvidenceReading } from './evidence.js';
import type { Exercise, NumberPrediction, Prediction } from './schema.js';

export interface Scored {
  readonly prediction: Prediction;
  /** The student's answer; undefined when not answered. */
  readonly yours?: Answer;
  /** The right answer: a choice id, the items in order, or the number (measured on this run when the exercise says so). */
  readonly answer?: Answer;
  readonly correct: boolean;
  /** A number answer measured on this run (undefined when the run did not show it). */
  readonly measured?: number;
  /** How far a number may be off, in its unit (after a percentage is applied). */
  readonly tolerance?: number;
}

/** The tolerance of a number prediction, in its unit, around `answer`. */
export function toleranceOf(p: NumberPrediction, answer: number): number {
  const t = p.tolerance;
  return typeof t === 'number' ? t : (Math.abs(answer) * Number(t.slice(0, -1))) / 100;
}

function scoreOne(p: Prediction, yours: Answer | undefined, readings: Readonly<Record<string, EvidenceReading>>): Scored {
  const base = yours === undefined ? { prediction: p } : { prediction: p, yours };
  if (p.kind === 'choice') {
    const answer = p.choices.find((c) => c.correct === true)!.id;
    return { ...base, answer, correct: yours === answer };
  }
  if (p.kind === 'order') {
    const ok = Array.isArray(yours) && yours.length === p.answer.length && p.answer.every((item, i) => yours[i] === item);
    return { ...base, answer: p.answer, correct: ok };
  }
  const fixed = typeof p.answer === 'number';
  const answer = typeof p.answer === 'number' ? p.answer : readings[p.answer.evidence]?.value;
  if (answer === undefined) return { ...base, correct: false };
  const tolerance = toleranceOf(p, answer);
  const correct = typeof yours === 'number' && Math.abs(yours - answer) <= tolerance + 1e-9;
  return { ...base, answer, correct, tolerance, ...(fixed ? {} : { measured: answer }) };
}

/** Every prediction of `x`, in order, scored. */
export function scoreAnswers(x: Exercise, answers: Answers, readings: Readonly<Record<string, EvidenceReading>>): Scored[] {
  return x.predictions.map((p) => scoreOne(p, Object.hasOwn(answers.answers, p.id) ? answers.answers[p.id] : undefined, readings));
}

export function points(scored: readonly Scored[]): { points: number; of: number } {
  return { points: scored.filter((s) => s.correct).length, of: scored.length };
}
