// A try-next variant of an exercise as an exercise of its own: the same story
// and questions, run with the variant's parameters and sysctls, and scored
// and explained with the variant's key — the right answers, choice texts,
// explanations, checks and evidence it overrides (`exercise run N --try K`).
// A variant that names another exercise changes nothing here: that exercise
// is run under its own key. Also the cross-field problems of the overrides,
// for parse.ts. Pure.

import { UsageError } from '../cli/errors.js';
import type { Located } from '../rules/yaml-source.js';
import type { Path } from '../rules/params.js';
import { NUMERIC_EVIDENCE, type Exercise, type Prediction, type PredictionOverride, type TryNext } from './schema.js';
import type { Sysctls } from '../rules/schema.js';

/** Whether variant `t` of `x` runs `x` itself (its overrides apply), not another exercise. */
export function isOwnVariant(x: Exercise, t: TryNext): boolean {
  return t.exercise === undefined || t.exercise === x.id;
}

/**
 * Variant `n` (from 1, as the reveal lists them) of `x`, which must be one of
 * `x` itself: another exercise is run as itself, under its own key (exit 2).
 */
export function ownVariant(x: Exercise, n: number): TryNext {
  const all = x.tryNext ?? [];
  const t = all[n - 1];
  if (t === undefined) {
    throw new UsageError(
      `--try ${n}: exercise ${x.id} has ${all.length === 0 ? 'no try-next variants' : `try-next variants 1 to ${all.length}`}`,
      all.length === 0 ? 'run it without --try' : `they are listed at the end of its reveal; e.g. tcpmitm exercise run ${x.id} --try 1`,
    );
  }
  if (!isOwnVariant(x, t)) throw new UsageError(`--try ${n}: that variant is exercise '${t.exercise}', which is scored with its own key`, `run it: tcpmitm exercise run ${t.exercise}`);
  return t;
}

function applyOverride(p: Prediction, o: PredictionOverride): Prediction {
  const reveal = o.reveal ?? p.reveal;
  if (p.kind === 'choice') {
    const choices = p.choices.map((c) => {
      const co = o.choices?.[c.id];
      const correct = o.answer === undefined ? c.correct === true : o.answer === c.id;
      const { correct: _was, ...rest } = c;
      return { ...rest, ...(co?.text !== undefined ? { text: co.text } : {}), ...(co?.comment !== undefined ? { comment: co.comment } : {}), ...(correct ? { correct: true } : {}) };
    });
    return { ...p, choices, reveal };
  }
  if (p.kind === 'order') return { ...p, ...(Array.isArray(o.answer) ? { answer: o.answer } : {}), reveal };
  const answer = typeof o.answer === 'number' || (typeof o.answer === 'object' && !Array.isArray(o.answer)) ? o.answer : p.answer;
  return { ...p, answer, ...(o.tolerance !== undefined ? { tolerance: o.tolerance } : {}), reveal };
}

/**
 * Exercise `x` as its variant `index` (from 0) runs it: its checks, its
 * evidence over the exercise's, and each prediction with what the variant
 * overrides. The variant list stays, so the reveal still offers the others.
 */
export function variantExercise(x: Exercise, index: number): Exercise {
  const t = x.tryNext?.[index];
  if (t === undefined || !isOwnVariant(x, t)) return x;
  const predictions = x.predictions.map((p) => {
    const o = t.predictions?.[p.id];
    return o === undefined ? p : applyOverride(p, o);
  });
  const evidence = t.evidence === undefined ? x.evidence : { ...(x.evidence ?? {}), ...t.evidence };
  const checks = t.checks ?? x.checks;
  return { ...x, predictions, ...(evidence !== undefined ? { evidence } : {}), ...(checks !== undefined ? { checks } : {}) };
}

/** Sysctls as text, `both`/`client`/`server` in order and values as strings: one variant's and the command line's compare equal. */
function sysctlsKey(s: Sysctls | undefined): string {
  return JSON.stringify((['both', 'client', 'server'] as const).map((end) => Object.entries(s?.[end] ?? {}).map(([k, v]) => [k, String(v)]).sort()));
}

/**
 * The number (from 1) of the variant of `x` itself whose parameters and
 * sysctls are exactly these (--set and --sysctl given without --try), if any:
 * such a run is scored with the exercise's key, and the student should hear
 * that `--try N` scores it with the variant's.
 */
export function variantLike(x: Exercise, set: Readonly<Record<string, string>>, sysctls: Sysctls | undefined): number | undefined {
  if (Object.keys(set).length === 0 && sysctls === undefined) return undefined;
  const want = JSON.stringify([Object.entries(set).sort(), sysctlsKey(sysctls)]);
  const i = (x.tryNext ?? []).findIndex((t) => isOwnVariant(x, t) && JSON.stringify([Object.entries(t.set ?? {}).map(([k, v]) => [k, String(v)]).sort(), sysctlsKey(t.sysctls)]) === want);
  return i < 0 ? undefined : i + 1;
}

/** The problems of each variant's overrides that the schema cannot see, as paths into the document. */
export function variantProblems(x: Exercise): Located[] {
  const out: Located[] = [];
  (x.tryNext ?? []).forEach((t, i) => {
    const at: Path = ['tryNext', i];
    if (!isOwnVariant(x, t)) {
      for (const key of ['checks', 'evidence', 'predictions'] as const) {
        if (t[key] !== undefined) out.push({ path: [...at, key], message: `${key} for a variant that runs exercise '${t.exercise}'; expected them only on a variant of this exercise (that one is scored with its own key)`, atKey: true });
      }
      return;
    }
    const evidence = { ...(x.evidence ?? {}), ...(t.evidence ?? {}) };
    for (const [id, o] of Object.entries(t.predictions ?? {})) {
      const where: Path = [...at, 'predictions', id];
      const p = x.predictions.find((q) => q.id === id);
      if (p === undefined) {
        out.push({ path: where, message: `'${id}' is not a prediction of this exercise; expected one of ${x.predictions.map((q) => q.id).join(', ')}`, atKey: true });
        continue;
      }
      out.push(...overrideProblems(p, o, where, evidence));
    }
  });
  return out;
}

function overrideProblems(p: Prediction, o: PredictionOverride, where: Path, evidence: Readonly<Record<string, unknown>>): Located[] {
  const out: Located[] = [];
  const a = o.answer;
  if (p.kind !== 'number' && o.tolerance !== undefined) out.push({ path: [...where, 'tolerance'], message: `a tolerance for a ${p.kind} prediction; expected one only for a number`, atKey: true });
  if (p.kind !== 'choice' && o.choices !== undefined) out.push({ path: [...where, 'choices'], message: `choices for a ${p.kind} prediction; expected them only for a choice`, atKey: true });
  if (p.kind === 'choice') {
    const ids = p.choices.map((c) => c.id);
    if (a !== undefined && (typeof a !== 'string' || !ids.includes(a))) out.push({ path: [...where, 'answer'], message: `${JSON.stringify(a)} is not a choice of '${p.id}'; expected one of ${ids.join(', ')}` });
    for (const c of Object.keys(o.choices ?? {})) {
      if (!ids.includes(c)) out.push({ path: [...where, 'choices', c], message: `'${c}' is not a choice of '${p.id}'; expected one of ${ids.join(', ')}`, atKey: true });
    }
  } else if (p.kind === 'order') {
    const sorted = (l: readonly string[]): string => [...l].sort().join('\u0000');
    if (a !== undefined && (!Array.isArray(a) || sorted(a) !== sorted(p.items))) {
      out.push({ path: [...where, 'answer'], message: `${JSON.stringify(a)} is not an order of the items; expected each of ${p.items.join(', ')} exactly once` });
    }
  } else if (a !== undefined) {
    if (typeof a === 'string' || Array.isArray(a)) out.push({ path: [...where, 'answer'], message: `${JSON.stringify(a)} is not a number answer; expected a number, or {evidence: NAME}` });
    else if (typeof a === 'object') {
      const e = evidence[a.evidence] as Record<string, unknown> | undefined;
      const unit = e === undefined ? undefined : NUMERIC_EVIDENCE[Object.keys(e)[0]!];
      if (e === undefined) out.push({ path: [...where, 'answer', 'evidence'], message: `'${a.evidence}' names no evidence; expected a name under the exercise's or this variant's evidence` });
      else if (unit !== p.unit) out.push({ path: [...where, 'answer', 'evidence'], message: `'${a.evidence}' ${unit === undefined ? 'measures nothing' : `is measured in ${unit}`}; expected entered, dwell, count or gap evidence in ${p.unit}` });
    }
  }
  return out;
}
