// An exercise as a student runs it, in a real terminal (tmux): `tcpmitm
// exercise run 1` without --answers asks the predictions one by one, runs the
// lab with its UI (the ladder, the final screen kept until q), then prints the
// reveal and the score; in English with the right answers, in Chinese with
// wrong ones. The result file says the same, and no namespace is left. And a
// diagnosis (exercise 13): the story, the lab with its fault hidden from the
// UI, then the questions, the reveal naming the fault.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TTY_ENV, tmuxRuns } from '../helpers/tmux-runs.js';
import { netnsList, uniqueLabId } from '../helpers/lab.js';
import { TmuxScreen } from '../helpers/tmux.js';
import type { ExerciseResult } from '../../src/exercise/result.js';
import { tempDir } from '../helpers/temp.js';

const runs = tmuxRuns();
const { screens, labs } = runs;
const dir = tempDir('tcpmitm-ext-');

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function start(id: string, result: string, lang: 'en' | 'zh', exercise = '1', size = { cols: 110, rows: 45 }): TmuxScreen {
  labs.push(id);
  const s = TmuxScreen.start(
    `ex-${id}`,
    [process.execPath, runs.cli, 'exercise', 'run', exercise, '--id', id, '--kernel-probe', 'trace', '--json', result, '--student', `tmux-${lang}`, '--lang', lang],
    size,
    TTY_ENV,
  );
  screens.push(s);
  return s;
}

describe.skipIf(runs.skip)('an exercise in a real terminal', () => {
  it('in English: predict, watch the ladder, q, the reveal and a full score', async () => {
    const id = uniqueLabId('xet');
    const result = join(dir, 'en.json');
    const s = start(id, result, 'en');
    let screen = await s.waitFor('the first question', (sc) => sc.includes('question 1 of 3'));
    expect(screen).toContain('Exercise 1: Normal four-way close: who gets TIME-WAIT?');
    expect(screen).toContain('▶ 1. the client (it closed first)');
    s.keys('1');
    screen = await s.waitFor('the second question', (sc) => sc.includes('question 2 of 3'));
    expect(screen).toContain('1. TIME-WAIT');
    s.keys('3', '2', '1');
    await s.waitFor('the order built', (sc) => sc.includes('so far: FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT'));
    s.keys('Enter');
    await s.waitFor('the third question', (sc) => sc.includes('question 3 of 3'));
    s.keys('2', '6', '0', 'Enter');
    // The lab's own UI: the ladder of the close, then the final screen kept until q.
    screen = await s.waitFor('the final screen of the run', (sc) => sc.includes('q closes'), 30_000);
    expect(screen).toMatch(/✓ PASS/);
    expect(screen).toMatch(/TIME-WAIT/);
    s.keys('q');
    // The reveal under the run's ladder (110 columns: one above the other), until q.
    screen = await s.waitFor('the reveal beside the ladder', (sc) => sc.includes('q: done'), 20_000);
    expect(screen).toMatch(/── #1 198\.18\.0\.1:\d+ ⇄ 198\.18\.0\.2:8080/);
    expect(screen).toMatch(/── reveal/);
    expect(screen).toContain('your answer: the client (it closed first) — right');
    s.keys('q');
    screen = await s.waitFor('the score', (sc) => sc.includes('Score: 3 of 3'), 20_000);
    expect(await s.waitExit()).toBe(0);
    const r = JSON.parse(readFileSync(result, 'utf8')) as ExerciseResult;
    expect([r.student, r.lang, r.score, r.checks.confirmed]).toEqual(['tmux-en', 'en', { points: 3, of: 3 }, true]);
    expect(r.predictions.map((p) => p.yours)).toEqual(['client', ['FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'], 260]);
    expect(netnsList().filter((n) => n.startsWith(`${id}-`))).toEqual([]);
  }, 90_000);

  it('in Chinese, wrong answers: the reveal in Chinese, 0 points, still exit 0', async () => {
    const id = uniqueLabId('xez');
    const result = join(dir, 'zh.json');
    const s = start(id, result, 'zh');
    await s.waitFor('the first question', (sc) => sc.includes('第 1 题，共 3 题'));
    s.keys('Down', 'Enter');
    await s.waitFor('the second question', (sc) => sc.includes('第 2 题，共 3 题'));
    s.keys('1', '1', '1', 'Enter');
    await s.waitFor('the third question', (sc) => sc.includes('第 3 题，共 3 题'));
    s.keys('4', '0', 'Enter');
    await s.waitFor('the final screen of the run', (sc) => sc.includes('q closes'), 30_000);
    s.keys('q');
    await s.waitFor('the reveal beside the ladder', (sc) => sc.includes('q：结束') && sc.includes('── 揭晓'), 20_000);
    s.keys('q');
    const screen = await s.waitFor('the score', (sc) => sc.includes('得分：0 / 3'), 20_000);
    expect(screen).toContain('接下来试试');
    expect(await s.waitExit()).toBe(0);
    const r = JSON.parse(readFileSync(result, 'utf8')) as ExerciseResult;
    expect([r.lang, r.score]).toEqual(['zh', { points: 0, of: 3 }]);
    expect(r.reveal).toContain('你的答案：服务器（它最后关闭） — 错误');
    expect(netnsList().filter((n) => n.startsWith(`${id}-`))).toEqual([]);
  }, 90_000);

  it('a hidden fault (exercise 13): the story, Enter, a UI that shows no drop, then the questions after the run, and the reveal names the fault', async () => {
    const id = uniqueLabId('xeh');
    const result = join(dir, 'hidden.json');
    // 160 columns: the reveal screen puts the ladder and the reveal side by side.
    const s = start(id, result, 'en', '13', { cols: 160, rows: 45 });
    let screen = await s.waitFor('the story', (sc) => sc.includes('Enter: start the lab'));
    expect(screen).toContain('Exercise 13: What is wrong here?');
    expect(screen).not.toContain('question 1 of');
    s.keys('Enter');
    screen = await s.waitFor('the final screen of the run', (sc) => sc.includes('q closes'), 30_000);
    // The ladder without tcpmitm's marks or the profile's name.
    expect(screen).toContain('hidden until the reveal');
    expect(screen).not.toMatch(/✕|drop-last-ack|DROP/);
    expect(screen).toMatch(/LAST-ACK/);
    s.keys('q');
    screen = await s.waitFor('the first question, after the run', (sc) => sc.includes('question 1 of 3'), 20_000);
    expect(screen).toContain('What is wrong?');
    // The right one is not the first choice listed.
    await s.waitFor('the choices', (sc) => sc.includes("2. the client's ACKs of the server's FIN are lost on the way"));
    s.keys('2');
    await s.waitFor('the second question', (sc) => sc.includes('question 2 of 3'));
    s.keys('2', 'Enter');
    await s.waitFor('the third question', (sc) => sc.includes('question 3 of 3'));
    s.keys('1');
    screen = await s.waitFor('the reveal beside the ladder', (sc) => sc.includes('q: done'), 20_000);
    // Side by side: the ladder's title and the reveal's on one row, and now the ladder shows the drops.
    expect(screen).toMatch(/── #1 .*── reveal/);
    expect(screen).toContain('✕');
    s.keys('q');
    screen = await s.waitFor('the score', (sc) => sc.includes('Score: 3 of 3'), 20_000);
    expect(await s.waitExit()).toBe(0);
    const r = JSON.parse(readFileSync(result, 'utf8')) as ExerciseResult;
    expect([r.score, r.checks.confirmed]).toEqual([{ points: 3, of: 3 }, true]);
    expect(r.predictions.map((p) => p.yours)).toEqual(['acks-lost', 2, 'last-ack']);
    expect(r.reveal).toContain('DROP (rule 1)');
    expect(netnsList().filter((n) => n.startsWith(`${id}-`))).toEqual([]);
  }, 90_000);
});
