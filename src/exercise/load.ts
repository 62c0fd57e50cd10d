// Finds and reads exercise files, answers files and result files: a number
// or a bare id is a built-in exercise (exercises/<id>.yaml at the package
// root), anything else a path. The file I/O of src/exercise besides run.ts;
// each file is read as the profile loader reads profiles (regular-file.ts)
// and parsed by the pure modules.

import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { readRegularFile, type RegularFileLimits } from '../io/regular-file.js';
import { PROFILE_MAX_BYTES } from '../rules/load.js';
import { parseAnswers, type Answers } from './answers.js';
import { parseResult } from './grade.js';
import { parseExercise } from './parse.js';
import type { GradedResult } from './result.js';
import type { Exercise } from './schema.js';
import { didYouMean } from '../rules/nearest.js';

/** exercises/ at the package root: this file runs as src/exercise/load.ts (tests) or dist/exercise/load.js. */
export function exercisesDir(): string {
  return fileURLToPath(new URL('../../exercises/', import.meta.url));
}

/** Limits of the files read here: an exercise may hold a profile, so it gets a profile's limit. */
const limits = (code: string, what: string, maxBytes: number, expected: string): RegularFileLimits => ({
  code,
  maxBytes,
  what,
  expected,
  tooBigHint: `${what} is small: is this the right file?`,
  notRegularHint: `${what} is read from a regular file (not a pipe, device or directory): save it to a file first`,
});
export const EXERCISE_FILE = limits('E_EXERCISE', 'an exercise', PROFILE_MAX_BYTES, 'a regular YAML file');
export const ANSWERS_FILE = limits('E_ANSWERS', 'an answers file', 64 * 1024, 'a regular YAML file');
export const RESULT_FILE = limits('E_RESULT', 'a result', 4 * 1024 * 1024, 'a regular JSON file');

export interface LoadedExercise {
  readonly exercise: Exercise;
  /** As shown in messages: "exercises/four-way-close.yaml" for built-ins. */
  readonly file: string;
  readonly builtin: boolean;
  readonly text: string;
}

/** The built-in exercises, in catalogue order. */
export function builtinExercises(): LoadedExercise[] {
  return readdirSync(exercisesDir())
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => loadExercise(f.slice(0, -'.yaml'.length)))
    .sort((a, b) => a.exercise.number - b.exercise.number);
}

const BUILTIN_ID = /^[a-z0-9][a-z0-9-]*$/;

function builtinPath(id: string): string {
  return join(exercisesDir(), `${id}.yaml`);
}

function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || rel === '' ? path : rel;
}

/** Loads a built-in exercise by number or id, or an exercise file by path. Throws E_EXERCISE (exit 2). */
export function loadExercise(ref: string): LoadedExercise {
  if (/^\d+$/.test(ref)) {
    const found = builtinExercises().find((l) => l.exercise.number === Number(ref));
    if (found) return found;
    throw new TcpmitmError('E_EXERCISE', `no built-in exercise number ${ref}; expected one of ${builtinExercises().map((l) => l.exercise.number).join(', ')}`, ExitCode.Usage, 'tcpmitm exercise list shows them');
  }
  if (BUILTIN_ID.test(ref) && existsSync(builtinPath(ref))) {
    const file = `exercises/${ref}.yaml`;
    const text = readRegularFile(builtinPath(ref), file, EXERCISE_FILE);
    return { exercise: parseExercise(text, file), file, builtin: true, text };
  }
  if (!existsSync(ref)) {
    const ids = readdirSync(exercisesDir()).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5));
    throw new TcpmitmError('E_EXERCISE', `'${ref}' is neither a built-in exercise nor a file${didYouMean(ref, ids)}; expected a number, one of ${ids.join(', ')}, or a path to a .yaml file`, ExitCode.Usage, 'tcpmitm exercise list shows the built-in exercises');
  }
  const file = shownPath(ref);
  const text = readRegularFile(ref, file, EXERCISE_FILE);
  return { exercise: parseExercise(text, file), file, builtin: false, text };
}

/** A student's answers to `x`. Throws E_ANSWERS (exit 2). */
export function loadAnswers(path: string, x: Exercise): Answers {
  const file = shownPath(path);
  return parseAnswers(readRegularFile(path, file, ANSWERS_FILE), file, x);
}

/** One result file for grading. Throws E_RESULT (exit 2). */
export function loadResult(path: string): GradedResult {
  const file = shownPath(path);
  return parseResult(readRegularFile(path, file, RESULT_FILE), file);
}
