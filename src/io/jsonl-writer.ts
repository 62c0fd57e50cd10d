// `--json FILE|-`: every event as one JSON line (schema: docs/events.md).
// Writes go through one synchronous fd so the log is complete on any exit,
// Ctrl-C included, without waiting for a stream to drain.

import { closeSync, openSync, writeSync } from 'node:fs';
import type { TcpmitmEvent } from '../engine/events.js';
import { TcpmitmError } from '../cli/errors.js';

export interface JsonlWriter {
  write(ev: TcpmitmEvent): void;
  close(): void;
}

export function openJsonl(dest: string): JsonlWriter {
  let fd: number;
  try {
    fd = dest === '-' ? 1 : openSync(dest, 'w');
  } catch (err) {
    throw new TcpmitmError('E_JSON_OPEN', `cannot write events to '${dest}': ${(err as Error).message}`, 2);
  }
  // Batch small writes: one writeSync per ~64 KiB or per flush.
  let pending: string[] = [];
  let size = 0;
  let closed = false;
  const flush = () => {
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    size = 0;
    writeSync(fd, text);
  };
  const timer = setInterval(flush, 100);
  timer.unref();
  return {
    write(ev) {
      if (closed) return;
      const line = JSON.stringify(ev) + '\n';
      pending.push(line);
      size += line.length;
      if (size > 65_536) flush();
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      flush();
      if (fd !== 1) closeSync(fd);
    },
  };
}
