import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinProfileNames, loadProfile, loadProfileFile, profilesDir } from '../../../src/rules/load.js';
import { profileSchemaText } from '../../../src/rules/emit-schema.js';
import { TcpmitmError } from '../../../src/cli/errors.js';

const EXPECTED = ['blackhole', 'coalesce-fin-ack', 'delay-fin', 'drop-last-ack', 'forge-rst', 'passthrough', 'simultaneous-close'];

describe('built-in profiles', () => {
  it('are the seven of the scenario catalogue', () => {
    expect(builtinProfileNames()).toEqual(EXPECTED);
  });

  it.each(EXPECTED)('%s loads, validates, has expectations for both ends and is commented', (name) => {
    const loaded = loadProfileFile(name);
    expect(loaded.builtin).toBe(true);
    expect(loaded.file).toBe(`profiles/${name}.yaml`);
    expect(loaded.profile.name).toBe(name);
    expect(loaded.profile.expect?.client?.states?.length).toBeGreaterThan(0);
    expect(loaded.profile.expect?.server?.states?.length).toBeGreaterThan(0);
    // A reader learns the scenario from the file: a header of comment lines.
    expect(loaded.text.split('\n').filter((l) => l.startsWith('#')).length).toBeGreaterThanOrEqual(8);
    // No placeholder survives substitution.
    expect(JSON.stringify(loaded.profile.rules)).not.toContain('${');
  });

  it('drop-last-ack drops all by default and N with --set times=N', () => {
    expect(loadProfile('drop-last-ack').rules?.[0]?.times).toBe('all');
    expect(loadProfile('drop-last-ack', { times: '3' }).rules?.[0]?.times).toBe(3);
  });

  it('delay-fin takes side and ms; a bad side is refused before the run', () => {
    const r = loadProfile('delay-fin', { side: 'client', ms: '500' }).rules?.[0];
    expect(r?.match?.from).toBe('client');
    expect(r?.action).toEqual({ delay: { ms: 500 } });
    expect(() => loadProfile('delay-fin', { side: 'middle' })).toThrow(
      "profiles/delay-fin.yaml: --set side=middle: 'middle' is not allowed; expected one of client, server",
    );
  });

  it('a value from --set that fails validation is reported at the placeholder, naming the parameter', () => {
    let err: unknown;
    try {
      loadProfile('delay-fin', { ms: '-5' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TcpmitmError);
    expect((err as TcpmitmError).exitCode).toBe(2);
    const text = readFileSync(`${profilesDir()}delay-fin.yaml`, 'utf8').split('\n');
    const line = text.findIndex((l) => l.includes('ms: ${ms}')) + 1;
    const col = text[line - 1]!.indexOf('${ms}') + 1;
    expect((err as TcpmitmError).message).toBe(
      `profiles/delay-fin.yaml:${line}:${col}: rules[0].action.delay.ms: -5 is negative; expected a delay in ms from 0 to 600000 (from parameter ms = -5)`,
    );
  });

  it('forge-rst takes to, trigger, bytes and instead', () => {
    const r = loadProfile('forge-rst', { to: 'both', trigger: 'data', bytes: '1000', instead: 'true' }).rules?.[0];
    expect(r?.action).toEqual({ rst: { to: 'both', instead: true } });
    expect(r?.match?.role).toBe('data');
    expect(r?.match?.afterBytes).toBe(1000);
    expect(() => loadProfile('forge-rst', { colour: 'red' })).toThrow(/no parameter 'colour'; expected one of to, trigger, bytes, instead/);
  });

  it('an unknown name is a usage error listing the built-ins', () => {
    expect(() => loadProfile('no-such-profile')).toThrow(/'no-such-profile' is neither a built-in profile nor a file; expected one of blackhole, /);
  });

  it('profiles/schema.json is exactly what the zod schema generates (UPDATE_SCHEMA=1 rewrites it)', () => {
    if (process.env['UPDATE_SCHEMA'] === '1') writeFileSync(`${profilesDir()}schema.json`, profileSchemaText());
    expect(readFileSync(`${profilesDir()}schema.json`, 'utf8')).toBe(profileSchemaText());
  });
});
