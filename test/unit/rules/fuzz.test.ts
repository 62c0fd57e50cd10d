import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseProfile } from '../../../src/rules/parse.js';
import { TcpmitmError } from '../../../src/cli/errors.js';

function onlyTcpmitmErrors(text: string): boolean {
  try {
    parseProfile(text, 'fuzz.yaml');
  } catch (e) {
    if (!(e instanceof TcpmitmError)) throw e;
    expect(e.message).toMatch(/^(fuzz\.yaml(:\d+:\d+)?: |\d+ problems in fuzz\.yaml:\n)/);
  }
  return true;
}

// YAML-ish text: fragments of real profiles, indentation and punctuation.
const token = fc.constantFrom(
  'name: x\n', 'description: d\n', 'rules:\n', '  - ', 'action: ', 'drop', '{delay: {ms: ', '-5', '}}', 'match:',
  ' role: ', 'fin', '[', ']', '{', '}', ',', ':', '\n', '  ', '"', "'", '&a ', '*a', '!!binary ', '${times}',
  'params: {times: {default: 1, description: d}}\n', 'expect:\n', '  client: {states: [ESTAB, LAST-ACK?]}\n',
  '__proto__: 1\n', 'constructor: 1\n', '? ', '- ', '#', '%YAML 1.2\n---\n', '...\n', '\t', 'null', '~', '0x1f', '.inf',
);

describe('parseProfile never throws anything but a TcpmitmError', () => {
  it('on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), onlyTcpmitmErrors), { numRuns: 500 });
  });

  it('on YAML-ish token soup', () => {
    fc.assert(fc.property(fc.array(token, { maxLength: 40 }).map((a) => a.join('')), onlyTcpmitmErrors), { numRuns: 1000 });
  });

  it('on arbitrary JSON values, dumped as YAML', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => onlyTcpmitmErrors(stringify(v))),
      { numRuns: 500 },
    );
  });

  it('on profile-shaped objects with random leaves', () => {
    const leaf = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.constantFrom('fin', 'drop', 'ESTAB', 'FIN,!RST', '5s'));
    const obj = fc.record(
      {
        name: leaf,
        description: leaf,
        rules: fc.array(fc.record({ match: fc.dictionary(fc.constantFrom('from', 'role', 'flags', 'senderState', 'port', 'conn', 'x'), leaf), action: fc.oneof(leaf, fc.dictionary(fc.constantFrom('delay', 'rst', 'coalesce', 'await', 'x'), fc.dictionary(fc.string(), leaf))), times: leaf }, { requiredKeys: [] })),
        expect: fc.dictionary(fc.constantFrom('client', 'server', 'x'), fc.dictionary(fc.constantFrom('states', 'within', 'not', 'app', 'source'), fc.oneof(leaf, fc.array(leaf)))),
      },
      { requiredKeys: [] },
    );
    fc.assert(fc.property(obj, (v) => onlyTcpmitmErrors(JSON.stringify(v))), { numRuns: 500 });
  });
});
