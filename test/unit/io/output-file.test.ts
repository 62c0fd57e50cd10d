// Opening an output (openOutput, checkOutputPath, the CLI's writableFile):
// never through a symbolic link (dangling ones included: the target is not
// created), never into another user's file or a hard-linked one, new files
// 0600, an existing file of one's own truncated with its mode kept.

import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chownSync, closeSync, constants, existsSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { checkOutputPath, openOutput, refusal } from '../../../src/io/output-file.js';
import { writableFile } from '../../../src/cli/parse.js';
import { TcpmitmError } from '../../../src/cli/errors.js';
import { tempDir } from '../../helpers/temp.js';

const dir = tempDir('op-open-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const isRoot = process.geteuid?.() === 0;

/** The TcpmitmError openOutput throws (it must throw one). */
function refused(path: string): TcpmitmError {
  try {
    const f = openOutput(path, '--json');
    closeSync(f.fd);
  } catch (err) {
    expect(err).toBeInstanceOf(TcpmitmError);
    return err as TcpmitmError;
  }
  throw new Error(`openOutput('${path}') did not refuse`);
}

describe('openOutput', () => {
  it("'-' is stdout, never a file named '-'", () => {
    expect(openOutput('-', '--pcap')).toEqual({ path: '-', fd: 1, regular: false });
  });

  it('creates a new file 0600 (it holds payload)', () => {
    const p = join(dir, 'new.jsonl');
    const f = openOutput(p, '--json');
    closeSync(f.fd);
    expect(f.regular).toBe(true);
    expect(statSync(p).mode & 0o777).toBe(0o600);
  });

  it("truncates an existing file of the user's own and keeps its mode (how one asks for another)", () => {
    const p = join(dir, 'mine.jsonl');
    writeFileSync(p, 'old run\n', { mode: 0o644 });
    const f = openOutput(p, '--json');
    closeSync(f.fd);
    expect(readFileSync(p, 'utf8')).toBe('');
    expect(statSync(p).mode & 0o777).toBe(0o644);
  });

  it('refuses a symbolic link, names it and its target, and leaves the target untouched', () => {
    const target = join(dir, 'root-only');
    writeFileSync(target, 'secret\n', { mode: 0o600 });
    const link = join(dir, 'ev.jsonl');
    symlinkSync(target, link);
    const err = refused(link);
    expect(err.code).toBe('E_OUTPUT');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(`'${link}' is a symbolic link (to '${target}')`);
    expect(err.message).toContain('remove it or give the real path');
    expect(readFileSync(target, 'utf8')).toBe('secret\n');
    expect(statSync(target).mode & 0o777).toBe(0o600);
  });

  it('refuses a dangling link without creating what it points to', () => {
    const target = join(dir, 'not-there');
    const link = join(dir, 'dangling.pcapng');
    symlinkSync(target, link);
    expect(refused(link).message).toContain('is a symbolic link');
    expect(existsSync(target)).toBe(false);
  });

  it("says '-' for /dev/stdout (a link)", () => {
    expect(checkOutputPath('/dev/stdout')).toMatch(/symbolic link .*or '-' for stdout/);
  });

  it('refuses a file with another name elsewhere (hard link), untouched', () => {
    const a = join(dir, 'linked-a');
    writeFileSync(a, 'keep\n');
    const b = join(dir, 'linked-b');
    linkSync(a, b);
    expect(refused(b).message).toContain("has 2 names (hard links)");
    expect(readFileSync(a, 'utf8')).toBe('keep\n');
  });

  it.runIf(isRoot)("refuses another user's file (root would write where they can read), untouched", () => {
    const p = join(dir, 'theirs.jsonl');
    writeFileSync(p, 'theirs\n');
    chownSync(p, 65534, 65534);
    expect(refused(p).message).toContain(`'${p}' belongs to another user (uid 65534)`);
    expect(readFileSync(p, 'utf8')).toBe('theirs\n');
  });

  it('refuses a FIFO nobody reads (instead of hanging) and a folder', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(refused(fifo).message).toContain('is a FIFO with no reader');
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    expect(refused(sub).message).toContain('is a folder');
  });

  it('writes into a FIFO that has a reader', () => {
    const fifo = join(dir, 'fifo-read');
    execFileSync('mkfifo', [fifo]);
    const r = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const f = openOutput(fifo, '--json');
    expect(f.regular).toBe(false);
    closeSync(f.fd);
    closeSync(r);
  });
});

describe('refusal (what openOutput and the CLI judge from a stat)', () => {
  const stat = (over: Partial<Record<'link' | 'dir' | 'file', boolean>> & { uid?: number; nlink?: number }): Stats =>
    ({ isSymbolicLink: () => over.link === true, isDirectory: () => over.dir === true, isFile: () => over.file === true, uid: over.uid ?? 0, nlink: over.nlink ?? 1 }) as Stats;

  it('judges ownership and names', () => {
    expect(refusal('/x', stat({ file: true, uid: 1000 }), 0)).toContain('belongs to another user (uid 1000)');
    expect(refusal('/x', stat({ file: true, uid: 1000 }), 1000)).toBeUndefined();
    expect(refusal('/x', stat({ file: true, nlink: 3 }), 0)).toContain('has 3 names');
    // A device (/dev/null) is written as it is.
    expect(refusal('/dev/null', stat({}), 0)).toBeUndefined();
  });
});

describe('writableFile (the CLI, before anything starts)', () => {
  it("refuses a link up front, and '-' for an output that cannot stream", () => {
    const link = join(dir, 'cli-link');
    symlinkSync(join(dir, 'whatever'), link);
    expect(() => writableFile(true)(link)).toThrow(InvalidArgumentError);
    expect(() => writableFile(true)(link)).toThrow(/is a symbolic link/);
    expect(writableFile(true)('-')).toBe('-');
    expect(() => writableFile(false)('-')).toThrow(/only for outputs that stream \(--json, --pcap\); give a file name/);
    expect(writableFile(false)(join(dir, 'fresh.xml'))).toBe(join(dir, 'fresh.xml'));
  });
});
