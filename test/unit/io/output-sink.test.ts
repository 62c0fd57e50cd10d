// OutputSink and the writers over it, against real file descriptors: a device
// that is always full (/dev/full: ENOSPC on every write), a FIFO whose reader
// is slow (EAGAIN), stops reading, or goes away (EPIPE). A broken output is
// reported once and never throws; a reader that went away is no failure; a
// full pipe keeps what it cannot take yet, in order, bounded.

import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, readSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OutputSink, writeWholeOutput } from '../../../src/io/output-sink.js';
import { openOutput } from '../../../src/io/output-file.js';
import { openJsonl } from '../../../src/io/jsonl-writer.js';
import { PcapngWriter } from '../../../src/io/pcapng-writer.js';
import type { TcpmitmEvent } from '../../../src/engine/events.js';
import { tempDir } from '../../helpers/temp.js';

const dir = tempDir('op-sink-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A FIFO with a non-blocking reader: the writer's side of it through openOutput. */
function fifo(name: string): { reader: number; path: string } {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return { reader: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), path };
}

/** Reads what is in the pipe now (none: empty buffer). */
function readNow(fd: number): Buffer {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65_536);
  for (;;) {
    let n = 0;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks);
}

/** Waits (bounded) until `pred` holds, reading nothing itself. */
async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const ev = (i: number): TcpmitmEvent => ({ type: 'warning', t: i / 1000, message: `event ${i} ${'x'.repeat(200)}` });

describe('OutputSink on a full device (/dev/full: ENOSPC)', () => {
  it('reports once, drops the rest, never throws', () => {
    const failures: string[] = [];
    const sink = new OutputSink(openOutput('/dev/full', '--json'), { what: '--json', unit: 'line', onFailure: (m) => failures.push(m) });
    expect(() => {
      sink.write('{"a":1}\n');
      sink.write('{"a":2}\n');
      sink.close();
    }).not.toThrow();
    expect(sink.state).toBe('failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBe("--json '/dev/full' is incomplete: ENOSPC: no space left on device, write; 0 bytes were written and nothing more is written to it");
  });

  it('the JSONL writer: on the write path (a 64 KiB batch) and on the timer flush', async () => {
    const failures: string[] = [];
    const a = openJsonl('/dev/full', (m) => failures.push(m));
    // More than 64 KiB: flushed on the write path, from inside write().
    expect(() => {
      for (let i = 0; i < 400; i++) a.write(ev(i));
    }).not.toThrow();
    expect(failures).toHaveLength(1);
    a.close();
    expect(failures).toHaveLength(1);

    const b = openJsonl('/dev/full', (m) => failures.push(m));
    b.write(ev(1));
    // The 100 ms timer flushes it: its failure is reported, not thrown out of the timer.
    await until(() => failures.length === 2);
    b.write(ev(2));
    b.close();
    expect(failures).toHaveLength(2);
    expect(failures[1]).toContain('ENOSPC');
  });

  it('the pcapng writer: a packet that cannot be written is reported once and not counted', () => {
    const failures: string[] = [];
    const w = new PcapngWriter({ path: '/dev/full', names: { a: 'm0', b: 'm1' }, onFailure: (m) => failures.push(m) });
    for (let i = 0; i < 3; i++) {
      w.beginCaptured('a', Buffer.alloc(60, i));
      w.endCaptured();
    }
    w.close();
    expect(w.count).toBe(0);
    expect(failures).toEqual(["--pcap '/dev/full' is incomplete: ENOSPC: no space left on device, write; 0 bytes were written and nothing more is written to it"]);
  });
});

describe('OutputSink on a pipe', () => {
  it('keeps what a full pipe cannot take and writes it, in order, as the reader reads', async () => {
    const { reader, path } = fifo('slow');
    const failures: string[] = [];
    const sink = new OutputSink(openOutput(path, '--pcap'), { what: '--pcap', unit: 'block', onFailure: (m) => failures.push(m) });
    // 1 MiB in 16 KiB units, far more than the pipe's 64 KiB.
    const units = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16_384, i));
    for (const u of units) sink.write(u);
    expect(sink.ok).toBe(true);
    const got: Buffer[] = [];
    let total = 0;
    await until(() => {
      const b = readNow(reader);
      got.push(b);
      total += b.length;
      return total >= 64 * 16_384;
    }, 10_000);
    expect(Buffer.concat(got).equals(Buffer.concat(units))).toBe(true);
    expect(failures).toEqual([]);
    sink.close();
    closeSync(reader);
  });

  it('counts a reader that fell too far behind as a failure, and a reader that took nothing at the end', () => {
    const { reader, path } = fifo('stalled');
    const failures: string[] = [];
    const sink = new OutputSink(openOutput(path, '--json'), { what: '--json', unit: 'line', onFailure: (m) => failures.push(m), maxQueued: 128 * 1024 });
    for (let i = 0; i < 16; i++) sink.write(Buffer.alloc(16_384, 1));
    expect(sink.state).toBe('failed');
    // What the pipe took before it was full (its size: 64 KiB on most machines) was written.
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(new RegExp(`^--json '${path}' is incomplete: its reader fell more than 128 KiB behind; \\d+ bytes were written and nothing more is written to it$`));
    sink.close();
    closeSync(reader);

    const f2 = fifo('stalled-at-end');
    const late: string[] = [];
    const s2 = new OutputSink(openOutput(f2.path, '--json'), { what: '--json', unit: 'line', onFailure: (m) => late.push(m), drainMs: 50 });
    for (let i = 0; i < 8; i++) s2.write(Buffer.alloc(16_384, 1));
    expect(s2.ok).toBe(true);
    s2.close();
    expect(late).toHaveLength(1);
    expect(late[0]).toContain('its reader took nothing for 0.05 s at the end of the run');
    closeSync(f2.reader);
  });

  it('ends quietly when the reader went away (EPIPE): no failure', () => {
    const { reader, path } = fifo('gone');
    const failures: string[] = [];
    const sink = new OutputSink(openOutput(path, '--json'), { what: '--json', unit: 'line', onFailure: (m) => failures.push(m) });
    sink.write('first\n');
    closeSync(reader);
    sink.write('second\n');
    sink.write('third\n');
    sink.close();
    expect(sink.state).toBe('reader-gone');
    expect(failures).toEqual([]);
  });
});

describe('writeWholeOutput (the JUnit report)', () => {
  it('writes the report 0600, and reports a link planted meanwhile instead of following it', () => {
    const failures: string[] = [];
    const p = join(dir, 'verdict.xml');
    writeWholeOutput(p, '--junit', '<testsuites/>\n', (m) => failures.push(m));
    expect(readFileSync(p, 'utf8')).toBe('<testsuites/>\n');
    const target = join(dir, 'precious');
    writeFileSync(target, 'precious\n');
    const link = join(dir, 'planted.xml');
    symlinkSync(target, link);
    writeWholeOutput(link, '--junit', '<testsuites/>\n', (m) => failures.push(m));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/^--junit: '.*planted\.xml' is a symbolic link .*; it was not written$/);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    writeWholeOutput('/dev/full', '--junit', '<testsuites/>\n', (m) => failures.push(m));
    expect(failures[1]).toContain("--junit '/dev/full' is incomplete: ENOSPC");
  });
});
