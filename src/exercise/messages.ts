// The words tcpmitm itself says around an exercise (headings, verdicts,
// "not seen in this run"), in each language an exercise is written in, and
// how the language is chosen: --lang, else the environment's locale. Pure.

import type { Lang } from './schema.js';

export interface Messages {
  /** ': ' in English, '：' in Chinese (full-width, no space). */
  readonly colon: string;
  /** Words set aside: ' (…)' in English, '（…）' in Chinese. */
  readonly aside: (s: string) => string;
  /** ', ' / '，' */
  readonly comma: string;
  readonly exercise: string;
  readonly story: string;
  readonly predictions: string;
  readonly hints: string;
  readonly tryNext: string;
  /** A try-next variant of the exercise, by its number (from 1). */
  readonly variant: (n: number) => string;
  readonly reveal: string;
  readonly yourAnswer: string;
  readonly theAnswer: string;
  readonly right: string;
  readonly wrong: string;
  readonly unanswered: string;
  readonly measured: string;
  readonly within: (tolerance: string) => string;
  readonly notSeen: string;
  readonly stillIn: (state: string, atLeastMs: number) => string;
  readonly score: (points: number, of: number) => string;
  readonly checksConfirmed: (summary: string) => string;
  readonly checksNotConfirmed: (summary: string) => string;
  readonly labWrong: string;
  readonly choices: string;
  readonly orderThese: string;
  /** Marks a prediction asked after the run (a diagnosis). */
  readonly afterRun: string;
  /** The heading when every question is asked after the run. */
  readonly questionsAfterRun: string;
  readonly answerIn: (unit: string) => string;
  /** A number prediction's unit as written after a number (ms and s are the same in both languages). */
  readonly unit: (unit: 'ms' | 's' | 'segments') => string;
  readonly noMeasure: string;
}

const en: Messages = {
  colon: ': ',
  aside: (s) => ` (${s})`,
  comma: ', ',
  exercise: 'Exercise',
  story: 'Story',
  predictions: 'Predictions (answer them before the run)',
  hints: 'Hints',
  tryNext: 'Try next',
  variant: (n) => `variant ${n}`,
  reveal: 'Reveal',
  yourAnswer: 'your answer',
  theAnswer: 'the answer',
  right: 'right',
  wrong: 'wrong',
  unanswered: '(not answered)',
  measured: 'measured on this run',
  within: (t) => `within ${t}`,
  notSeen: '(not seen in this run)',
  stillIn: (s, ms) => `at least ${ms} ms (still in ${s} when the run ended)`,
  score: (p, of) => `Score: ${p} of ${of}`,
  checksConfirmed: (s) => `The run confirmed the exercise's checks (${s}).`,
  checksNotConfirmed: (s) => `The run did NOT confirm the exercise's checks (${s}).`,
  labWrong: 'The lab, not your answers, is wrong here: the reveal below describes what this run did, which is not what the exercise teaches. Run it again; if it keeps failing, report it.',
  choices: 'choices',
  orderThese: 'put these in order',
  afterRun: 'after the run: answer it from what the run shows',
  questionsAfterRun: 'Questions (answer them after the run, from what it shows)',
  answerIn: (u) => `answer in ${u}`,
  unit: (u) => u,
  noMeasure: 'this run did not show what the answer measures, so it cannot be scored',
};

const zh: Messages = {
  colon: '：',
  aside: (s) => `（${s}）`,
  comma: '，',
  exercise: '练习',
  story: '情景',
  predictions: '预测（请在运行之前回答）',
  hints: '提示',
  tryNext: '接下来试试',
  variant: (n) => `变体 ${n}`,
  reveal: '揭晓',
  yourAnswer: '你的答案',
  theAnswer: '正确答案',
  right: '正确',
  wrong: '错误',
  unanswered: '（未作答）',
  measured: '本次运行测得',
  within: (t) => `误差 ${t} 以内`,
  notSeen: '（本次运行中没有出现）',
  stillIn: (s, ms) => `至少 ${ms} ms（运行结束时仍处于 ${s}）`,
  score: (p, of) => `得分：${p} / ${of}`,
  checksConfirmed: (s) => `本次运行证实了练习的检查项（${s}）。`,
  checksNotConfirmed: (s) => `本次运行没有证实练习的检查项（${s}）。`,
  labWrong: '这里出错的是实验环境，而不是你的答案：下面的揭晓描述的是这次运行实际发生的事情，它与练习要讲的内容不符。请再运行一次；如果一直失败，请报告这个问题。',
  choices: '选项',
  orderThese: '请排出顺序',
  afterRun: '运行之后回答：根据运行所显示的内容作答',
  questionsAfterRun: '问题（请在运行之后，根据运行所显示的内容回答）',
  answerIn: (u) => `以 ${u} 为单位作答`,
  unit: (u) => (u === 'segments' ? '个报文段' : u),
  noMeasure: '本次运行没有出现答案所要测量的内容，因此无法评分',
};

export function messages(lang: Lang): Messages {
  return lang === 'zh' ? zh : en;
}

/**
 * The language of an exercise run: `--lang` when given, else the locale of the
 * environment (LC_ALL, then LC_MESSAGES, then LANG, as gettext reads them):
 * Chinese for zh*, English otherwise.
 */
export function langFrom(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): Lang {
  if (flag === 'en' || flag === 'zh') return flag;
  const locale = [env['LC_ALL'], env['LC_MESSAGES'], env['LANG']].find((v) => v !== undefined && v !== '');
  return locale?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}
