// What the profile loader reads (issue 12 §5): only regular files of at most
// PROFILE_MAX_BYTES, judged before reading, so /dev/zero, a FIFO without a
// writer, a directory and a 50 MB file are refused at once (exit 2, the file
// named); what the parser would take seconds or minutes over (deep nesting,
// 30 000 keys) is refused or handled in linear time.

import { execFileSync } from 'node:child_process';
import { rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode, TcpmitmError } from '../../../src/cli/errors.js';
import { PROFILE_MAX_BYTES, loadProfileFile } from '../../../src/rules/load.js';
import { MAX_FLOW_DEPTH, parseProfile } from '../../../src/rules/parse.js';
import { tempDir } from '../../helpers/temp.js';

const dir = tempDir('tcpmitm-load-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEAD = 'name: big\ndescription: rules that never match\nrules:\n';
const RULE = (i: number) => `  - id: never-${i}\n    match: {role: window-probe, from: server, port: ${10001 + (i % 50000)}}\n    action: drop\n`;

function refusal(path: string): TcpmitmError {
  try {
    loadProfileFile(path);
  } catch (e) {
    if (e instanceof TcpmitmError) return e;
    throw e;
  }
  throw new Error(`${path} was accepted`);
}

describe('profile files', () => {
  it('refuses what is not a regular file without reading (or hanging on) it', () => {
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]); // no writer: a blocking open(2) would never return
    for (const [path, kind] of [['/dev/zero', 'a character device'], [fifo, 'a FIFO'], [dir, 'a directory']] as const) {
      const e = refusal(path);
      expect([e.code, e.exitCode, e.message]).toEqual(['E_PROFILE', ExitCode.Usage, `${path}: ${kind}; expected a regular YAML or JSON file`]);
    }
  });

  it('refuses a file over the limit by its size, and takes one at the limit', () => {
    const huge = join(dir, 'huge.yaml');
    writeFileSync(huge, HEAD);
    truncateSync(huge, 50_000_000); // sparse: nothing is read to refuse it
    const e = refusal(huge);
    expect([e.code, e.exitCode]).toEqual(['E_PROFILE', ExitCode.Usage]);
    expect(e.message).toBe(`${huge}: 50000000 bytes, more than the 1048576 bytes (1 MiB) a profile may have`);
    expect(e.hint).toContain('--set');

    // At the limit exactly (a comment fills it: the parser's cost is not this test's subject).
    const text = HEAD + RULE(0);
    const atLimit = join(dir, 'at-limit.yaml');
    writeFileSync(atLimit, text + '#'.repeat(PROFILE_MAX_BYTES - Buffer.byteLength(text) - 1) + '\n');
    expect(loadProfileFile(atLimit).profile.rules).toHaveLength(1);
    writeFileSync(atLimit, '\n', { flag: 'a' });
    expect(refusal(atLimit).message).toBe(`${atLimit}: 1048577 bytes, more than the 1048576 bytes (1 MiB) a profile may have`);
  }, 20_000);

  it('refuses flow nesting past MAX_FLOW_DEPTH before the parser sees it, where the bracket is', () => {
    const text = HEAD.replace('rules:\n', 'rules: ') + '['.repeat(500_000) + ']'.repeat(500_000) + '\n';
    expect(() => parseProfile(text, 'deep.yaml')).toThrow(
      `deep.yaml:3:${'rules: '.length + MAX_FLOW_DEPTH + 1}: YAML: nested more than 64 levels deep; expected a profile's few levels of [ ] and { }`,
    );
    // Brackets inside quoted strings and comments are not nesting.
    const quoted = `name: x\ndescription: "${'['.repeat(100)}" # ${'{'.repeat(100)}\nrules: [{action: drop}]\n`;
    expect(parseProfile(quoted, 'q.yaml').description).toBe('['.repeat(100));
  });

  it('finds a repeated key among 30 000 in linear time, at the repeat', () => {
    const keys = Array.from({ length: 30_000 }, (_, i) => `  k${i}: ${i}\n`).join('');
    const text = `name: x\ndescription: y\nlab:\n${keys}  k5: again\n`;
    expect(() => parseProfile(text, 'keys.yaml')).toThrow(`keys.yaml:${30_000 + 4}:3: YAML syntax: Map keys must be unique ('k5' again)`);
  }, 20_000);

  it('lists 50 problems and counts the rest', () => {
    const bad = Array.from({ length: 120 }, (_, i) => `  - id: r${i}\n    action: nope\n`).join('');
    try {
      parseProfile(HEAD + bad, 'many.yaml');
      throw new Error('accepted');
    } catch (e) {
      const lines = (e as Error).message.split('\n');
      expect(lines[0]).toBe('120 problems in many.yaml:');
      expect(lines).toHaveLength(1 + 50 + 1);
      expect(lines.at(-1)).toBe('  … and 70 more');
    }
  });
});
