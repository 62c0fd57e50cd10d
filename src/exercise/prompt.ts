// Asking an exercise's predictions on the terminal, as a pure state machine:
// one question at a time; a choice picked with ↑/↓ and Enter (or its
// number); an order built by picking the items one after another (Backspace
// takes the last back); a number typed (Enter on nothing leaves it
// unanswered). The ink component only draws the state and forwards keys.

import type { InkKey } from '../ui/keys.js';
import type { Answer } from './answers.js';
import type { Exercise, Prediction } from './schema.js';

export interface PromptState {
  /** The question being asked; `predictions.length` once all are answered. */
  readonly index: number;
  /** Highlighted choice, or highlighted remaining item of an order. */
  readonly cursor: number;
  /** The items picked so far of an order question. */
  readonly picked: readonly string[];
  /** What has been typed for a number question. */
  readonly typed: string;
  readonly answers: Readonly<Record<string, Answer>>;
  /** Why the last key did nothing ("type a number"), until the next key. */
  readonly problem?: 'not-a-number';
}

export function initialPrompt(): PromptState {
  return { index: 0, cursor: 0, picked: [], typed: '', answers: {} };
}

export function promptDone(x: Exercise, s: PromptState): boolean {
  return s.index >= x.predictions.length;
}

/** The items of an order question not picked yet, in the order shown. */
export function remaining(p: Prediction, s: PromptState): string[] {
  return p.kind === 'order' ? p.items.filter((i) => !s.picked.includes(i)) : [];
}

function next(s: PromptState, id: string, answer: Answer | undefined): PromptState {
  const answers = answer === undefined ? s.answers : { ...s.answers, [id]: answer };
  return { index: s.index + 1, cursor: 0, picked: [], typed: '', answers };
}

const NUMBER = /^-?\d+(?:\.\d+)?$/;

/** The state after one key press (`input`: the text ink reports, `key`: its flags). */
export function pressKey(x: Exercise, s: PromptState, input: string, key: InkKey): PromptState {
  const p = x.predictions[s.index];
  if (p === undefined) return s;
  const { problem: _, ...clean } = s;
  const base: PromptState = clean;
  if (p.kind === 'choice') {
    const n = p.choices.length;
    if (key.upArrow) return { ...base, cursor: (s.cursor + n - 1) % n };
    if (key.downArrow) return { ...base, cursor: (s.cursor + 1) % n };
    const digit = /^[1-9]$/.test(input) ? Number(input) - 1 : -1;
    if (digit >= 0 && digit < n) return next(base, p.id, p.choices[digit]!.id);
    if (key.return) return next(base, p.id, p.choices[s.cursor]!.id);
    return base;
  }
  if (p.kind === 'order') {
    const left = remaining(p, s);
    if (key.backspace || key.delete) return { ...base, picked: s.picked.slice(0, -1), cursor: 0 };
    if (left.length === 0) return key.return ? next(base, p.id, s.picked) : base;
    if (key.upArrow) return { ...base, cursor: (s.cursor + left.length - 1) % left.length };
    if (key.downArrow) return { ...base, cursor: (s.cursor + 1) % left.length };
    const digit = /^[1-9]$/.test(input) ? Number(input) - 1 : -1;
    const pick = digit >= 0 && digit < left.length ? left[digit] : key.return ? left[Math.min(s.cursor, left.length - 1)] : undefined;
    if (pick === undefined) return base;
    return { ...base, picked: [...s.picked, pick], cursor: 0 };
  }
  if (key.backspace || key.delete) return { ...base, typed: s.typed.slice(0, -1) };
  if (key.return) {
    if (s.typed === '') return next(base, p.id, undefined);
    if (!NUMBER.test(s.typed)) return { ...base, problem: 'not-a-number' };
    return next(base, p.id, Number(s.typed));
  }
  if (/^[0-9.-]+$/.test(input) && !key.ctrl) return { ...base, typed: s.typed + input };
  return base;
}

/**
 * What ink reports for one chunk of terminal input: several characters at
 * once when they arrive together (typed ahead, pasted, tmux send-keys), with
 * a carriage return among them for Enter. Each character is one key here.
 */
export function pressInput(x: Exercise, s: PromptState, input: string, key: InkKey): PromptState {
  const chars = [...input];
  if (chars.length <= 1 || key.ctrl) return pressKey(x, s, input, key);
  let state = s;
  for (const ch of chars) {
    if (promptDone(x, state)) break;
    if (ch === '\r' || ch === '\n') state = pressKey(x, state, '', { return: true });
    else if (ch === '\x7f' || ch === '\b') state = pressKey(x, state, '', { backspace: true });
    else state = pressKey(x, state, ch, {});
  }
  return state;
}
