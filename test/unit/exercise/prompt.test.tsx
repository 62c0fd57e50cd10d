// The predictions asked on the terminal: the pure state machine key by key,
// and the ink component as a student drives it (ink-testing-library).

import { describe, expect, it } from 'vitest';
import { render } from 'ink-testing-library';
import { loadExercise } from '../../../src/exercise/load.js';
import { initialPrompt, pressInput, pressKey, promptDone, type PromptState } from '../../../src/exercise/prompt.js';
import PredictionPrompt from '../../../src/ui/components/PredictionPrompt.js';
import type { Answer } from '../../../src/exercise/answers.js';
import type { InkKey } from '../../../src/ui/keys.js';

const x = loadExercise('four-way-close').exercise;

/** Presses keys in order: a string is typed text, an object a key. */
function drive(keys: readonly (string | InkKey)[], s: PromptState = initialPrompt()): PromptState {
  for (const k of keys) s = typeof k === 'string' ? pressKey(x, s, k, {}) : pressKey(x, s, '', k);
  return s;
}

const ENTER: InkKey = { return: true };
const DOWN: InkKey = { downArrow: true };
const UP: InkKey = { upArrow: true };
const BACK: InkKey = { backspace: true };

describe('the prompt, key by key', () => {
  it('a choice: the cursor wraps, Enter takes it; a number key takes that choice', () => {
    expect(drive([DOWN, ENTER]).answers).toEqual({ 'time-wait': 'server' });
    expect(drive([UP, ENTER]).answers).toEqual({ 'time-wait': 'neither' });
    expect(drive(['1']).answers).toEqual({ 'time-wait': 'client' });
    expect(drive(['9']).index).toBe(0);
  });

  it('an order: items picked one by one, Backspace takes the last back, Enter confirms once all are placed', () => {
    // Items shown: TIME-WAIT, FIN-WAIT-2, FIN-WAIT-1.
    let s = drive(['1', '3']);
    expect(s.picked).toEqual(['FIN-WAIT-1']);
    s = drive(['1', BACK, DOWN, ENTER], s);
    expect(s.picked).toEqual(['FIN-WAIT-1', 'FIN-WAIT-2']);
    s = drive([ENTER], s);
    expect([s.picked, s.index]).toEqual([['FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'], 1]);
    s = drive([ENTER], s);
    expect(s.answers['client-order']).toEqual(['FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
    expect(s.index).toBe(2);
  });

  it('a number: typed, corrected, entered; nonsense is refused and said; Enter alone leaves it unanswered', () => {
    const at = drive(['1', '1', '1', '1', ENTER]);
    expect(at.index).toBe(2);
    expect(drive(['2', '8', '0', BACK, '5', ENTER], at).answers['fin-wait-2-ms']).toBe(285);
    const bad = drive(['1', '.', '.', ENTER], at);
    expect([bad.problem, bad.index]).toEqual(['not-a-number', 2]);
    expect(drive(['x'], bad).problem).toBeUndefined();
    const skipped = drive([ENTER], at);
    expect(promptDone(x, skipped)).toBe(true);
    expect(Object.keys(skipped.answers)).toEqual(['time-wait', 'client-order']);
  });
});

describe('input that arrives in one chunk', () => {
  it('is one key per character, a carriage return being Enter (a paste, tmux send-keys)', () => {
    const s = pressInput(x, initialPrompt(), '1321\r28\x7f60\r', {});
    expect(s.answers).toEqual({ 'time-wait': 'client', 'client-order': ['FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'], 'fin-wait-2-ms': 260 });
    expect(promptDone(x, s)).toBe(true);
  });
});

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('the prompt on a terminal', () => {
  it('asks each question in turn and hands over the answers', async () => {
    let done: Readonly<Record<string, Answer>> | undefined;
    const ui = render(<PredictionPrompt exercise={x} lang="en" onDone={(a) => (done = a)} onInterrupt={() => undefined} />);
    expect(ui.lastFrame()).toContain('Exercise 1: Normal four-way close: who gets TIME-WAIT?');
    expect(ui.lastFrame()).toContain('question 1 of 3');
    expect(ui.lastFrame()).toContain('▶ 1. the client (it closed first)');
    ui.stdin.write('\u001B[B'); // ↓
    await tick();
    expect(ui.lastFrame()).toContain('▶ 2. the server (it closed last)');
    ui.stdin.write('\r');
    await tick();
    expect(ui.lastFrame()).toContain('question 2 of 3');
    for (const k of ['3', '2', '1']) {
      ui.stdin.write(k);
      await tick();
    }
    expect(ui.lastFrame()).toContain('so far: FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT');
    ui.stdin.write('\r');
    await tick();
    for (const k of ['2', '6', '0', '\r']) {
      ui.stdin.write(k);
      await tick();
    }
    expect(done).toEqual({ 'time-wait': 'server', 'client-order': ['FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'], 'fin-wait-2-ms': 260 });
    ui.unmount();
  });

  it('keys typed ahead of the drawing all count', async () => {
    let done: Readonly<Record<string, Answer>> | undefined;
    const ui = render(<PredictionPrompt exercise={x} lang="en" onDone={(a) => (done = a)} onInterrupt={() => undefined} />);
    for (const k of ['1', '3', '2', '1', '\r', '3', '0', '0', '\r']) ui.stdin.write(k);
    await tick();
    expect(done).toBeDefined();
    done = undefined;
    ui.unmount();
    // …and so do keys that arrive as one chunk.
    const again = render(<PredictionPrompt exercise={x} lang="en" onDone={(a) => (done = a)} onInterrupt={() => undefined} />);
    again.stdin.write('1321\r300\r');
    await tick();
    expect(done).toEqual({ 'time-wait': 'client', 'client-order': ['FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'], 'fin-wait-2-ms': 300 });
    again.unmount();
  });

  it('in Chinese', async () => {
    const ui = render(<PredictionPrompt exercise={x} lang="zh" onDone={() => undefined} onInterrupt={() => undefined} />);
    expect(ui.lastFrame()).toContain('练习 1：正常的四次挥手');
    expect(ui.lastFrame()).toContain('第 1 题，共 3 题');
    expect(ui.lastFrame()).toContain('用 ↑/↓ 和回车选择，或按编号');
    ui.unmount();
  });

  it('Ctrl-C leaves before the run', async () => {
    let left = false;
    const ui = render(<PredictionPrompt exercise={x} lang="en" onDone={() => undefined} onInterrupt={() => (left = true)} />);
    ui.stdin.write('\u0003');
    await tick();
    expect(left).toBe(true);
    ui.unmount();
  });
});
