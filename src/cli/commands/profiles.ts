// `tcpmitm profiles list | show NAME | check FILE…`: the built-in fault
// profiles and the validation of user profiles. The profile modules (zod,
// yaml) load lazily inside each action.

import type { Command } from 'commander';
import { ExitCode, TcpmitmError } from '../errors.js';
import { addSchemaCommand } from '../common-options.js';
import { join } from 'node:path';

function collectSet(v: string, prev: string[]): string[] {
  return [...prev, v];
}

async function overridesOf(sets: readonly string[]): Promise<Record<string, string | number | boolean>> {
  const { parseSetting } = await import('../../rules/params.js');
  return Object.fromEntries(sets.map(parseSetting));
}

export function registerProfiles(program: Command): void {
  const profiles = program
    .command('profiles')
    .description('the built-in fault profiles, and checking your own (see docs/profiles.md)')
    .addHelpText(
      'after',
      '\nA profile file is a regular YAML or JSON file of at most 1 MiB (1048576 bytes), nested at most\n' +
        '64 levels of [ ] / { } deep; a pipe, device or directory is refused (exit 2), as is anything larger.\n',
    );

  profiles
    .command('list')
    .description('list the built-in profiles with their parameters')
    .option('--json', 'machine-readable output', false)
    .action(async (flags: { json: boolean }) => {
      const { builtinProfileNames, loadProfileFile } = await import('../../rules/load.js');
      const all = builtinProfileNames().map((n) => loadProfileFile(n).profile);
      if (flags.json) {
        process.stdout.write(JSON.stringify(all.map((p) => ({ name: p.name, description: p.description, params: p.params ?? {} }))) + '\n');
        return;
      }
      const width = Math.max(...all.map((p) => p.name.length));
      for (const p of all) {
        process.stdout.write(`${p.name.padEnd(width)}  ${p.description}\n`);
        for (const [k, d] of Object.entries(p.params ?? {})) {
          process.stdout.write(`${''.padEnd(width)}    --set ${k}=${String(d.default)}  ${d.description}\n`);
        }
      }
    });

  profiles
    .command('show')
    .description('print a profile: the commented file, or with --json the validated form')
    .argument('<name|file>', 'a built-in profile name or a profile file')
    .option('--set <key=value>', 'override a parameter (repeatable)', collectSet, [] as string[])
    .option('--json', 'print the validated profile (parameters applied) as JSON', false)
    .action(async (name: string, flags: { set: string[]; json: boolean }) => {
      const { loadProfileFile, profilesDir } = await import('../../rules/load.js');
      const { schemaCommentAt } = await import('../../rules/schema-comment.js');
      const loaded = loadProfileFile(name, await overridesOf(flags.set));
      if (flags.json) {
        process.stdout.write(JSON.stringify(loaded.profile, null, 2) + '\n');
        return;
      }
      const text = schemaCommentAt(loaded.text, join(profilesDir(), 'schema.json'));
      process.stdout.write(`# ${loaded.file}\n${text}${text.endsWith('\n') ? '' : '\n'}`);
    });

  addSchemaCommand(profiles, 'profiles', async () => (await import('../../rules/load.js')).profilesDir());

  profiles
    .command('check')
    .description('validate profile files (regular files, at most 1 MiB); exit 2 with file:line:col for every problem')
    .argument('<file...>', 'YAML or JSON profile files (or built-in names)')
    .option('--set <key=value>', 'override a parameter (repeatable)', collectSet, [] as string[])
    .action(async (files: string[], flags: { set: string[] }) => {
      const { loadProfileFile } = await import('../../rules/load.js');
      const { checkPeerArgs } = await import('../../lab/peer-args.js');
      const overrides = await overridesOf(flags.set);
      const failures: string[] = [];
      for (const f of files) {
        try {
          const { profile, file } = loadProfileFile(f, overrides);
          checkPeerArgs(file, profile.lab);
          const expects = Object.keys(profile.expect ?? {});
          process.stdout.write(
            `ok  ${file}: ${profile.name}, ${profile.rules?.length ?? 0} rule(s), ` +
              `${expects.length ? `expectations for ${expects.join(' and ')}` : 'no expectations'}\n`,
          );
        } catch (e) {
          if (!(e instanceof TcpmitmError)) throw e;
          failures.push(e.message);
        }
      }
      if (failures.length > 0) {
        throw new TcpmitmError('E_PROFILE', failures.join('\n'), ExitCode.Usage, 'see docs/profiles.md for the profile format');
      }
    });
}
