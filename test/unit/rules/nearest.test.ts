import { describe, expect, it } from 'vitest';
import { didYouMean, editDistance, nearest } from '../../../src/rules/nearest.js';
import { TCP_STATES } from '../../../src/tcp/state.js';
import { ROLES } from '../../../src/tcp/role.js';
import { parseProfile } from '../../../src/rules/parse.js';
import { TcpmitmError } from '../../../src/cli/errors.js';

describe('nearest names', () => {
  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('form', 'from')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('reads _ as - and ignores case', () => {
    expect(nearest('TIME_WAIT', TCP_STATES)).toEqual(['TIME-WAIT']);
    expect(nearest('estab', TCP_STATES)).toEqual(['ESTAB']);
    expect(nearest('fin_wait2', TCP_STATES)).toEqual(['FIN-WAIT-2']);
  });

  it('offers every name at the smallest distance, and nothing when none is near', () => {
    expect(nearest('lastack', ROLES)).toEqual(['last-ack']);
    expect(nearest('FIN-WAIT', TCP_STATES)).toEqual(['FIN-WAIT-1', 'FIN-WAIT-2']);
    expect(didYouMean('FIN-WAIT', TCP_STATES)).toBe(" (did you mean 'FIN-WAIT-1' or 'FIN-WAIT-2'?)");
    expect(nearest('xy', ['ab', 'cd'])).toEqual([]);
    expect(nearest('banana', TCP_STATES)).toEqual([]);
    expect(didYouMean('banana', TCP_STATES)).toBe('');
  });
});

describe('profile errors suggest the nearest name', () => {
  const problems = (yaml: string): string => {
    try {
      parseProfile(yaml, 'p.yaml');
    } catch (e) {
      if (e instanceof TcpmitmError) return e.message;
      throw e;
    }
    throw new Error('no error');
  };

  it('for a state, a role, an unknown field and an action, each at its own place', () => {
    const msg = problems('name: p\ndescription: d\nrules:\n  - mach: {from: clinet}\n    action: dorp\nexpect:\n  client:\n    states: [TIME_WAIT]\n');
    expect(msg).toContain("p.yaml:4:5: rules[0].mach: unknown field 'mach' (did you mean 'match'?); expected one of");
    expect(msg).toContain("p.yaml:5:13: rules[0].action: 'dorp' is not a known action (did you mean 'drop'?)");
    expect(msg).toContain("p.yaml:8:14: expect.client.states[0]: 'TIME_WAIT' is not a known TCP state (did you mean 'TIME-WAIT'?)");
    expect(msg).not.toContain('%NEAR');
  });

  it('an unknown field with no near name says only what is allowed', () => {
    const msg = problems('name: p\ndescription: d\nzzzzzz: 1\n');
    expect(msg).toMatch(/unknown field 'zzzzzz'; expected one of /);
  });
});
