// The built-in exercises: each loads, is written in both languages, runs a
// built-in profile whose parameters it knows, points its try-next variants at
// what exists, and exercises/schema.json is what the zod definition generates.

import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinExercises, exercisesDir, loadExercise } from '../../../src/exercise/load.js';
import { checkTryNext, exerciseProfile } from '../../../src/exercise/lab-profile.js';
import { exerciseSchemaText } from '../../../src/exercise/emit-schema.js';
import { LANGS, type Exercise, type Text } from '../../../src/exercise/schema.js';

/** Every text of an exercise, with where it is. */
function texts(x: Exercise): [string, Text][] {
  const out: [string, Text][] = [['title', x.title], ['story', x.story]];
  x.predictions.forEach((p, i) => {
    out.push([`predictions[${i}].question`, p.question], [`predictions[${i}].reveal`, p.reveal]);
    if (p.kind === 'choice') p.choices.forEach((c, k) => out.push([`predictions[${i}].choices[${k}].text`, c.text], [`predictions[${i}].choices[${k}].comment`, c.comment]));
  });
  (x.hints ?? []).forEach((h, i) => out.push([`hints[${i}]`, h]));
  (x.tryNext ?? []).forEach((t, i) => {
    out.push([`tryNext[${i}].text`, t.text]);
    // A variant's own explanations and choice texts (variant.ts).
    for (const [id, o] of Object.entries(t.predictions ?? {})) {
      if (o.reveal !== undefined) out.push([`tryNext[${i}].predictions.${id}.reveal`, o.reveal]);
      for (const [c, co] of Object.entries(o.choices ?? {})) {
        if (co.text !== undefined) out.push([`tryNext[${i}].predictions.${id}.choices.${c}.text`, co.text]);
        if (co.comment !== undefined) out.push([`tryNext[${i}].predictions.${id}.choices.${c}.comment`, co.comment]);
      }
    }
  });
  return out;
}

describe('built-in exercises', () => {
  const all = builtinExercises();

  it('are the first of the catalogue, numbered in order', () => {
    expect(all.map((l) => [l.exercise.number, l.exercise.id, l.exercise.scenario])).toEqual([
      [1, 'four-way-close', 1],
      [2, 'three-way-close', 2],
      [3, 'last-ack-lost', 3],
      [4, 'fin-delayed', 4],
      [5, 'simultaneous-close', 5],
      [6, 'forged-rst', 7],
      [7, 'dead-peer', 11],
      [8, 'half-close', 6],
      [9, 'abortive-close', 8],
      [10, 'process-killed', 9],
      [11, 'natural-three-way-close', 2],
      [12, 'time-wait-assassination', 10],
      [13, 'what-is-wrong', 3],
      [14, 'killed-on-cue', 9],
      [15, 'sigpipe', 7],
      [16, 'old-duplicate', 10],
      [17, 'shut-rd', 6],
      [18, 'shut-rdwr', 6],
      [19, 'orphan-timeout', 4],
      [20, 'linger-timeout', 8],
      [21, 'keepalive-sysctls', 11],
      [22, 'rst-challenge', 7],
    ]);
    expect(loadExercise('2').exercise.id).toBe('three-way-close');
    expect(loadExercise('last-ack-lost').file).toBe('exercises/last-ack-lost.yaml');
  });

  it.each(all.map((l) => [l.exercise.id, l] as const))('%s has every text in English and Chinese', (_, l) => {
    for (const [where, t] of texts(l.exercise)) {
      for (const lang of LANGS) expect(t[lang], `${l.file}: ${where}.${lang}`).toBeTruthy();
      // A Chinese text is Chinese: at least one CJK character (state names and numbers are shared).
      if (!/^[A-Z0-9-]+$/.test(t.en)) expect(t.zh, `${l.file}: ${where}.zh`).toMatch(/[\u4e00-\u9fff]/);
      // The same placeholders in both languages: a reveal quotes the same evidence whatever the language.
      const names = (s: string | undefined) => [...(s ?? '').matchAll(/\{\{\s*([a-z0-9-]+)\s*\}\}/g)].map((m) => m[1]).sort();
      expect(names(t.zh), `${l.file}: ${where}`).toEqual(names(t.en));
    }
  });

  it.each(all.map((l) => [l.exercise.id, l] as const))('%s runs a built-in profile with expectations and quotes evidence in every reveal', (_, l) => {
    const chosen = exerciseProfile(l, {});
    expect(chosen.builtin).toBe(true);
    expect(chosen.expect?.client?.states?.length).toBeGreaterThan(0);
    expect(chosen.expect?.server?.states?.length).toBeGreaterThan(0);
    for (const p of l.exercise.predictions) expect(p.reveal.en, p.id).toMatch(/\{\{[a-z0-9-]+\}\}/);
    expect(() => checkTryNext(l, loadExercise)).not.toThrow();
  });

  it("the checks replace the profile's expectations, and --set reaches the profile", () => {
    const l = loadExercise('last-ack-lost');
    const chosen = exerciseProfile(l, { times: '2' });
    expect(chosen.expect).toEqual(l.exercise.checks);
    expect(chosen.profile.rules?.[0]?.times).toBe(2);
    expect(chosen.lab?.duration).toBe(6);
    expect(() => exerciseProfile(l, { colour: 'red' })).toThrow(/no parameter 'colour'/);
  });

  it('exercises/schema.json is exactly what the zod schema generates (UPDATE_SCHEMA=1 rewrites it)', () => {
    if (process.env['UPDATE_SCHEMA'] === '1') writeFileSync(`${exercisesDir()}schema.json`, exerciseSchemaText());
    expect(readFileSync(`${exercisesDir()}schema.json`, 'utf8')).toBe(exerciseSchemaText());
  });
});

describe('try-next variants', () => {
  it('that cannot run are refused by check, naming the variant', () => {
    const l = loadExercise('last-ack-lost');
    const broken = { ...l, exercise: { ...l.exercise, tryNext: [{ set: { tims: 2 }, text: { en: 'x' } }] } };
    expect(() => checkTryNext(broken, loadExercise)).toThrow(/^exercises\/last-ack-lost\.yaml: tryNext\[0\] cannot run: .*no parameter 'tims' \(did you mean 'times'\?\); expected one of times/);
    const elsewhere = { ...l, exercise: { ...l.exercise, tryNext: [{ exercise: 'no-such', text: { en: 'x' } }] } };
    expect(() => checkTryNext(elsewhere, loadExercise)).toThrow(/tryNext\[0\] cannot run: 'no-such' is neither a built-in exercise nor a file/);
  });
});

describe('exercise files as read from disk', () => {
  it('are regular files of bounded size, refused otherwise with the file named (as profiles are)', () => {
    expect(() => loadExercise('/dev/zero')).toThrow('/dev/zero: a character device; expected a regular YAML file');
    expect(() => loadExercise('/tmp')).toThrow('/tmp: a directory; expected a regular YAML file');
    expect(() => loadExercise('99')).toThrow(/^no built-in exercise number 99; expected one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22$/);
    expect(() => loadExercise('no-such')).toThrow(/^'no-such' is neither a built-in exercise nor a file; expected a number, one of /);
  });
});
