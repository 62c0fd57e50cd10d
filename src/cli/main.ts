// The command-line boundary: declares the commands (each in its own file under
// commands/, whose heavy modules load lazily), runs one, and turns any error
// into one line on stderr and an exit code (0 ok, 1 runtime, 2 usage, 3 expectations,
// 4 an output incomplete).

import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { ExitCode, exitCodeOf, formatError } from './errors.js';
import { registerLab } from './commands/lab.js';
import { registerPeer } from './commands/peer.js';
import { registerProfiles } from './commands/profiles.js';
import { registerAttach } from './commands/attach.js';
import { registerTap } from './commands/tap.js';
import { registerIntercept } from './commands/intercept.js';
import { registerExercise } from './commands/exercise.js';
import { registerLadder } from './commands/ladder.js';
import { registerCompletion } from './commands/completion.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command('tcpmitm')
    .description(
      'A man-in-the-middle for TCP: sits inline between a real client and a real server, ' +
        'drops, delays, forges or coalesces segments around teardown, and shows both ' +
        "endpoints' TCP states live, beside the kernel's own view.",
    )
    .version(version(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .exitOverride()
    // `lab up --id X`: options after a sub-command belong to it, not to `lab`.
    .enablePositionalOptions();
  registerLab(program);
  registerPeer(program);
  registerProfiles(program);
  registerAttach(program);
  registerTap(program);
  registerIntercept(program);
  registerExercise(program);
  registerLadder(program);
  registerCompletion(program);
  program.addHelpText(
    'after',
    '\nExamples:\n' +
      '  tcpmitm lab                                 the default lab: a textbook four-way close\n' +
      '  tcpmitm lab --profile drop-last-ack         watch LAST-ACK retransmit its FIN\n' +
      '  tcpmitm lab --no-ui --until-closed --json - scripted, events as JSON lines\n' +
      '  tcpmitm profiles list                       the built-in fault profiles\n' +
      '  tcpmitm exercise list                       the built-in lab exercises (predict, run, see why)\n' +
      '  tcpmitm ladder run.jsonl -o close.svg       a --json run drawn as a ladder picture for reports\n' +
      '  tcpmitm completion bash                     a completion script (eval "$(tcpmitm completion bash)")\n' +
      '\nExit codes (every command, with or without the UI): 0 ok, 1 runtime failure, 2 usage or\n' +
      'profile error, 3 the verdict failed (see --junit), 4 an output (--json, --pcap, --junit) is\n' +
      'incomplete (the verdict passed), 130 interrupted.\n',
  );
  return program;
}

/** Runs the CLI and resolves to the process exit code; never throws. */
export async function run(argv: readonly string[]): Promise<number> {
  // `tcpmitm lab --help | head`, `tcpmitm tap … | head -1`: a reader that went
  // away is not an error. What goes to that stream is dropped and the command
  // goes on to its end (a run's teardown, files and verdict), with its own exit code.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  const program = buildProgram();
  // Sub-commands inherit exitOverride only when set before they are added,
  // so apply it to the whole tree here.
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) c.exitOverride();
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.Ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        return ExitCode.Ok;
      }
      // Commander has already printed "error: unknown option '--x'" and the hint.
      return ExitCode.Usage;
    }
    process.stderr.write(formatError(err) + '\n');
    return exitCodeOf(err);
  }
}
