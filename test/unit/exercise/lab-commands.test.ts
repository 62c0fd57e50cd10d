// An exercise's own programs: lab.serverCommand / lab.clientCommand with their
// placeholders filled in as shell words, and the loader's problems for a
// placeholder naming nothing or a command beside the built-in peer's flags.

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ExerciseError, parseExercise } from '../../../src/exercise/parse.js';
import { resolveCommand, shellWord, unknownPlaceholders } from '../../../src/exercise/lab-commands.js';
import { BASE } from './cases.js';

const FACTS = { dir: '/opt/my exercises', client: '198.18.0.1', server: '2001:2::2', port: '8080' };

function withLab(lines: string): string {
  return BASE.replace('lab:\n  profile: passthrough\n', `lab:\n  profile: passthrough\n${lines}`);
}

function problemOf(text: string): string {
  try {
    parseExercise(text, 'x.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ExerciseError);
    return (e as Error).message;
  }
  throw new Error('the exercise was accepted');
}

describe('exercise lab commands', () => {
  it('fills each placeholder as one shell word, a path with a space quoted', () => {
    expect(resolveCommand('python3 {{dir}}/programs/s.py {{ server }} {{port}} {{client}}', FACTS)).toBe(
      "python3 '/opt/my exercises'/programs/s.py 2001:2::2 8080 198.18.0.1",
    );
    // What sh makes of it: the path is one word.
    const argv = execFileSync('sh', ['-c', `printf '%s\\n' ${resolveCommand('{{dir}}/x {{port}}', FACTS)}`], { encoding: 'utf8' });
    expect(argv).toBe('/opt/my exercises/x\n8080\n');
    expect(shellWord("it's")).toBe(`'it'\\''s'`);
  });

  it('names the placeholders that name nothing', () => {
    expect(unknownPlaceholders('python3 {{dir}}/a.py {{host}} {{port}} {{Dir}}')).toEqual(['host', 'Dir']);
  });

  it('an exercise with its own programs parses', () => {
    const x = parseExercise(withLab('  serverCommand: python3 {{dir}}/s.py {{server}} {{port}}\n  clientCommand: python3 {{dir}}/c.py\n'), 'x.yaml');
    expect(x.lab.serverCommand).toBe('python3 {{dir}}/s.py {{server}} {{port}}');
  });

  it('a placeholder naming nothing, and a command beside the built-in flags, are problems at their lines', () => {
    expect(problemOf(withLab('  clientCommand: python3 {{dir}}/c.py {{host}}\n'))).toMatch(
      /x\.yaml:8:18: lab\.clientCommand: '\{\{host\}\}' names nothing; expected \{\{dir\}\}, \{\{client\}\}, \{\{server\}\}, \{\{port\}\}/,
    );
    expect(problemOf(withLab("  server: ['--on-eof', 'close']\n  serverCommand: python3 s.py\n"))).toMatch(
      /x\.yaml:8:\d+: lab\.server: built-in server flags beside lab\.serverCommand; expected one of them/,
    );
  });
});
