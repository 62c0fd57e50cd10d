import { describe, expect, it } from 'vitest';
import { parseProfile, ProfileError } from '../../../src/rules/parse.js';
import { applyParams } from '../../../src/rules/params.js';
import { TcpmitmError } from '../../../src/cli/errors.js';

const HEAD = 'name: bad\ndescription: a bad profile\n';

function problemOf(text: string, overrides: Record<string, string> = {}): string {
  try {
    parseProfile(text, 'bad.yaml', overrides);
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError);
    expect((e as ProfileError).code).toBe('E_PROFILE');
    expect((e as ProfileError).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error('profile was accepted');
}

// Each: the profile text and the exact message (file:line:col: path: value; expected …).
const TABLE: [string, string, string][] = [
  [
    'negative delay',
    HEAD + 'rules:\n  - action:\n      delay: {ms: -5}\n',
    'bad.yaml:5:19: rules[0].action.delay.ms: -5 is negative; expected a delay in ms from 0 to 600000',
  ],
  [
    'absurd delay',
    HEAD + 'rules:\n  - action: {delay: {ms: 3600000}}\n',
    'bad.yaml:4:26: rules[0].action.delay.ms: 3600000 is too large; expected a delay in ms from 0 to 600000',
  ],
  [
    'fractional delay',
    HEAD + 'rules:\n  - action: {delay: {ms: 1.5}}\n',
    'bad.yaml:4:26: rules[0].action.delay.ms: 1.5 is not a whole number; expected a delay in ms from 0 to 600000',
  ],
  [
    'delay as a string',
    HEAD + 'rules:\n  - action: {delay: {ms: soon}}\n',
    "bad.yaml:4:26: rules[0].action.delay.ms: 'soon' is a string; expected a delay in ms from 0 to 600000",
  ],
  [
    'delay without ms',
    HEAD + 'rules:\n  - action: {delay: {reorder: true}}\n',
    'bad.yaml:4:21: rules[0].action.delay.ms: missing; expected a delay in ms from 0 to 600000',
  ],
  [
    'unknown action name',
    HEAD + 'rules:\n  - action: dorp\n',
    "bad.yaml:4:13: rules[0].action: 'dorp' is not a known action (did you mean 'drop'?); expected one of pass, drop, duplicate, hold, blackhole, or a mapping with exactly one of delay, rst, coalesce, await, signal, replay, forge (e.g. {delay: {ms: 200}})",
  ],
  [
    'unknown action key',
    HEAD + 'rules:\n  - action: {dealy: {ms: 5}}\n',
    "bad.yaml:4:13: rules[0].action: unknown action 'dealy' (did you mean 'delay'?); expected one of pass, drop, duplicate, hold, blackhole, or a mapping with exactly one of delay, rst, coalesce, await, signal, replay, forge (e.g. {delay: {ms: 200}})",
  ],
  [
    'two actions in one',
    HEAD + 'rules:\n  - action: {delay: {ms: 5}, rst: {to: client}}\n',
    "bad.yaml:4:13: rules[0].action: 'delay' and 'rst' together is not one action; expected one of pass, drop, duplicate, hold, blackhole, or a mapping with exactly one of delay, rst, coalesce, await, signal, replay, forge (e.g. {delay: {ms: 200}})",
  ],
  [
    'unknown field in a rule',
    HEAD + 'rules:\n  - action: drop\n    time: 3\n',
    "bad.yaml:5:5: rules[0].time: unknown field 'time' (did you mean 'times'?); expected one of id, name, match, at, action, times, after, probability",
  ],
  [
    'unknown top-level field',
    HEAD + 'rulez: []\n',
    "bad.yaml:3:1: rulez: unknown field 'rulez' (did you mean 'rules'?); expected one of $schema, name, description, seed, lab, params, rules, expect",
  ],
  [
    'unknown role',
    HEAD + 'rules:\n  - match: {role: last-ak}\n    action: drop\n',
    "bad.yaml:4:19: rules[0].match.role: 'last-ak' is not a known role (did you mean 'last-ack'?); expected one of syn, syn-ack, handshake-ack, data, ack, fin, fin-ack, ack-of-fin, last-ack, rst, keepalive, retransmission, window-probe, or a list of them",
  ],
  [
    'unknown role in a list',
    HEAD + 'rules:\n  - match:\n      role: [fin, finn]\n    action: drop\n',
    "bad.yaml:5:19: rules[0].match.role[1]: 'finn' is not a known role (did you mean 'fin'?); expected one of syn, syn-ack, handshake-ack, data, ack, fin, fin-ack, ack-of-fin, last-ack, rst, keepalive, retransmission, window-probe",
  ],
  [
    'unknown flag',
    HEAD + "rules:\n  - match: {flags: 'FIN,!RTS'}\n    action: drop\n",
    "bad.yaml:4:20: rules[0].match.flags: 'FIN,!RTS' has unknown flag '!RTS'; expected names from FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, NS, each optionally prefixed by '!', separated by commas (e.g. 'FIN,!RST')",
  ],
  [
    'contradictory flags',
    HEAD + 'rules:\n  - match: {flags: "FIN,!FIN"}\n    action: drop\n',
    "bad.yaml:4:20: rules[0].match.flags: 'FIN,!FIN' asks for a flag both set and clear; expected each flag at most once",
  ],
  [
    'unknown state',
    HEAD + 'rules:\n  - match: {receiverState: LAST_ACK}\n    action: drop\n',
    "bad.yaml:4:28: rules[0].match.receiverState: 'LAST_ACK' is not a known TCP state (did you mean 'LAST-ACK'?); expected one of CLOSED, LISTEN, SYN-SENT, SYN-RECV, ESTAB, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT, or a list of them",
  ],
  [
    'probability above 1',
    HEAD + 'rules:\n  - action: drop\n    probability: 1.5\n',
    'bad.yaml:5:18: rules[0].probability: 1.5 is outside [0, 1]; expected a probability from 0 to 1',
  ],
  [
    'times zero',
    HEAD + 'rules:\n  - action: drop\n    times: 0\n',
    'bad.yaml:5:12: rules[0].times: 0 is too small; expected a whole number from 1',
  ],
  [
    'rst to nobody (JSON)',
    '{"name": "bad", "description": "d",\n "rules": [{"action": {"rst": {"to": "nobody"}}}]}',
    "bad.yaml:2:38: rules[0].action.rst.to: 'nobody' is not a known RST target; expected one of client, server, both",
  ],
  [
    'bad expectation state and duration',
    HEAD + 'expect:\n  client:\n    states: [ESTAB, FIN-WAIT-3]\n    within: 5m\n',
    "2 problems in bad.yaml:\n  bad.yaml:5:21: expect.client.states[1]: 'FIN-WAIT-3' is not a known TCP state (did you mean 'FIN-WAIT-1' or 'FIN-WAIT-2'?); expected one of CLOSED, LISTEN, SYN-SENT, SYN-RECV, ESTAB, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT, any of them with a trailing '?' (optional for the kernel probe)\n  bad.yaml:6:13: expect.client.within: '5m' is not a duration; expected a duration such as '5s' or '500ms'",
  ],
  [
    'missing name',
    'description: d\nrules: []\n',
    'bad.yaml:1:1: name: missing; expected a profile name',
  ],
  [
    'not a mapping',
    '- a\n- b\n',
    'bad.yaml:1:1: got a list; expected a profile (a mapping with $schema, name, description, seed, lab, params, rules, expect)',
  ],
  ['empty file', '', 'bad.yaml:1:1: the file is empty; expected a profile with name, description, rules and expect'],
  [
    'YAML syntax error',
    HEAD + 'rules: [\n',
    'bad.yaml:4:1: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ],
  ['duplicate key', HEAD + 'name: again\n', "bad.yaml:3:1: YAML syntax: Map keys must be unique ('name' again)"],
  [
    'undeclared parameter',
    HEAD + 'rules:\n  - action: drop\n    times: ${n}\n',
    "bad.yaml:5:12: rules[0].times: '${n}' names no declared parameter; expected a parameter declared under params",
  ],
  [
    'bad parameter declaration',
    HEAD + 'params:\n  n: {default: 1}\n',
    'bad.yaml:4:6: params.n.description: missing; expected a description',
  ],
];

describe('bad profiles never validate; each problem has file:line:col, path, value and what was expected', () => {
  it.each(TABLE)('%s', (_name, text, message) => {
    expect(problemOf(text)).toBe(message);
  });

  it('lists every problem, in file order', () => {
    const text = HEAD + 'rules:\n  - action: {delay: {ms: -1}}\n    probability: 2\n  - match: {from: nobody}\n    action: hold\n';
    expect(problemOf(text)).toBe(
      '3 problems in bad.yaml:\n' +
        '  bad.yaml:4:26: rules[0].action.delay.ms: -1 is negative; expected a delay in ms from 0 to 600000\n' +
        '  bad.yaml:5:18: rules[0].probability: 2 is outside [0, 1]; expected a probability from 0 to 1\n' +
        "  bad.yaml:6:19: rules[1].match.from: 'nobody' is not a known sender; expected one of client, server, any",
    );
  });

  it('an override for an undeclared parameter is named', () => {
    expect(problemOf(HEAD + 'rules: []\n', { times: '3' })).toBe(
      "bad.yaml: --set times=3: no parameter 'times'; expected none (this profile takes no parameters)",
    );
  });
});

describe('applyParams', () => {
  const doc = {
    name: 'p',
    params: { ms: { default: 200, description: 'd' }, side: { default: 'client', description: 'd' } },
    rules: [{ match: { from: '${side}' }, action: { delay: { ms: '${ms}' } }, name: 'delay ${side} by ${ms} ms' }],
  };

  it('substitutes defaults, keeping numbers numbers, and interpolates inside text', () => {
    expect(applyParams(doc)).toEqual({
      ...doc,
      rules: [{ match: { from: 'client' }, action: { delay: { ms: 200 } }, name: 'delay client by 200 ms' }],
    });
  });

  it('applies overrides, coercing "500" to 500', () => {
    const out = applyParams(doc, { ms: '500', side: 'server' }) as typeof doc;
    expect(out.rules[0]!.action.delay.ms).toBe(500);
    expect(out.rules[0]!.match.from).toBe('server');
    expect(out.params).toBe(doc.params);
  });

  it('refuses an unknown override with exit 2', () => {
    expect(() => applyParams(doc, { colour: 'red' })).toThrow(TcpmitmError);
    expect(() => applyParams(doc, { colour: 'red' })).toThrow("--set colour=red: no parameter 'colour'; expected one of ms, side");
  });
});
