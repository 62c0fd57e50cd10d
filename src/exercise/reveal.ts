// The reveal after a run: per prediction, the student's answer and whether it
// was right, the answer, the comment on the choice made (and on the right one),
// and the exercise's explanation with its {{placeholders}} filled from this
// run's evidence; then the checks and the score. Pure.

import type { ExpectationEvent } from '../engine/events.js';
import { summarize } from '../rules/expect.js';
import type { Sysctls } from '../rules/schema.js';
import type { Answer } from './answers.js';
import type { EvidenceReading } from './evidence.js';
import { messages } from './messages.js';
import { PLACEHOLDER } from './parse.js';
import { indent, questionLine } from './present.js';
import { points, type Scored } from './score.js';
import { inLang, type Exercise, type Lang, type Prediction } from './schema.js';
import { isOwnVariant } from './variant.js';

/** An answer as a student reads it: a choice's text, items joined by arrows, a number with its unit. */
export function formatAnswer(p: Prediction, a: Answer | undefined, lang: Lang): string {
  if (a === undefined) return messages(lang).unanswered;
  if (p.kind === 'choice') {
    const c = p.choices.find((x) => x.id === a);
    return c ? inLang(c.text, lang) : String(a);
  }
  if (Array.isArray(a)) return a.join(' → ');
  // Measured seconds carry the kernel's µs: shown to the ms, as every other time.
  if (p.kind === 'number' && typeof a === 'number') return `${p.unit === 's' ? Number(a.toFixed(3)) : a} ${messages(lang).unit(p.unit)}`;
  return String(a);
}

/** The checks, one per line: "ok   client states (kernel): SYN-SENT@… → …" ("通过 客户端 状态（内核）：…" in Chinese). */
export function formatChecks(checks: readonly ExpectationEvent[], lang: Lang = 'en'): string {
  const status = lang === 'zh' ? { met: '通过', failed: '失败', 'not-checked': '跳过' } : { met: 'ok  ', failed: 'FAIL', 'not-checked': 'SKIP' };
  return checks.map((c) => `${status[c.status]} ${subjectIn(c.subject, lang)}${messages(lang).colon}${c.observed}`).join('\n');
}

/**
 * A check's subject in `lang`. Subjects are made of few words (rules/expect.ts:
 * "client states (kernel)", "server #2 never (inferred)", "client app", "server exit");
 * a subject of other words stays as it is.
 */
function subjectIn(subject: string, lang: Lang): string {
  if (lang === 'en') return subject;
  const m = /^(client|server)( #\d+)? (states|never|app|exit)(?: \((kernel|inferred)\))?$/.exec(subject);
  if (!m) return subject;
  const [, end, conn = '', what, src] = m;
  const words = { client: '客户端', server: '服务器', states: '状态', never: '从未出现', app: '应用事件', exit: '退出方式', kernel: '内核', inferred: '推断' } as const;
  return `${words[end as 'client']}${conn} ${words[what as 'states']}${src ? `（${words[src as 'kernel']}）` : ''}`;
}

export interface RevealInput {
  readonly exercise: Exercise;
  readonly scored: readonly Scored[];
  readonly readings: Readonly<Record<string, EvidenceReading>>;
  readonly checks: readonly ExpectationEvent[];
  readonly lang: Lang;
  /** The try-next variant that ran (from 1), whose key `exercise` already is (variant.ts). */
  readonly variant?: number;
}

/**
 * A reveal text with every {{name}} replaced by its value (evidence, or the
 * built-ins). A value of several lines (segment lines) keeps the indentation
 * of the line it is inserted on, so it reads as one block.
 */
export function fill(text: string, values: Readonly<Record<string, string>>): string {
  return text
    .split('\n')
    .map((line) => {
      const pad = /^\s*/.exec(line)![0];
      return line.replace(PLACEHOLDER, (whole, name: string) => (Object.hasOwn(values, name) ? values[name]!.split('\n').join(`\n${pad}`) : whole));
    })
    .join('\n');
}

/** Whether the run confirmed every check (none failed; not-checked ones neither confirm nor refute). */
export function confirmed(checks: readonly ExpectationEvent[]): boolean {
  return checks.every((c) => c.status !== 'failed');
}

/** The explanation of one prediction, placeholders filled, for this run. */
export function explanation(s: Scored, r: RevealInput): string {
  const values: Record<string, string> = { checks: formatChecks(r.checks, r.lang) };
  for (const [k, v] of Object.entries(r.readings)) values[k] = v.text;
  values['answer'] = s.answer === undefined ? messages(r.lang).notSeen : formatAnswer(s.prediction, s.answer, r.lang);
  values['yours'] = formatAnswer(s.prediction, s.yours, r.lang);
  values['measured'] = s.measured === undefined ? messages(r.lang).notSeen : formatAnswer(s.prediction, s.measured, r.lang);
  return fill(inLang(s.prediction.reveal, r.lang), values);
}

function revealOne(s: Scored, i: number, r: RevealInput): string[] {
  const m = messages(r.lang);
  const p = s.prediction;
  const verdict = s.yours === undefined ? '' : ` — ${s.correct ? m.right : m.wrong}`;
  const lines = [questionLine(p, i, r.lang), `   ${m.yourAnswer}${m.colon}${formatAnswer(p, s.yours, r.lang)}${verdict}`];
  if (s.answer === undefined) {
    lines.push(`   ${m.theAnswer}${m.colon}${m.noMeasure}`);
  } else {
    const words = [
      ...(s.measured !== undefined ? [m.measured] : []),
      ...(s.tolerance !== undefined && s.tolerance > 0 && p.kind === 'number' ? [m.within(`±${p.unit === 's' ? Math.round(s.tolerance * 1000) / 1000 : Math.round(s.tolerance)} ${m.unit(p.unit)}`)] : []),
    ];
    const source = words.length > 0 ? m.aside(words.join(m.comma)) : '';
    lines.push(`   ${m.theAnswer}${m.colon}${formatAnswer(p, s.answer, r.lang)}${source}`);
  }
  if (p.kind === 'choice') {
    // The comment on the choice made, then (if it was wrong) the comment on the right one.
    const mine = p.choices.find((c) => c.id === s.yours);
    const right = p.choices.find((c) => c.correct === true)!;
    if (mine) lines.push(...indent(`${mine.id}: ${inLang(mine.comment, r.lang)}`, 3));
    if (mine !== right) lines.push(...indent(`${right.id}: ${inLang(right.comment, r.lang)}`, 3));
  }
  lines.push('', ...indent(explanation(s, r), 3));
  return lines;
}

/** The whole reveal: every prediction, the checks, the score. */
export function renderReveal(r: RevealInput): string {
  const m = messages(r.lang);
  const x = r.exercise;
  const which = r.variant === undefined ? '' : m.aside(m.variant(r.variant));
  const out = [`${m.reveal} — ${m.exercise} ${x.number}${which}${m.colon}${inLang(x.title, r.lang)}`, ''];
  r.scored.forEach((s, i) => out.push(...revealOne(s, i, r), ''));
  const ok = confirmed(r.checks);
  const summary = r.lang === 'zh' ? summarizeZh(r.checks) : summarize(r.checks);
  out.push(ok ? m.checksConfirmed(summary) : m.checksNotConfirmed(summary));
  out.push(...indent(formatChecks(r.checks, r.lang)));
  if (!ok) out.push(m.labWrong);
  const sc = points(r.scored);
  out.push('', m.score(sc.points, sc.of));
  // The variants to try, but the one that ran.
  const others = (x.tryNext ?? []).map((t, i) => ({ t, i })).filter(({ i }) => i + 1 !== r.variant);
  if (others.length > 0) {
    out.push('', `${m.tryNext}${m.colon.trimEnd()}`);
    others.forEach(({ t, i }) => {
      const flags = `${Object.entries(t.set ?? {}).map(([k, v]) => ` --set ${k}=${String(v)}`).join('')}${sysctlFlags(t.sysctls)}`;
      // A variant of this exercise runs with --try, which scores it with its own key; its flags are said aside.
      const command = isOwnVariant(x, t) ? `tcpmitm exercise run ${x.id} --try ${i + 1}${flags === '' ? '' : m.aside(flags.trimStart())}` : `tcpmitm exercise run ${t.exercise}${flags}`;
      out.push(`  ${command}`, ...indent(inLang(t.text, r.lang), 4));
    });
  }
  return out.join('\n') + '\n';
}

/** rules/expect.ts's summarize, in Chinese: "全部 6 项检查通过", "6 项检查中 1 项失败，2 项未检查". */
function summarizeZh(results: readonly ExpectationEvent[]): string {
  const failed = results.filter((c) => c.status === 'failed').length;
  const skipped = results.filter((c) => c.status === 'not-checked').length;
  const made = results.length - skipped;
  const head = made === 0 ? '没有进行任何检查' : failed === 0 ? `全部 ${made} 项检查通过` : `${made} 项检查中 ${failed} 项失败`;
  return skipped === 0 ? head : `${head}，${skipped} 项未检查`;
}

/** A variant's sysctls as the command line writes them: " --sysctl server:net.ipv4.tcp_timestamps=0". */
function sysctlFlags(s: Sysctls | undefined): string {
  if (!s) return '';
  return (['both', 'client', 'server'] as const)
    .flatMap((end) => Object.entries(s[end] ?? {}).map(([k, v]) => ` --sysctl ${end === 'both' ? '' : `${end}:`}${k}=${String(v)}`))
    .join('');
}
