// Reads a file a person gave tcpmitm to read (a profile, an exercise, an
// answers or results file): only a regular file of bounded size, judged
// before reading, so a FIFO, /dev/zero, a directory or a huge file is refused
// at once with an error that names it instead of hanging or eating memory.

import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { ExitCode, TcpmitmError } from '../cli/errors.js';

export interface RegularFileLimits {
  /** The error code of a refusal (E_PROFILE, E_EXERCISE…). */
  readonly code: string;
  readonly maxBytes: number;
  /** "a profile": how a refusal names what the file was meant to be. */
  readonly what: string;
  /** "a regular YAML or JSON file": what was expected instead of a pipe or device. */
  readonly expected: string;
  /** What to do about a file that is too large. */
  readonly tooBigHint: string;
  /** What to do about a pipe, device or directory. */
  readonly notRegularHint: string;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** "1 MiB" for 1048576, "64 KiB" for 65536: how a limit reads in a message. */
function binarySize(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/**
 * Reads `path` (shown as `file` in messages) as UTF-8: a regular file of at
 * most `limits.maxBytes`. Opened with O_NONBLOCK so that a FIFO with no
 * writer does not hang open(2), then judged by fstat on that same fd (no race
 * with a rename), and read at most one byte past the limit (a file growing
 * after fstat cannot make it read more). Throws `limits.code`, exit 2.
 */
export function readRegularFile(path: string, file: string, limits: RegularFileLimits): string {
  const fail = (why: string, hint?: string): never => {
    throw new TcpmitmError(limits.code, `${file}: ${why}`, ExitCode.Usage, hint);
  };
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  } catch (e) {
    return fail(`cannot read: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return fail(`${kindOf(st)}; expected ${limits.expected}`, limits.notRegularHint);
    const max = limits.maxBytes;
    const tooBig = (size: string): never => fail(`${size}, more than the ${max} bytes (${binarySize(max)}) ${limits.what} may have`, limits.tooBigHint);
    if (st.size > max) tooBig(`${st.size} bytes`);
    const buf = Buffer.allocUnsafe(max + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > max) tooBig(`${n} bytes read so far (it grew while being read)`);
    }
    return buf.toString('utf8', 0, n);
  } catch (e) {
    if (e instanceof TcpmitmError) throw e;
    return fail(`cannot read: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}
