import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerProfiles } from '../../../src/cli/commands/profiles.js';
import { TcpmitmError } from '../../../src/cli/errors.js';
import { builtinProfileNames } from '../../../src/rules/load.js';
import { tempDir } from '../../helpers/temp.js';

let out = '';
let dir = '';
beforeEach(() => {
  out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  dir = tempDir('tcpmitm-profiles-');
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

async function run(...args: string[]): Promise<void> {
  const program = new Command('tcpmitm').exitOverride();
  registerProfiles(program);
  await program.parseAsync(['node', 'tcpmitm', 'profiles', ...args]);
}

describe('tcpmitm profiles', () => {
  it('list shows every built-in with its parameters', async () => {
    await run('list');
    expect(out).toMatch(/^blackhole {2,}After a trigger/m);
    expect(out).toContain('--set times=all');
    expect(out.split('\n').filter((l) => /^[a-z]/.test(l))).toHaveLength(builtinProfileNames().length);
  });

  it('show prints the commented file; --json the validated profile with --set applied', async () => {
    await run('show', 'drop-last-ack');
    expect(out).toMatch(/^# profiles\/drop-last-ack\.yaml\n# yaml-language-server/);
    out = '';
    await run('show', 'drop-last-ack', '--json', '--set', 'times=4');
    expect(JSON.parse(out).rules[0].times).toBe(4);
  });

  it("show's copy names a schema that is there wherever the copy is saved; schema prints it", async () => {
    await run('show', 'drop-last-ack');
    const saved = join(dir, 'mine.yaml');
    writeFileSync(saved, out);
    const schemaPath = /^# yaml-language-server: \$schema=(.+)$/m.exec(out)?.[1];
    expect(schemaPath).toMatch(/^\/.*\/profiles\/schema\.json$/);
    expect(existsSync(schemaPath!)).toBe(true);
    out = '';
    await run('check', saved);
    expect(out).toMatch(/^ok {2}.*mine\.yaml: drop-last-ack/);
    out = '';
    await run('schema');
    expect(out).toBe(readFileSync(schemaPath!, 'utf8'));
    expect(JSON.parse(out).title).toMatch(/profile/i);
  });

  it('check accepts good files and reports every bad one with exit 2', async () => {
    const good = join(dir, 'good.yaml');
    const bad = join(dir, 'bad.json');
    writeFileSync(good, 'name: good\ndescription: d\nrules:\n  - action: drop\n');
    writeFileSync(bad, '{"name": "bad", "description": "d",\n "rules": [{"action": {"delay": {"ms": -5}}}]}\n');
    const err = await run('check', good, bad).catch((e: unknown) => e);
    expect(out).toContain('good.yaml: good, 1 rule(s), no expectations');
    expect(err).toBeInstanceOf(TcpmitmError);
    expect((err as TcpmitmError).exitCode).toBe(2);
    expect((err as TcpmitmError).message).toBe(`${bad}:2:40: rules[0].action.delay.ms: -5 is negative; expected a delay in ms from 0 to 600000`);
  });

  it('a malformed --set is a usage error', async () => {
    const err = await run('show', 'delay-fin', '--set', 'ms').catch((e: unknown) => e);
    expect((err as TcpmitmError).exitCode).toBe(2);
    expect((err as TcpmitmError).message).toBe("--set 'ms': expected key=value, e.g. --set times=3");
  });
});
