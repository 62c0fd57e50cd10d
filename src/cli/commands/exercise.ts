// `tcpmitm exercise list | show | check | run | grade`: lab exercises that
// ask predictions, run a lab on real kernels, check it and explain the
// answers from the run's own evidence (docs/exercises.md). The exercise
// modules load lazily inside each action.

import { Command, Option } from 'commander';
import { ExitCode, TcpmitmError } from '../errors.js';
import { addSchemaCommand } from '../common-options.js';
import { join } from 'node:path';
import { collectSetting, collectSysctl, intIn, labId, oneOf, writableFile } from '../parse.js';
import type { Sysctls } from '../../rules/schema.js';

const langOption = (): Option =>
  new Option('--lang <lang>', 'language of the text: en or zh (default: from LC_ALL / LC_MESSAGES / LANG, zh* is Chinese)').argParser(oneOf(['en', 'zh'] as const));

async function langOf(flag: string | undefined): Promise<'en' | 'zh'> {
  const { langFrom } = await import('../../exercise/messages.js');
  return langFrom(flag, process.env);
}

interface RunFlags {
  answers?: string;
  student?: string;
  json?: string;
  events?: string;
  lang?: string;
  set?: Record<string, string>;
  try?: number;
  id?: string;
  ipv6?: boolean;
  kernelProbe: 'auto' | 'trace' | 'proc';
  segments?: boolean;
  sysctl?: Sysctls;
}

export function registerExercise(program: Command): void {
  const exercise = program
    .command('exercise')
    .description('lab exercises: predict, run the lab on real kernels, see why (see docs/exercises.md)')
    .addHelpText(
      'after',
      '\nAn exercise is a YAML file: a story, predictions asked before the run, the lab it runs,\n' +
        'checks the run must confirm and a reveal that quotes the run\'s own evidence. The built-in ones\n' +
        'are in exercises/ (English and Chinese); editors validate against exercises/schema.json.\n' +
        '\nExamples:\n' +
        '  tcpmitm exercise list\n' +
        '  sudo tcpmitm exercise run 1                   on a terminal: predict, watch the lab, q, the reveal\n' +
        '  tcpmitm exercise show 1 --answers-template > answers.yaml\n' +
        '  sudo tcpmitm exercise run 1 --answers answers.yaml --json result.json\n' +
        '  sudo tcpmitm exercise run 12 --try 1 --answers answers.yaml   a try-next variant, with its own key\n' +
        '  tcpmitm exercise grade results/*.json --csv > grades.csv\n',
    );

  exercise
    .command('list')
    .description('list the built-in exercises in catalogue order')
    .addOption(langOption())
    .option('--json', 'machine-readable output')
    .action(async (flags: { lang?: string; json?: boolean }) => {
      const { builtinExercises } = await import('../../exercise/load.js');
      const { inLang } = await import('../../exercise/schema.js');
      const lang = await langOf(flags.lang);
      const all = builtinExercises().map((l) => l.exercise);
      if (flags.json === true) {
        process.stdout.write(JSON.stringify(all.map((x) => ({ number: x.number, id: x.id, scenario: x.scenario, title: inLang(x.title, lang), predictions: x.predictions.length }))) + '\n');
        return;
      }
      const width = Math.max(...all.map((x) => x.id.length));
      for (const x of all) process.stdout.write(`${String(x.number).padStart(2)}  ${x.id.padEnd(width)}  ${inLang(x.title, lang)}\n`);
    });

  exercise
    .command('show')
    .description('print an exercise as a student reads it before the run (story, predictions, hints)')
    .argument('<exercise>', 'a built-in number or id, or an exercise file')
    .addOption(langOption())
    .option('--answers-template', 'print an answers file to fill in instead')
    .option('--yaml', 'print the exercise file itself (it holds the answers)')
    .option('--try <n>', "its try-next variant n, as `exercise run --try n` asks it (the variant's choice texts)", intIn(1, 999))
    .action(async (ref: string, flags: { lang?: string; answersTemplate?: boolean; yaml?: boolean; try?: number }) => {
      const { loadExercise, exercisesDir } = await import('../../exercise/load.js');
      const { presentExercise } = await import('../../exercise/present.js');
      const { schemaCommentAt } = await import('../../rules/schema-comment.js');
      const { answersTemplate } = await import('../../exercise/answers.js');
      const { inLang } = await import('../../exercise/schema.js');
      const { ownVariant, variantExercise } = await import('../../exercise/variant.js');
      const lang = await langOf(flags.lang);
      const loaded = loadExercise(ref);
      let x = loaded.exercise;
      if (flags.try !== undefined) {
        ownVariant(x, flags.try);
        x = variantExercise(x, flags.try - 1);
      }
      if (flags.yaml === true) process.stdout.write(`# ${loaded.file}\n${schemaCommentAt(loaded.text, join(exercisesDir(), 'schema.json'))}`);
      else if (flags.answersTemplate === true) process.stdout.write(answersTemplate(x, (p) => inLang(p.question, lang)));
      else process.stdout.write(presentExercise(x, lang, flags.try));
    });

  addSchemaCommand(exercise, 'exercises', async () => (await import('../../exercise/load.js')).exercisesDir());

  exercise
    .command('check')
    .description('validate exercise files and the profiles they run; exit 2 with file:line:col for every problem')
    .argument('<file...>', 'exercise files (or built-in numbers or ids)')
    .action(async (files: string[]) => {
      const { loadExercise } = await import('../../exercise/load.js');
      const { checkTryNext, exerciseProfile } = await import('../../exercise/lab-profile.js');
      const failures: string[] = [];
      for (const f of files) {
        try {
          const loaded = loadExercise(f);
          const chosen = exerciseProfile(loaded, {});
          checkTryNext(loaded, loadExercise);
          const x = loaded.exercise;
          const missing = missingChinese(x);
          process.stdout.write(
            `ok  ${loaded.file}: ${x.id} (number ${x.number}), ${x.predictions.length} prediction(s), profile ${chosen.name}` +
              `${missing > 0 ? `; ${missing} text(s) without zh (English is shown)` : ''}\n`,
          );
        } catch (e) {
          if (!(e instanceof TcpmitmError)) throw e;
          failures.push(e.message);
        }
      }
      if (failures.length > 0) throw new TcpmitmError('E_EXERCISE', failures.join('\n'), ExitCode.Usage, 'see docs/exercises.md for the exercise format');
    });

  exercise
    .command('run')
    .description('run an exercise: the predictions (asked, or --answers), its lab as `tcpmitm lab` with its profile, then the score and the reveal (needs root)')
    .argument('<exercise>', 'a built-in number or id, or an exercise file')
    .option('--answers <file>', 'the predictions, answered in a YAML file (see exercise show --answers-template): no prompts, no UI; without it, on a terminal, they are asked there and the lab runs with its UI')
    .option('--student <name>', "who answered, for the result and grade (over the answers file's student)")
    .option('--json <file>', 'write the result (answers, evidence, checks, score, reveal) as JSON for `exercise grade`', writableFile(false))
    .option('--events <file>', "also keep the run's events as JSON lines (docs/events.md)", writableFile(false))
    .addOption(langOption())
    .option('--try <n>', "run the exercise's try-next variant n (from 1, as its reveal lists them): its parameters and sysctls, scored with its own answers and checks", intIn(1, 999))
    .option('--set <key=value>', "set a parameter of the exercise's profile (repeatable; over --try's); the score keeps the exercise's key", collectSetting)
    .option('--sysctl <[end:]name=value>', "set a sysctl in the end namespaces, over the exercise's and --try's (repeatable; net.* only; end: client, server or both, the default); the score keeps the exercise's key", collectSysctl)
    .option('--id <id>', 'lab id (default: random)', labId)
    .option('--ipv6', 'run it over IPv6: the ends get 2001:2::1 and 2001:2::2, and the client connects to the server there')
    .option('--segments', "log one line per segment while the lab runs")
    .addOption(
      // No `off`: an exercise's evidence and checks are the kernel's own states.
      new Option('--kernel-probe <src>', "where the kernel's own states come from (an exercise needs them: no 'off')").choices(['auto', 'trace', 'proc']).default('auto'),
    )
    .addHelpText(
      'after',
      '\nA wrong prediction is not an error. Exit codes: 0 the run confirmed the exercise\'s checks (whatever\n' +
        'the score); 3 it did not — the lab, not the student, went wrong (the reveal says what the run did);\n' +
        '2 a bad exercise, answers file or option; 1 a runtime failure; 4 the result file could not be\n' +
        'written; 130 interrupted.\n',
    )
    .action(async (ref: string, flags: RunFlags) => {
      const { runExercise } = await import('../../exercise/run.js');
      process.exitCode = await runExercise({
        exercise: ref,
        ...(flags.answers !== undefined ? { answers: flags.answers } : {}),
        ...(flags.student !== undefined ? { student: flags.student } : {}),
        ...(flags.json !== undefined ? { json: flags.json } : {}),
        ...(flags.events !== undefined ? { events: flags.events } : {}),
        lang: await langOf(flags.lang),
        set: flags.set ?? {},
        ...(flags.try !== undefined ? { variant: flags.try } : {}),
        ...(flags.sysctl !== undefined ? { sysctls: flags.sysctl } : {}),
        ...(flags.id !== undefined ? { id: flags.id } : {}),
        ipv6: flags.ipv6 === true,
        kernelProbe: flags.kernelProbe,
        segments: flags.segments === true,
      });
    });

  exercise
    .command('grade')
    .description('grade a class: one row per result file written by `exercise run --json`')
    .argument('<result...>', 'result JSON files')
    .option('--csv', 'CSV (RFC 4180) instead of a table')
    .action(async (files: string[], flags: { csv?: boolean }) => {
      const { loadResult } = await import('../../exercise/load.js');
      const { gradeCsv, gradeRow, gradeTable } = await import('../../exercise/grade.js');
      const rows = files.map((f) => gradeRow(f, loadResult(f)));
      process.stdout.write(flags.csv === true ? gradeCsv(rows) : gradeTable(rows));
    });
}

/** How many texts of an exercise have no Chinese version. */
function missingChinese(x: { title: { zh?: string }; story: { zh?: string }; predictions: readonly { question: { zh?: string }; reveal: { zh?: string } }[] }): number {
  const texts = [x.title, x.story, ...x.predictions.flatMap((p) => [p.question, p.reveal])];
  return texts.filter((t) => t.zh === undefined).length;
}
