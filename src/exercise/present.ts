// What a student reads before the run (`exercise show`, and the start of
// `exercise run`): the title, the story, each prediction with its choices or
// items, and how an answer to each is written. Pure.

import { messages } from './messages.js';
import { inLang, type Exercise, type Lang, type Prediction } from './schema.js';

/** "1.", "2."… and the question, in `lang`. */
export function questionLine(p: Prediction, i: number, lang: Lang): string {
  return `${i + 1}. ${inLang(p.question, lang)}`;
}

/** One prediction as asked: the question, then the choices (by id), the items to order, or the unit. */
export function presentPrediction(p: Prediction, i: number, lang: Lang, allAfter = false): string[] {
  const m = messages(lang);
  const lines = [questionLine(p, i, lang)];
  if (p.after === true && !allAfter) lines.push(`     (${m.afterRun})`);
  if (p.kind === 'choice') {
    for (const c of p.choices) lines.push(`     ${c.id}: ${inLang(c.text, lang)}`);
  } else if (p.kind === 'order') {
    lines.push(`     ${m.orderThese}${m.colon}${p.items.join(', ')}`);
  } else {
    lines.push(`     (${m.answerIn(m.unit(p.unit))})`);
  }
  lines.push(`     [${p.id}]`);
  return lines;
}

/** The whole exercise as a student reads it before the run. */
export function presentExercise(x: Exercise, lang: Lang, variant?: number): string {
  const m = messages(lang);
  const out = [`${m.exercise} ${x.number}${m.colon}${inLang(x.title, lang)}  (${x.id})`, '', `${m.story}${m.colon.trimEnd()}`, ...indent(inLang(x.story, lang))];
  // A try-next variant (--try N): what it changes, after the story it changes.
  const t = variant === undefined ? undefined : x.tryNext?.[variant - 1];
  if (t !== undefined) out.push('', `${m.variant(variant!).replace(/^./, (c) => c.toUpperCase())}${m.colon.trimEnd()}`, ...indent(inLang(t.text, lang)));
  out.push('', `${x.predictions.every((p) => p.after === true) ? m.questionsAfterRun : m.predictions}${m.colon.trimEnd()}`);
  // Every question after the run: the heading says so once.
  const allAfter = x.predictions.every((p) => p.after === true);
  x.predictions.forEach((p, i) => out.push(...presentPrediction(p, i, lang, allAfter)));
  if (x.hints !== undefined && x.hints.length > 0) {
    out.push('', `${m.hints}${m.colon.trimEnd()}`);
    for (const h of x.hints) out.push(...indent(`- ${inLang(h, lang)}`));
  }
  return out.join('\n') + '\n';
}

/** Each line of `text` indented by `n` spaces (trailing blank lines dropped). */
export function indent(text: string, n = 2): string[] {
  const pad = ' '.repeat(n);
  return text.replace(/\s+$/, '').split('\n').map((l) => (l === '' ? '' : pad + l));
}
