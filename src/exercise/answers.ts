// A student's answers file (`exercise run ID --answers FILE`): one answer per
// prediction id — a choice id, a list of items in order, or a number —
// validated against the exercise it answers, with file:line:col for every
// problem (E_ANSWERS, exit 2). A prediction left out is unanswered, not an
// error. Pure: text, file name and the exercise in.

import * as z from 'zod';
import { SourceError, parseYamlSource, schemaProblems, type Located, type SourceProblem } from '../rules/yaml-source.js';
import { listOf, notA, show, strict } from '../rules/schema-kit.js';
import type { Exercise } from './schema.js';

export type Answer = string | number | readonly string[];

// A prediction left empty (`id:` with nothing, as the template has it) or left out is unanswered.

export const AnswersSchema = strict(
  {
    $schema: z.string().optional(),
    exercise: z.string({ error: notA('the exercise id') }).optional().describe('the exercise these answer (checked when given)'),
    student: z.string({ error: notA("the student's name or id") }).min(1).optional().describe('who answered (for grade)'),
    answers: z.record(
      z.string(),
      z.union([z.string(), z.number(), listOf(z.string({ error: notA('an item') }), 'a list of items'), z.null()], {
        error: (iss) => `${show(iss.input)} is not an answer; expected a choice id, a number, or a list of items in order`,
      }),
      { error: notA('a mapping of prediction ids to answers') },
    ),
  },
  'an answers file',
);

export interface Answers {
  readonly student?: string;
  readonly answers: Readonly<Record<string, Answer>>;
}

export class AnswersError extends SourceError {
  constructor(problems: readonly SourceProblem[]) {
    super('E_ANSWERS', problems, 'the answers', 'tcpmitm exercise show ID --answers-template writes a file to fill in');
    this.name = 'AnswersError';
  }
}

/** Answers that do not fit the exercise's predictions, as paths into the document. */
function answerProblems(a: z.infer<typeof AnswersSchema>, x: Exercise): Located[] {
  const out: Located[] = [];
  if (a.exercise !== undefined && a.exercise !== x.id) {
    out.push({ path: ['exercise'], message: `'${a.exercise}' is not this exercise; expected ${x.id}` });
  }
  const ids = x.predictions.map((p) => p.id);
  for (const [id, v] of Object.entries(a.answers)) {
    const at = ['answers', id];
    const p = x.predictions.find((q) => q.id === id);
    if (v === null && p !== undefined) continue;
    if (p === undefined) {
      out.push({ path: at, message: `unknown prediction '${id}'; expected one of ${ids.join(', ')}`, atKey: true });
    } else if (p.kind === 'choice') {
      const choices = p.choices.map((c) => c.id);
      if (typeof v !== 'string' || !choices.includes(v)) out.push({ path: at, message: `${show(v)} is not a choice of ${id}; expected one of ${choices.join(', ')}` });
    } else if (p.kind === 'order') {
      const ok = Array.isArray(v) && v.length === p.items.length && p.items.every((item) => v.includes(item));
      if (!ok) out.push({ path: at, message: `${Array.isArray(v) ? `[${v.join(', ')}]` : show(v)} is not an order of ${id}'s items; expected a list with each of ${p.items.join(', ')} once` });
    } else if (typeof v !== 'number' || !Number.isFinite(v)) {
      out.push({ path: at, message: `${show(v)} is not a number; expected a number in ${p.unit}` });
    }
  }
  return out;
}

/** Parses and validates a student's answers to `x`. */
export function parseAnswers(text: string, file: string, x: Exercise): Answers {
  const fail = (problems: SourceProblem[]): never => {
    throw new AnswersError(problems);
  };
  const src = parseYamlSource(text, file, fail, { kind: 'an answers file', empty: `answers: {${x.predictions.map((p) => `${p.id}: …`).join(', ')}}` });
  const parsed = AnswersSchema.safeParse(src.raw);
  if (!parsed.success) return fail(schemaProblems(parsed.error.issues, src));
  const more = answerProblems(parsed.data, x);
  if (more.length > 0) fail(more.map((l) => src.locate(l)).sort((p, q) => p.line - q.line || p.col - q.col));
  const given: Record<string, Answer> = {};
  for (const [id, v] of Object.entries(parsed.data.answers)) if (v !== null) given[id] = v;
  return { ...(parsed.data.student !== undefined ? { student: parsed.data.student } : {}), answers: given };
}

/** An answers file to fill in, with each question as a comment (`exercise show ID --answers-template`). */
export function answersTemplate(x: Exercise, question: (p: Exercise['predictions'][number]) => string): string {
  const lines = [`exercise: ${x.id}`, 'student: your-name', 'answers:'];
  for (const p of x.predictions) {
    lines.push(`  # ${question(p).replace(/\n/g, ' ')}`);
    if (p.kind === 'choice') lines.push(`  #   one of: ${p.choices.map((c) => c.id).join(', ')}`, `  ${p.id}: `);
    else if (p.kind === 'order') lines.push(`  #   these, in order: ${p.items.join(', ')}`, `  ${p.id}: [${p.items.join(', ')}]`);
    else lines.push(`  #   a number in ${p.unit}`, `  ${p.id}: `);
  }
  return lines.join('\n') + '\n';
}
