// `tcpmitm exercise run ID --answers FILE`: everything is read and checked
// first (the exercise, the answers, its profile: exit 2 before any namespace
// exists); without --answers, on a terminal, the predictions are asked there
// and the lab then runs with its UI. The lab runs as `tcpmitm lab` with the
// exercise's profile, its events going to a private JSONL file; from those the
// evidence is read, the predictions scored, the reveal printed and the result
// written. Exit: the lab's (0, or 3 when its checks were not confirmed — the
// lab, not the student, was wrong); a wrong prediction is never an error.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExpectationEvent, TcpmitmEvent } from '../engine/events.js';
import { ExitCode, UsageError } from '../cli/errors.js';
import { exitStatus } from '../lab/netns.js';
import type { Answers } from './answers.js';
import { writeWholeOutput } from '../io/output-sink.js';
import { runLab } from '../lab/run.js';
import { preflight } from '../session/preflight.js';
import type { LabRunOptions } from '../lab/run-options.js';
import { DEFAULT_ESTABLISHED_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_STALE_MS } from '../tcp/tracker.js';
import { loadAnswers, loadExercise, type LoadedExercise } from './load.js';
import { exerciseProfile, variantSettings } from './lab-profile.js';
import { ownVariant, variantExercise, variantLike } from './variant.js';
import { layerSysctls } from '../rules/sysctls.js';
import { readEvidence, type EvidenceReading } from './evidence.js';
import { messages } from './messages.js';
import { presentExercise } from './present.js';
import { renderReveal } from './reveal.js';
import { buildResult, type ResultVariant } from './result.js';
import { scoreAnswers } from './score.js';
import { inLang, type Exercise, type Lang } from './schema.js';
import type { Sysctls } from '../rules/schema.js';

export interface ExerciseRunOptions {
  /** A built-in number or id, or a path. */
  readonly exercise: string;
  /** The answers file; without one the predictions are asked on the terminal and the lab runs with its UI. */
  readonly answers?: string;
  /** Who answered (over the answers file's `student`). */
  readonly student?: string;
  /** Where the result JSON goes. */
  readonly json?: string;
  readonly lang: Lang;
  /** --try: run the exercise's try-next variant of this number (from 1) and score it with its key. */
  readonly variant?: number;
  /** --set: the profile's parameters (a try-next variant). */
  readonly set: Readonly<Record<string, string>>;
  /** --sysctl: the end namespaces' sysctls, over the exercise's and its profile's (a try-next variant). */
  readonly sysctls?: Sysctls;
  readonly id?: string;
  readonly ipv6: boolean;
  readonly kernelProbe: LabRunOptions['kernelProbe'];
  readonly segments: boolean;
  /** Also keep the run's events (JSONL) here. */
  readonly events?: string;
}

/** Events of a JSONL file tcpmitm wrote (a half-written last line, if any, is left out). */
function readJsonl(path: string): TcpmitmEvent[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: TcpmitmEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as TcpmitmEvent);
    } catch {
      // Only the last line can be cut short (an output that broke); the rest is whole.
    }
  }
  return out;
}

/** The exercise, parameters and sysctls a run uses: the exercise's own, or its variant `--try N`'s with the command line's over them. */
function chooseVariant(
  loaded: LoadedExercise,
  o: ExerciseRunOptions,
): { x: Exercise; set: Readonly<Record<string, string>>; sysctls?: Sysctls; variant?: ResultVariant } {
  const base = loaded.exercise;
  if (o.variant === undefined) {
    const like = variantLike(base, o.set, o.sysctls);
    // Not an error (a teacher may want the exercise's key), but rarely what a student means.
    if (like !== undefined) {
      process.stderr.write(`tcpmitm: these --set/--sysctl are try-next variant ${like} of exercise ${base.id}, scored here with the exercise's own answers; --try ${like} scores it with the variant's\n`);
    }
    return { x: base, set: o.set, ...(o.sysctls !== undefined ? { sysctls: o.sysctls } : {}) };
  }
  const t = ownVariant(base, o.variant);
  const set = { ...variantSettings(t), ...o.set };
  const sysctls = layerSysctls(t.sysctls, o.sysctls);
  return {
    x: variantExercise(base, o.variant - 1),
    set,
    ...(sysctls !== undefined ? { sysctls } : {}),
    variant: { number: o.variant, text: inLang(t.text, o.lang), set, ...(sysctls !== undefined ? { sysctls } : {}) },
  };
}

export async function runExercise(o: ExerciseRunOptions): Promise<number> {
  const loaded = loadExercise(o.exercise);
  const { x, set, sysctls, variant } = chooseVariant(loaded, o);
  const interactive = o.answers === undefined;
  if (interactive && !(process.stdin.isTTY === true && process.stdout.isTTY === true)) {
    throw new UsageError(
      'exercise run without --answers asks the predictions on the terminal, and this is not one',
      `write the answers first: tcpmitm exercise show ${o.exercise} --answers-template > answers.yaml, then --answers answers.yaml`,
    );
  }
  const fromFile = o.answers !== undefined ? loadAnswers(o.answers, x) : undefined;
  // A variant's checks are the run's expectations.
  const chosen = exerciseProfile({ ...loaded, exercise: x }, set);
  const m = messages(o.lang);
  let answers: Answers;
  if (fromFile !== undefined) {
    answers = fromFile;
  } else {
    // Before the questions: a student should not answer them all to learn then that the lab cannot run here.
    preflight({ namespaces: true, capture: 'packet-addon' });
    const { askPredictions } = await import('../ui/ask-predictions.js');
    // A diagnosis (after: true) is asked once the student has seen the run.
    const asked = await askPredictions(askedBefore(x, true), o.lang);
    // Ctrl-C before the run: nothing ran, nothing to reveal.
    if (asked === undefined) return exitStatus(null, 'SIGINT');
    answers = asked;
  }
  const student = o.student ?? answers.student;

  const dir = mkdtempSync(join(tmpdir(), 'tcpmitm-exercise-'));
  const jsonl = o.events ?? join(dir, 'events.jsonl');
  const wall = new Date().toISOString();
  try {
    // Asked interactively, the student has read the story; the lab's own UI shows the run.
    if (!interactive) process.stdout.write(presentExercise(x, o.lang, variant?.number) + '\n');
    const opts: LabRunOptions = {
      ...(o.id !== undefined ? { id: o.id } : {}),
      ipv6: o.ipv6,
      // Names the profile (a run with a profile named checks its expectations).
      profile: chosen.file,
      set,
      ...(sysctls !== undefined ? { sysctls } : {}),
      port: 8080,
      // The exercise's own programs, if any, instead of the built-in peers.
      ...(x.lab.commands?.server !== undefined ? { server: x.lab.commands.server } : {}),
      ...(x.lab.commands?.client !== undefined ? { client: x.lab.commands.client } : {}),
      peers: true,
      ui: interactive,
      segments: o.segments,
      tcpOptions: false,
      json: jsonl,
      // End as soon as everything is closed (or TIME-WAIT), else at the profile's cap: `lab --no-ui --until-closed`.
      untilClosed: true,
      ...(x.lab.hidden === true ? { hideFault: true } : {}),
      serverGraceS: 1,
      kernelProbe: o.kernelProbe,
      timeWaitS: 60,
      finTimeoutS: 60,
      table: { maxConnections: DEFAULT_MAX_CONNECTIONS, establishedTimeoutS: DEFAULT_ESTABLISHED_MS / 1000, halfOpenTimeoutS: DEFAULT_STALE_MS / 1000 },
    };
    const code = await runLab(opts, chosen);
    // Only a run that ended by itself was checked; anything else keeps its own code and has nothing to reveal.
    if (code !== ExitCode.Ok && code !== ExitCode.Expectations) {
      process.stderr.write(`tcpmitm: exercise ${x.id}: the lab did not complete (exit ${code}): no reveal and no result\n`);
      return code;
    }
    if (interactive && x.predictions.some((p) => p.after === true)) {
      const { askPredictions } = await import('../ui/ask-predictions.js');
      const diagnosed = await askPredictions(askedBefore(x, false), o.lang);
      // Ctrl-C now: the run happened, the diagnosis is left unanswered (no points).
      answers = { ...answers, answers: { ...answers.answers, ...(diagnosed?.answers ?? {}) } };
    }
    const events = readJsonl(jsonl);
    const checks = events.filter((e): e is ExpectationEvent => e.type === 'expectation');
    const labId = events.find((e) => e.type === 'start')?.lab ?? o.id ?? '?';
    const readings: Record<string, EvidenceReading> = {};
    for (const [name, ev] of Object.entries(x.evidence ?? {})) readings[name] = readEvidence(ev, events, m);
    const scored = scoreAnswers(x, answers, readings);
    const reveal = renderReveal({ exercise: x, scored, readings, checks, lang: o.lang, ...(variant !== undefined ? { variant: variant.number } : {}) });
    // On a terminal, first beside the run's ladder; then as text, which stays in the scrollback.
    if (interactive) {
      const { showReveal } = await import('../ui/show-reveal.js');
      await showReveal({ events, reveal, lang: o.lang });
    }
    process.stdout.write('\n' + reveal);
    let final: number = code;
    if (o.json !== undefined) {
      const result = buildResult({
        exercise: x,
        file: loaded.file,
        ...(student !== undefined ? { student } : {}),
        lang: o.lang,
        wall,
        lab: { id: labId, profile: chosen.name, exitCode: code },
        ...(variant !== undefined ? { variant } : {}),
        checks,
        scored,
        reveal,
      });
      writeWholeOutput(o.json, '--json', JSON.stringify(result, null, 2) + '\n', (message) => {
        process.stderr.write(`tcpmitm: ${message} [E_OUTPUT]\n`);
        if (final === ExitCode.Ok) final = ExitCode.OutputIncomplete;
      });
    }
    return final;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The exercise with only the predictions asked before the run (`before`), or only those asked after it. */
function askedBefore(x: Exercise, before: boolean): Exercise {
  return { ...x, predictions: x.predictions.filter((p) => (p.after === true) !== before) };
}
