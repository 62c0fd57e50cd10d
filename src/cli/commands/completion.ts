// `tcpmitm completion bash|zsh`: prints a completion script for the shell,
// made from this program's own command tree (src/cli/completion.ts).

import { Argument, Command } from 'commander';
import { SHELLS, completionScript, type CommandSpec, type Shell, type ValueKind } from '../completion.js';

/** Options whose value is a path (any command that has them). */
const FILE_OPTIONS = new Set(['--json', '--junit', '--pcap', '--answers', '--events', '--output', '--netns']);
const INTERFACE_OPTIONS = new Set(['--iface', '--a', '--b']);

function optionValue(long: string | undefined, choices: readonly string[] | undefined): ValueKind {
  if (choices !== undefined) return { kind: 'choices', values: choices };
  if (long === '--profile') return { kind: 'profile' };
  if (long !== undefined && FILE_OPTIONS.has(long)) return { kind: 'file' };
  if (long !== undefined && INTERFACE_OPTIONS.has(long)) return { kind: 'interface' };
  return { kind: 'value' };
}

/** What a positional argument names, from its name in the usage (`<exercise>`, `<name|file>`, `<file...>`). */
function argumentValue(path: string, arg: Argument | undefined): ValueKind | undefined {
  if (arg === undefined) return undefined;
  const choices = (arg as Argument & { argChoices?: string[] }).argChoices;
  if (choices !== undefined) return { kind: 'choices', values: choices };
  const name = arg.name();
  if (name === 'exercise') return { kind: 'exercise' };
  if (path === 'profiles show') return { kind: 'profile' };
  if (/file|jsonl|result/.test(name)) return { kind: 'file' };
  return { kind: 'value' };
}

/** Every command of the tree, as the script's tables need them. */
export function commandSpecs(program: Command): CommandSpec[] {
  const out: CommandSpec[] = [];
  const walk = (c: Command, path: string): void => {
    const args = argumentValue(path, c.registeredArguments[0]);
    out.push({
      path,
      subcommands: c.commands.map((s) => s.name()),
      options: c.options.map((o) => {
        const names = [o.long, o.short].filter((n): n is string => n !== undefined);
        return o.required || o.optional ? { names, value: optionValue(o.long, o.argChoices) } : { names };
      }),
      ...(args !== undefined ? { args } : {}),
    });
    for (const s of c.commands) walk(s, path === '' ? s.name() : `${path} ${s.name()}`);
  };
  walk(program, '');
  return out;
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: commands, flags, built-in profiles and exercises')
    .addArgument(new Argument('<shell>', 'the shell').choices([...SHELLS]))
    .addHelpText(
      'after',
      '\nInstall:\n' +
        '  bash: echo \'eval "$(tcpmitm completion bash)"\' >> ~/.bashrc\n' +
        '        (or: tcpmitm completion bash > /etc/bash_completion.d/tcpmitm)\n' +
        '  zsh:  echo \'source <(tcpmitm completion zsh)\' >> ~/.zshrc\n',
    )
    .action(async (shell: Shell) => {  // commander refuses any other (exit 2)
      const { builtinProfileNames } = await import('../../rules/load.js');
      const { builtinExercises } = await import('../../exercise/load.js');
      const exercises = builtinExercises().flatMap((l) => [l.exercise.id, String(l.exercise.number)]);
      process.stdout.write(completionScript(shell, commandSpecs(program), { profiles: builtinProfileNames(), exercises }));
    });
}
