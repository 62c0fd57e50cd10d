// `--json FILE|-`: every event as one JSON line (schema: docs/events.md).
// Writes go through one synchronous fd so the log is complete on any exit,
// Ctrl-C included, without waiting for a stream to drain. A log that cannot
// be written fails safe (OutputSink): it ends at its last whole line.

import type { TcpmitmEvent } from '../engine/events.js';
import { openOutput } from './output-file.js';
import { OutputSink } from './output-sink.js';

export interface JsonlWriter {
  write(ev: TcpmitmEvent): void;
  /** Writes what is batched now (before the end event, so a failure of the last writes is known to the exit code). */
  flush(): void;
  close(): void;
}

/** Throws E_OUTPUT (exit 2) when `dest` cannot be opened; `onFailure` is told once if writing it fails later. */
export function openJsonl(dest: string, onFailure: (message: string) => void): JsonlWriter {
  const sink = new OutputSink(openOutput(dest, '--json'), { what: '--json', unit: 'line', lines: true, onFailure });
  // Batch small writes: one write per ~64 KiB or per flush.
  let pending: string[] = [];
  let size = 0;
  let closed = false;
  const flush = (): void => {
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    size = 0;
    sink.write(text);
  };
  const timer = setInterval(flush, 100);
  timer.unref();
  return {
    write(ev) {
      if (closed || !sink.ok) return;
      const line = JSON.stringify(ev) + '\n';
      pending.push(line);
      size += line.length;
      if (size > 65_536) flush();
    },
    flush,
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      flush();
      sink.close();
    },
  };
}
