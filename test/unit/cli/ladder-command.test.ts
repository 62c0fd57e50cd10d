// `tcpmitm ladder` at the command boundary: formats from the extension, and
// bad input (not a run, a malformed line, a missing connection, no segments)
// as exit 2 naming the file and line.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../../src/cli/main.js';
import { tempDir } from '../../helpers/temp.js';

const dir = tempDir('tcpmitm-ladder-cli-');
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const START = '{"type":"start","t":0.2,"mode":"lab","wall":"2026-12-03T10:00:00.000Z"}';
const CONN = '{"type":"connection","t":0.5,"conn":1,"client":"198.18.0.1:40000","server":"198.18.0.2:8080","pickedUp":false}';
const SEG = '{"type":"segment","t":0.5,"conn":1,"dir":"c2s","from":"client","flags":"S","seq":0,"ack":0,"len":0,"win":1,"role":"syn","verdict":"pass"}';
const GOOD = `${START}\n${CONN}\n${SEG}\n`;

let stderr = '';
beforeEach(() => {
  stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ladder = (...args: string[]): Promise<number> => run(['node', 'tcpmitm', 'ladder', ...args]);

describe('tcpmitm ladder', () => {
  it('writes SVG or HTML by the extension', async () => {
    const input = file('good.jsonl', GOOD);
    expect(await ladder(input, '-o', join(dir, 'a.svg'))).toBe(0);
    expect(readFileSync(join(dir, 'a.svg'), 'utf8')).toMatch(/^<\?xml[\s\S]*<svg [\s\S]*\[S\] seq=0 len=0/);
    expect(await ladder(input, '-o', join(dir, 'a.html'))).toBe(0);
    expect(readFileSync(join(dir, 'a.html'), 'utf8')).toMatch(/^<!DOCTYPE html>[\s\S]*<svg /);
    expect(await ladder(input, '-o', join(dir, 'a.png'))).toBe(2);
    expect(stderr).toContain("--output '");
  });

  it('names the file and line of a malformed line, exit 2', async () => {
    const bad = file('bad.jsonl', `${START}\n${CONN}\n{oops\n${SEG}\n`);
    expect(await ladder(bad, '-o', join(dir, 'b.svg'))).toBe(2);
    expect(stderr).toContain(`${bad}:3: not JSON`);
  });

  it('refuses a file that is not a tcpmitm run, exit 2', async () => {
    const other = file('other.jsonl', '{"hello":"world"}\n');
    expect(await ladder(other, '-o', join(dir, 'c.svg'))).toBe(2);
    expect(stderr).toContain(`${other}:1: not a tcpmitm event`);
    expect(await ladder(join(dir, 'missing.jsonl'), '-o', join(dir, 'c.svg'))).toBe(2);
    expect(stderr).toContain('cannot read it (ENOENT)');
  });

  it('says which connections exist when --conn names another, exit 2', async () => {
    const input = file('good2.jsonl', GOOD);
    expect(await ladder(input, '--conn', '4', '-o', join(dir, 'd.svg'))).toBe(2);
    expect(stderr).toContain(`${input}: no connection #4 in this run`);
    expect(stderr).toContain('its connections: #1');
    expect(await ladder(input, '--conn', 'x', '-o', join(dir, 'd.svg'))).toBe(2);
  });

  it('says a run without segments has nothing to draw, exit 2', async () => {
    const empty = file('empty.jsonl', `${START}\n{"type":"end","t":1,"reason":"done","exitCode":0}\n`);
    expect(await ladder(empty, '-o', join(dir, 'e.svg'))).toBe(2);
    expect(stderr).toContain('the run has no segments to draw [E_NO_SEGMENTS]');
  });
});
