// The replay action and the RST's whole-space seqOffset in a profile: what
// the schema accepts, the engine plan it compiles to, and the messages for
// what it refuses (file:line:col, as every profile error).

import { describe, expect, it } from 'vitest';
import { parseProfile, ProfileError } from '../../../src/rules/parse.js';
import { toPlan } from '../../../src/rules/match.js';

const HEAD = 'name: r\ndescription: replay\n';

function parse(rules: string) {
  return parseProfile(HEAD + 'rules:\n' + rules, 'r.yaml');
}

function problemOf(rules: string): string {
  try {
    parse(rules);
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError);
    return (e as Error).message;
  }
  throw new Error('profile was accepted');
}

describe('replay action', () => {
  it.each([
    ['{replay: {after_ms: 2000}}', { kind: 'replay', afterMs: 2000, into: 'same-conn', instead: false }],
    ['{replay: {into: next-conn}}', { kind: 'replay', afterMs: 0, into: 'next-conn', instead: false }],
    ['{replay: {into: next-conn, after_ms: 300, instead: true}}', { kind: 'replay', afterMs: 300, into: 'next-conn', instead: true }],
  ])('%s compiles to its plan', (action, plan) => {
    const p = parse(`  - action: ${action}\n`);
    expect(toPlan(p.rules![0]!.action)).toEqual(plan);
  });

  it('says neither when nor where: refused', () => {
    expect(problemOf('  - action: {replay: {instead: true}}\n')).toBe(
      'r.yaml:4:22: rules[0].action.replay: says neither when nor where; expected after_ms (the same connection, that long after) or into: next-conn',
    );
  });

  it('an unknown target, an unknown field and a negative wait are refused with what is allowed', () => {
    expect(problemOf('  - action: {replay: {into: later}}\n')).toMatch(/^r\.yaml:4:\d+: rules\[0\]\.action\.replay\.into: 'later' is not a known replay target; expected one of next-conn$/);
    expect(problemOf('  - action: {replay: {after_ms: 5, to: server}}\n')).toMatch(/rules\[0\]\.action\.replay\.to: unknown field 'to'; expected one of after_ms, into, instead/);
    expect(problemOf('  - action: {replay: {after_ms: -1}}\n')).toMatch(/rules\[0\]\.action\.replay\.after_ms: -1 is negative; expected a wait in ms from 0 to 600000/);
  });

  it('is one action: beside another it is refused', () => {
    expect(problemOf('  - action: {replay: {after_ms: 5}, drop: {}}\n')).toMatch(/rules\[0\]\.action/);
  });
});

describe('rst seqOffset: the whole 32-bit sequence space', () => {
  it.each([0, 1, -1, 65536, 1_000_000, 0x8000_0000, 0xffff_ffff, -0xffff_ffff])('%d is accepted', (n) => {
    const p = parse(`  - action: {rst: {to: server, seqOffset: ${n}}}\n`);
    expect(toPlan(p.rules![0]!.action)).toMatchObject({ kind: 'rst', seqOffset: n });
  });

  it('beyond ±(2^32 − 1) is refused', () => {
    expect(problemOf('  - action: {rst: {to: server, seqOffset: 4294967296}}\n')).toMatch(
      /seqOffset: 4294967296 is too large; expected an offset from -4294967295 to 4294967295 added to the receiver's rcv_nxt, mod 2\^32/,
    );
  });
});

describe('forge action', () => {
  it('a SYN to the server compiles to its plan', () => {
    const p = parse('  - action: {forge: {to: server, flags: SYN, seqOffset: 1}}\n');
    expect(toPlan(p.rules![0]!.action)).toEqual({ kind: 'forge', to: 'server', flags: 'SYN', seqOffset: 1, instead: false });
  });

  it('anything but SYN is refused (a RST is the rst action)', () => {
    expect(problemOf('  - action: {forge: {to: server, flags: RST}}\n')).toMatch(/rules\[0\]\.action\.forge\.flags: 'RST' is not a known forged segment; expected one of SYN/);
    expect(problemOf('  - action: {forge: {to: both, flags: SYN}}\n')).toMatch(/rules\[0\]\.action\.forge\.to: 'both' is not a known endpoint; expected one of client, server/);
  });
});
