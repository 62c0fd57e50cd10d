// `tcpmitm completion bash|zsh`: the script made from the command tree, run by
// the real shells — bash calling its completion function as bash-completion
// does, zsh completing a typed line on Tab in a terminal (tmux).

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/main.js';
import { commandSpecs } from '../../../src/cli/commands/completion.js';
import { completionScript } from '../../../src/cli/completion.js';
import { builtinProfileNames } from '../../../src/rules/load.js';
import { TmuxScreen } from '../../helpers/tmux.js';
import { tempDir } from '../../helpers/temp.js';

const dir = tempDir('tcpmitm-completion-');
const words = { profiles: builtinProfileNames(), exercises: ['last-ack-lost', '3', 'rst-challenge', '22'] };
const specs = commandSpecs(buildProgram());

function script(shell: 'bash' | 'zsh'): string {
  const path = join(dir, `tcpmitm.${shell}`);
  writeFileSync(path, completionScript(shell, specs, words));
  return path;
}

/** What bash offers for the words typed so far (the last one being completed), run in `cwd`. */
function bashOffers(typed: readonly string[], cwd = dir): string[] {
  const r = spawnSync('bash', ['-c', `source ${script('bash')}; COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _tcpmitm; printf '%s\\n' "\${COMPREPLY[@]}"`, '_', ...typed], { cwd, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean);
}

describe('the command tree as the script sees it', () => {
  it('lists every command with its own flags, and what each value is', () => {
    const lab = specs.find((s) => s.path === 'lab')!;
    expect(lab.subcommands).toEqual(expect.arrayContaining(['up', 'down', 'list', 'exec']));
    expect(lab.options.find((o) => o.names.includes('--kernel-probe'))?.value).toEqual({ kind: 'choices', values: ['auto', 'trace', 'proc', 'off'] });
    expect(lab.options.find((o) => o.names.includes('--profile'))?.value).toEqual({ kind: 'profile' });
    expect(lab.options.find((o) => o.names.includes('--ipv6'))?.value).toBeUndefined();
    expect(specs.find((s) => s.path === 'exercise run')?.args).toEqual({ kind: 'exercise' });
    expect(specs.find((s) => s.path === 'ladder')?.options.find((o) => o.names.includes('-o'))?.value).toEqual({ kind: 'file' });
  });
});

describe('bash', () => {
  it('completes commands, sub-commands and their own flags', () => {
    expect(bashOffers(['tcpmitm', 'la'])).toEqual(['lab', 'ladder']);
    expect(bashOffers(['tcpmitm', 'lab', ''])).toEqual(['up', 'down', 'list', 'exec']);
    expect(bashOffers(['tcpmitm', 'lab', '--kern'])).toEqual(['--kernel-probe']);
    // `lab up` has its own flags: no --server there.
    expect(bashOffers(['tcpmitm', 'lab', 'up', '--ser'])).toEqual([]);
    expect(bashOffers(['tcpmitm', 'lab', '--ser'])).toEqual(['--server', '--server-grace']);
  });

  it("completes a flag's value, past other flags and their values", () => {
    expect(bashOffers(['tcpmitm', 'lab', '--id', 'x', '--kernel-probe', 'tr'])).toEqual(['trace']);
    expect(bashOffers(['tcpmitm', 'lab', '--id', 'up', '--profile', 'drop'])).toEqual(['drop-last-ack']);
    // A value nothing can guess offers nothing (not the sub-commands).
    expect(bashOffers(['tcpmitm', 'lab', '--id', ''])).toEqual([]);
    expect(bashOffers(['tcpmitm', 'completion', ''])).toEqual(['bash', 'zsh']);
  });

  it('completes exercises by id and number, profiles by name, and files', () => {
    writeFileSync(join(dir, 'drop-mine.yaml'), 'name: x\n');
    expect(bashOffers(['tcpmitm', 'exercise', 'run', 'rst'])).toEqual(['rst-challenge']);
    expect(bashOffers(['tcpmitm', 'exercise', 'run', '2'])).toEqual(['22']);
    expect(bashOffers(['tcpmitm', 'profiles', 'show', 'drop'])).toEqual(['drop-last-ack', 'drop-mine.yaml']);
  });
});

describe('zsh', () => {
  const screens: TmuxScreen[] = [];
  afterAll(() => screens.forEach((s) => s.kill()));

  it('completes a typed line on Tab, through bashcompinit', async () => {
    // Its own ZDOTDIR and no global rc files: only this .zshrc runs. The command is a function of that name, so no install is needed.
    writeFileSync(join(dir, '.zshrc'), `tcpmitm() { :; }\nsource ${script('zsh')}\nPS1='ready> '\ncd ${dir}\n`);
    const s = TmuxScreen.start('tcpmitm-completion-zsh', ['zsh', '--no-globalrcs', '-i'], { cols: 120, rows: 10 }, { ZDOTDIR: dir });
    screens.push(s);
    await s.waitFor('the prompt', (sc) => sc.includes('ready>'), 10_000);
    s.keys('tcpmitm lab --kernel-pr', 'Tab');
    await s.waitFor('the completed flag', (sc) => sc.includes('tcpmitm lab --kernel-probe'), 10_000);
    s.keys(' ', 'Tab');
    await s.waitFor("the flag's values", (sc) => /auto\s+off\s+proc\s+trace/.test(sc), 10_000);
  });
});
