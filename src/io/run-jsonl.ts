// Reads a run's `--json` log (a file, or `-` for stdin) for `tcpmitm ladder`;
// the parsing and its checks are src/ladder/run-events.ts. Bad input is a
// usage error (exit 2) naming the file, and the line when one is at fault.

import { readFileSync, statSync } from 'node:fs';
import type { TcpmitmEvent } from '../engine/events.js';
import { UsageError } from '../cli/errors.js';
import { parseRunJsonl } from '../ladder/run-events.js';

/** Larger than any run the ladder can usefully draw; refuses a wrong file (a pcap, a disk image) early. */
const MAX_BYTES = 256 * 1024 * 1024;

export interface ReadRun {
  readonly events: TcpmitmEvent[];
  /** 1-based line that was cut short and skipped, if the log ended mid-line. */
  readonly cutShort: number | undefined;
}

export function readRunJsonl(file: string): ReadRun {
  let text: string;
  try {
    if (file !== '-') {
      const st = statSync(file);
      if (!st.isFile()) throw new UsageError(`${file}: not a regular file`, 'give the file written by --json FILE');
      if (st.size > MAX_BYTES) throw new UsageError(`${file}: ${st.size} bytes, more than the ${MAX_BYTES} a run log may have here`);
    }
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'give the file written by --json FILE');
  }
  const parsed = parseRunJsonl(text);
  if (!parsed.ok) {
    throw new UsageError(
      `${file}${parsed.line !== undefined ? `:${parsed.line}` : ''}: ${parsed.message}`,
      'tcpmitm ladder reads the JSON lines a run writes with --json FILE (see docs/events.md)',
    );
  }
  return { events: parsed.events, cutShort: parsed.cutShort };
}
