// The pieces every zod definition of a file tcpmitm reads is built from
// (profiles, exercises, answers): fields whose errors say
// "<bad value> <problem>; expected <what is allowed>", and strict mappings
// whose unknown fields are errors listing the allowed ones.

import * as z from 'zod';
import { didYouMean } from './nearest.js';

/** Renders a value the way the user wrote it, for error messages. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return Number.isInteger(v) ? 'a whole number' : 'a number';
  return `a ${typeof v}`;
}

/** "<value> is not <kind>; expected <expected>", or "missing; expected …" for an absent required field. */
export function notA(expected: string): (iss: { input?: unknown }) => string {
  return (iss) =>
    iss.input === undefined
      ? `missing; expected ${expected}`
      : typeof iss.input === 'object' && iss.input !== null
        ? `got ${kindOf(iss.input)}; expected ${expected}`
        : `${show(iss.input)} is ${kindOf(iss.input)}; expected ${expected}`;
}

export function oneOfMsg(what: string, values: readonly string[]): (iss: { input?: unknown }) => string {
  const expected = `one of ${values.join(', ')}`;
  return (iss) =>
    iss.input === undefined
      ? `missing; expected ${expected}`
      : typeof iss.input === 'string'
        ? `${show(iss.input)} is not a known ${what}${didYouMean(iss.input, values)}; expected ${expected}`
        : `${show(iss.input)} is not a ${what} name; expected ${expected}`;
}

/** A whole number in [min, max], with messages that say which bound was crossed. */
export function intIn(min: number, max: number, expected: string) {
  return z
    .number({ error: notA(expected) })
    .int({ error: (iss) => `${show(iss.input)} is not a whole number; expected ${expected}` })
    .min(min, { error: (iss) => `${show(iss.input)} is ${min === 0 ? 'negative' : 'too small'}; expected ${expected}` })
    .max(max, { error: (iss) => `${show(iss.input)} is too large; expected ${expected}` });
}

/**
 * The mark in an unknown field's message that the YAML reader replaces, per
 * field, with the nearest allowed names (zod reports all unknown fields of a
 * mapping in one issue; `%KEY%` is replaced with each).
 */
export const NEAR_MARK = /%NEAR:([^%]*)%/;

/** " (did you mean 'match'?)" for an unknown field, from a message made by `strict`. */
export function nearFieldFor(message: string, key: string): string {
  const m = NEAR_MARK.exec(message);
  return message.replace(NEAR_MARK, m === null ? '' : didYouMean(key, m[1]!.split(',')));
}

/** A strict mapping: unknown fields are errors that list the fields that are allowed (and the nearest one). */
export function strict<T extends z.ZodRawShape>(shape: T, what: string, unknownKey?: string) {
  const names = Object.keys(shape).filter((k) => k !== '$schema');
  const fields = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? (unknownKey ?? `unknown field '%KEY%'%NEAR:${names.join(',')}%; expected one of ${fields}`)
        : notA(`${what} (a mapping with ${fields})`)(iss),
  });
}

export function listOf<T extends z.ZodType>(item: T, expected: string) {
  return z.array(item, { error: notA(expected) });
}

