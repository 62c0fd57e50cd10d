// `exercise grade`: a class's result files read back (each validated, with
// file:line:col for a bad one: E_RESULT, exit 2) and turned into one row per
// run — as a table for people or CSV (RFC 4180) for a spreadsheet. Pure.

import { SourceError, parseYamlSource, schemaProblems, type SourceProblem } from '../rules/yaml-source.js';
import { GradedResultSchema, type GradedResult } from './result.js';

export class ResultError extends SourceError {
  constructor(problems: readonly SourceProblem[]) {
    super('E_RESULT', problems, 'the result', 'grade reads the files `tcpmitm exercise run … --json FILE` writes');
    this.name = 'ResultError';
  }
}

/** Parses one result file (JSON; read as YAML for the positions). */
export function parseResult(text: string, file: string): GradedResult {
  const fail = (problems: SourceProblem[]): never => {
    throw new ResultError(problems);
  };
  const src = parseYamlSource(text, file, fail, { kind: 'a result', empty: 'a result written by tcpmitm exercise run --json' });
  const parsed = GradedResultSchema.safeParse(src.raw);
  if (!parsed.success) return fail(schemaProblems(parsed.error.issues, src));
  return parsed.data;
}

export interface GradeRow {
  readonly file: string;
  readonly student: string;
  readonly exercise: string;
  /** The try-next variant that ran (from 1), scored with its own key; undefined for the exercise itself. */
  readonly variant?: number;
  readonly points: number;
  readonly of: number;
  /** The run confirmed the exercise's checks: when not, the lab (not the student) went wrong and the score says little. */
  readonly labConfirmed: boolean;
  readonly wrong: readonly string[];
  readonly unanswered: readonly string[];
}

export function gradeRow(file: string, r: GradedResult): GradeRow {
  return {
    file,
    student: r.student ?? '',
    exercise: r.exercise.id,
    ...(r.variant !== undefined ? { variant: r.variant.number } : {}),
    points: r.score.points,
    of: r.score.of,
    labConfirmed: r.checks.confirmed,
    wrong: r.predictions.filter((p) => p.answered && !p.correct).map((p) => p.id),
    unanswered: r.predictions.filter((p) => !p.answered).map((p) => p.id),
  };
}

const HEADER = ['file', 'student', 'exercise', 'variant', 'points', 'of', 'percent', 'lab_confirmed', 'wrong', 'unanswered'] as const;

function cells(r: GradeRow): string[] {
  const pct = r.of === 0 ? '' : String(Math.round((100 * r.points) / r.of));
  return [r.file, r.student, r.exercise, r.variant === undefined ? '' : String(r.variant), String(r.points), String(r.of), pct, r.labConfirmed ? 'yes' : 'no', r.wrong.join(' '), r.unanswered.join(' ')];
}

/** A field quoted when it must be (RFC 4180: a comma, a quote, a line break), quotes doubled. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function gradeCsv(rows: readonly GradeRow[]): string {
  return [HEADER.join(','), ...rows.map((r) => cells(r).map(csvField).join(','))].map((l) => l + '\r\n').join('');
}

/** The same rows as an aligned table, with the class's mean at the end. */
export function gradeTable(rows: readonly GradeRow[]): string {
  const all = [[...HEADER], ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const lines = all.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  const scored = rows.filter((r) => r.of > 0);
  if (scored.length > 0) {
    const mean = scored.reduce((a, r) => a + r.points / r.of, 0) / scored.length;
    lines.push(`${rows.length} result(s), mean ${Math.round(mean * 100)}%${rows.some((r) => !r.labConfirmed) ? `; ${rows.filter((r) => !r.labConfirmed).length} run(s) whose lab did not confirm its checks` : ''}`);
  }
  return lines.join('\n') + '\n';
}
