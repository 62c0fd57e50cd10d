// Writes one output (JSONL log, pcapng, JUnit report) so that it fails safe.
// Each write() is one whole unit (lines, a block, a report). A write that
// fails (disk full, quota, I/O error) is reported once, a regular file is cut
// back to the last whole unit, and the rest is dropped: the run goes on.
// A reader that went away (EPIPE: `| head`) ends the output quietly.
// A full pipe (EAGAIN: stdout and FIFOs are non-blocking) is never waited for
// on the forwarding path: the rest is kept, bounded, and written as the
// reader takes it; at close it is waited for, bounded.

import { closeSync, ftruncateSync, writeSync } from 'node:fs';
import { openOutput, type OutputFile } from './output-file.js';

export interface SinkOptions {
  /** "--json": how the user named this output, for the message. */
  readonly what: string;
  /** "line", "block", "report": what a whole unit is, for the message. */
  readonly unit: string;
  /**
   * Units are newline-ended lines, many to a write (a JSONL batch): a write
   * cut short keeps the lines it got out whole. Otherwise a write is one unit.
   */
  readonly lines?: boolean;
  /** Called once when the output breaks, with a sentence that says so (never for a reader that went away). */
  readonly onFailure: (message: string) => void;
  /** Bytes kept while a pipe is full before the output counts as broken (default 64 MiB). */
  readonly maxQueued?: number;
  /** At close, how long a full pipe may take nothing before the rest is dropped (default 10 s). */
  readonly drainMs?: number;
}

export type SinkState = 'open' | 'failed' | 'reader-gone';

/** How often a full pipe is tried again while the run goes on (ms). */
const RETRY_MS = 10;

export class OutputSink {
  state: SinkState = 'open';
  /** Bytes that went out. */
  written = 0;
  private queue: Buffer[] = [];
  private queued = 0;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly maxQueued: number;
  private readonly drainMs: number;

  constructor(
    readonly file: OutputFile,
    private readonly o: SinkOptions,
  ) {
    this.maxQueued = o.maxQueued ?? 64 * 1024 * 1024;
    this.drainMs = o.drainMs ?? 10_000;
  }

  get ok(): boolean {
    return this.state === 'open' && !this.closed;
  }

  /** Writes whole units, or keeps them behind a full pipe, or drops them once the output is broken. Never throws. */
  write(data: Buffer | string): void {
    if (!this.ok) return;
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (buf.length === 0) return;
    if (this.queued > 0) return this.keep(buf);
    let at = 0;
    while (at < buf.length) {
      const n = this.tryWrite(buf, at);
      if (n instanceof Error) {
        // A regular file keeps the whole units that went out (it never says EAGAIN: no queue there).
        const whole = this.o.lines && at > 0 ? buf.lastIndexOf(0x0a, at - 1) + 1 : 0;
        return this.broke(n, this.written + whole);
      }
      if (n === 0) {
        this.written += at;
        return this.keep(at === 0 ? buf : buf.subarray(at));
      }
      at += n;
    }
    this.written += buf.length;
  }

  /**
   * Ends the output: what a full pipe still holds is written, waiting at most
   * drainMs for a reader that takes nothing (the run is over, blocking is
   * fine now); the file is closed. Never throws.
   */
  close(): void {
    if (this.closed) return;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    let lastProgress = performance.now();
    while (this.state === 'open' && this.queued > 0) {
      if (this.drain()) lastProgress = performance.now();
      else if (performance.now() - lastProgress > this.drainMs) this.broke(new Error(`its reader took nothing for ${this.drainMs / 1000} s at the end of the run`), this.written);
      else sleep(5);
    }
    this.closed = true;
    if (this.file.fd === 1) return;
    try {
      closeSync(this.file.fd);
    } catch (err) {
      // NFS reports a failed write-back at close.
      this.broke(err as Error, this.written);
    }
  }

  /** Bytes written by one write(2), 0 for a full pipe (EAGAIN), or what went wrong. */
  private tryWrite(buf: Buffer, at: number): number | Error {
    try {
      const n = writeSync(this.file.fd, buf, at, buf.length - at);
      return n > 0 ? n : new Error('write(2) wrote nothing');
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EAGAIN' ? 0 : (err as Error);
    }
  }

  private keep(buf: Buffer): void {
    if (this.queued + buf.length > this.maxQueued) {
      const behind = this.maxQueued >= 1048576 ? `${Math.round(this.maxQueued / 1048576)} MiB` : `${Math.round(this.maxQueued / 1024)} KiB`;
      return this.broke(new Error(`its reader fell more than ${behind} behind`), this.written);
    }
    this.queue.push(buf);
    this.queued += buf.length;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.drain();
      if (this.ok && this.queued > 0) this.scheduleRetry();
    }, RETRY_MS);
    // close() drains what is left: the retry alone must not keep the process up.
    this.retry.unref();
  }

  /** Writes what the pipe takes of the queue; whether it took anything. */
  private drain(): boolean {
    let progress = false;
    for (let head = this.queue[0]; head && this.state === 'open'; head = this.queue[0]) {
      const n = this.tryWrite(head, 0);
      if (n instanceof Error) {
        this.broke(n, this.written);
        break;
      }
      if (n === 0) break;
      progress = true;
      this.written += n;
      this.queued -= n;
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
    }
    return progress;
  }

  /**
   * The output broke: said once, with what is left. A reader that went away
   * (EPIPE) is no failure. A regular file is cut back to `whole` bytes, its
   * whole units, so what it holds stays readable (a JSONL parser, tshark).
   */
  private broke(err: Error, whole: number): void {
    if (this.state !== 'open') return;
    this.queue = [];
    this.queued = 0;
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') {
      this.state = 'reader-gone';
      return;
    }
    this.state = 'failed';
    let kept = `${this.written} bytes were written`;
    if (this.file.regular) {
      try {
        ftruncateSync(this.file.fd, whole);
        kept = whole === 0 ? 'it is left empty' : `it ends at its last whole ${this.o.unit} (${whole} bytes)`;
      } catch {
        // The unit cut short stays; the message still says where the whole ones end.
        kept = `its whole ${this.o.unit}s end at byte ${whole}`;
      }
    }
    this.o.onFailure(`${this.o.what} ${this.file.path === '-' ? 'stdout' : `'${this.file.path}'`} is incomplete: ${err.message}; ${kept} and nothing more is written to it`);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleep(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * Writes a whole output at once (the JUnit report at the end of a run): a
 * path that cannot be opened now, or a write that fails, is reported through
 * `onFailure` like any broken output, and a file cut short is emptied, never
 * left half-written (nor holding the previous run's report). Never throws.
 */
export function writeWholeOutput(path: string, what: string, text: string, onFailure: (message: string) => void): void {
  let file: OutputFile;
  try {
    file = openOutput(path, what);
  } catch (err) {
    return onFailure(`${(err as Error).message}; it was not written`);
  }
  const sink = new OutputSink(file, { what, unit: 'report', onFailure });
  sink.write(text);
  sink.close();
}
