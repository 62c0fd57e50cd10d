// What the registry trusts (pure): a lab id is one plain path component, and a
// record is valid only when its own id is its file's name and its owner a pid.

import { describe, expect, it } from 'vitest';
import { checkLabId, isLabId } from '../../../src/lab/lab-id.js';
import { parseRecord } from '../../../src/lab/registry.js';

describe('lab ids', () => {
  it('accepts 1–12 of a-z, 0-9, _ starting with a letter or digit', () => {
    for (const id of ['a', 'l3c0a1b2', 'demo', '0lab', 'a_b', 'abcdefghijkl']) expect(isLabId(id), id).toBe(true);
  });
  it('refuses what could name another file or namespace', () => {
    for (const id of ['', '../x', '../../../tmp/x/victim', 'a/b', '..', '.', 'A', 'a-b', '_a', 'abcdefghijklm', 'a b', 'a\n', 'tcpmitm-x']) {
      expect(isLabId(id), JSON.stringify(id)).toBe(false);
    }
  });
  it('checkLabId throws E_USAGE (exit 2) quoting the id and the rule', () => {
    expect(() => checkLabId('../x')).toThrow(expect.objectContaining({ code: 'E_USAGE', exitCode: 2, message: "'../x' is not a lab id", hint: expect.stringContaining('1–12 characters') }));
    expect(checkLabId('ok1')).toBe('ok1');
  });
});

describe('parseRecord', () => {
  const good = { id: 'lab1', pid: 4242, pidStart: 99, created: '2026-01-01T00:00:00.000Z', ipv6: true, namespaces: ['lab1-c', 'lab1-m', 'lab1-s'] };

  it('takes a record whose id is its file name', () => {
    expect(parseRecord('lab1', JSON.stringify(good))).toEqual({ ok: true, record: good });
  });
  it('refuses a record that claims another lab (its file name is its identity)', () => {
    expect(parseRecord('planted', JSON.stringify({ id: 'lab1', pid: 999999 }))).toEqual({ ok: false, problem: `its id "lab1" is not its file name's 'planted'` });
    expect(parseRecord('x', JSON.stringify({ id: '../../../tmp/x/target', pid: 1 }))).toMatchObject({ ok: false });
    expect(parseRecord('x', JSON.stringify({ pid: 1 }))).toEqual({ ok: false, problem: `its id undefined is not its file name's 'x'` });
  });
  it('refuses an owner that is not a process id', () => {
    for (const pid of [0, -1, 1.5, '42', null]) expect(parseRecord('lab1', JSON.stringify({ ...good, pid })), String(pid)).toMatchObject({ ok: false, problem: expect.stringMatching(/^its pid .* is not a process id$/) });
    expect(parseRecord('lab1', JSON.stringify({ ...good, pidStart: 'x' }))).toMatchObject({ ok: false });
  });
  it('tells an empty file (a claim cut short) from one that is not JSON', () => {
    expect(parseRecord('lab1', '')).toEqual({ ok: false, problem: 'empty' });
    expect(parseRecord('lab1', '{"id": "')).toEqual({ ok: false, problem: 'not JSON' });
    expect(parseRecord('lab1', '[1]')).toMatchObject({ ok: false });
    expect(parseRecord('lab1', 'null')).toEqual({ ok: false, problem: 'not a JSON object' });
  });
  it('fills what an older record lacks', () => {
    expect(parseRecord('lab1', JSON.stringify({ id: 'lab1', pid: 7 }))).toEqual({ ok: true, record: { id: 'lab1', pid: 7, created: '', ipv6: false, namespaces: [] } });
  });
});
