// The result of one exercise run (`exercise run … --json FILE`): what was
// asked, answered and measured, the checks, the score and the reveal's text —
// and the definition `exercise grade` reads it back with (only the fields
// grading needs are required, so a newer file still grades). Pure.

import * as z from 'zod';
import type { ExpectationEvent } from '../engine/events.js';
import { listOf, notA, strict } from '../rules/schema-kit.js';
import { points, type Scored } from './score.js';
import { confirmed } from './reveal.js';
import { inLang, type Exercise, type Lang } from './schema.js';
import type { Answer } from './answers.js';
import type { Sysctls } from '../rules/schema.js';

export const RESULT_FORMAT = 'tcpmitm-exercise-result/1';

export interface ExerciseResult {
  readonly format: typeof RESULT_FORMAT;
  readonly exercise: { readonly id: string; readonly number: number; readonly title: string; readonly file: string };
  readonly student?: string;
  readonly lang: Lang;
  /** When the run started, ISO 8601. */
  readonly wall: string;
  readonly lab: { readonly id: string; readonly profile: string; readonly exitCode: number };
  /** The try-next variant that ran (`--try N`) and was scored with its key; absent for the exercise itself. */
  readonly variant?: ResultVariant;
  readonly checks: { readonly confirmed: boolean; readonly results: readonly Omit<ExpectationEvent, 'type' | 't' | 'ok'>[] };
  readonly predictions: readonly {
    readonly id: string;
    readonly kind: string;
    readonly question: string;
    readonly answered: boolean;
    readonly yours: Answer | null;
    readonly answer: Answer | null;
    readonly measured?: number;
    readonly tolerance?: number;
    readonly correct: boolean;
  }[];
  readonly score: { readonly points: number; readonly of: number };
  readonly reveal: string;
}

export interface ResultVariant {
  /** Its place in the exercise's tryNext, from 1. */
  readonly number: number;
  readonly text: string;
  /** The parameters and sysctls it ran with (the command line's over the variant's). */
  readonly set: Readonly<Record<string, string>>;
  readonly sysctls?: Sysctls;
}

export interface ResultInput {
  readonly exercise: Exercise;
  readonly file: string;
  readonly student?: string;
  readonly lang: Lang;
  readonly wall: string;
  readonly lab: ExerciseResult['lab'];
  readonly variant?: ResultVariant;
  readonly checks: readonly ExpectationEvent[];
  readonly scored: readonly Scored[];
  readonly reveal: string;
}

export function buildResult(r: ResultInput): ExerciseResult {
  return {
    format: RESULT_FORMAT,
    exercise: { id: r.exercise.id, number: r.exercise.number, title: inLang(r.exercise.title, r.lang), file: r.file },
    ...(r.student !== undefined ? { student: r.student } : {}),
    lang: r.lang,
    wall: r.wall,
    lab: r.lab,
    ...(r.variant !== undefined ? { variant: r.variant } : {}),
    checks: {
      confirmed: confirmed(r.checks),
      results: r.checks.map((c) => ({ status: c.status, subject: c.subject, expected: c.expected, observed: c.observed })),
    },
    predictions: r.scored.map((s) => ({
      id: s.prediction.id,
      kind: s.prediction.kind,
      question: inLang(s.prediction.question, r.lang),
      answered: s.yours !== undefined,
      yours: s.yours ?? null,
      answer: s.answer ?? null,
      ...(s.measured !== undefined ? { measured: s.measured } : {}),
      ...(s.tolerance !== undefined ? { tolerance: s.tolerance } : {}),
      correct: s.correct,
    })),
    score: points(r.scored),
    reveal: r.reveal,
  };
}

const count = z.number({ error: notA('a whole number') }).int().min(0);

/** What `exercise grade` needs of a result file. */
export const GradedResultSchema = z.object(
  {
    format: z.literal(RESULT_FORMAT, { error: (iss) => `${JSON.stringify(iss.input) ?? 'nothing'} is not a result of this kind; expected format: ${RESULT_FORMAT} (a file written by tcpmitm exercise run --json)` }),
    exercise: z.object({ id: z.string({ error: notA('an exercise id') }), number: count }, { error: notA('the exercise (id, number)') }),
    student: z.string({ error: notA("the student's name") }).optional(),
    variant: z.object({ number: count.min(1) }, { error: notA('the variant that ran (number)') }).optional(),
    checks: z.object({ confirmed: z.boolean({ error: notA('true or false') }) }, { error: notA('the checks') }),
    predictions: listOf(z.object({ id: z.string(), answered: z.boolean(), correct: z.boolean({ error: notA('true or false') }) }, { error: notA('a prediction') }), 'a list of predictions'),
    score: strict({ points: count, of: count }, 'the score'),
  },
  { error: notA('a result (a JSON object written by tcpmitm exercise run --json)') },
);

export type GradedResult = z.infer<typeof GradedResultSchema>;
