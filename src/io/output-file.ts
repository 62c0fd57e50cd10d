// Opens the destination of an output (--json, --pcap, --junit) so that what
// someone else planted at the path cannot redirect it: `-` is stdout; a file
// is opened without following a symbolic link (O_NOFOLLOW), created 0600 (it
// holds payload), and refused when it is another user's or has other names.

import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, readlinkSync, type Stats } from 'node:fs';
import { ExitCode, TcpmitmError } from '../cli/errors.js';

/** Mode of a file tcpmitm creates. An existing file of the user's own keeps its mode: creating it first is how to ask for another. */
export const OUTPUT_MODE = 0o600;

export interface OutputFile {
  /** As the user gave it; `-` for stdout. */
  readonly path: string;
  readonly fd: number;
  /** A regular file tcpmitm opened: a failed write can be cut back to the last whole unit. */
  readonly regular: boolean;
}

/**
 * Why an output must not be written at `path`, judged from what is there now
 * (lstat: a link is seen as a link), or undefined when it may be. `euid` is
 * the user tcpmitm writes as.
 */
export function refusal(path: string, st: Stats, euid: number): string | undefined {
  if (st.isSymbolicLink()) {
    let target = '';
    try {
      target = ` (to '${readlinkSync(path)}')`;
    } catch {
      // Gone meanwhile: the link alone is reason enough.
    }
    // /dev/stdout and /dev/fd/N are links too: `-` is what they are for.
    return `'${path}' is a symbolic link${target}: tcpmitm does not follow a link for its outputs (a link planted by another user would make it overwrite any file); remove it or give the real path${path.startsWith('/dev/') ? ", or '-' for stdout" : ''}`;
  }
  if (st.isDirectory()) return `'${path}' is a folder; give a file name`;
  if (st.isFile()) {
    // Its owner could read what tcpmitm writes (payload included), and root would write where another user chose.
    if (st.uid !== euid) return `'${path}' belongs to another user (uid ${st.uid}), and tcpmitm (uid ${euid}) does not write into another user's file: its owner could read what tcpmitm writes, payload included; remove it or choose another path`;
    // A hard link to a file elsewhere (protected_hardlinks off) would be overwritten through this name.
    if (st.nlink > 1) return `'${path}' has ${st.nlink} names (hard links), and tcpmitm does not overwrite a file that also lives elsewhere; remove it or choose another path`;
  }
  return undefined;
}

/** What is wrong with writing an output at `path` now (checked by the CLI before anything starts), or undefined. */
export function checkOutputPath(path: string): string | undefined {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return undefined;
  }
  return refusal(path, st, process.geteuid?.() ?? 0);
}

/**
 * Opens `path` for writing `what` ("--json"…): fd 1 for `-`; otherwise
 * O_NOFOLLOW, so a link planted between the CLI's check and this open is
 * refused too (ELOOP), and non-blocking, so a FIFO without a reader is an
 * error instead of a hang (the sink handles a full pipe). The file is
 * truncated only once it is known to be one we may write.
 * Throws E_OUTPUT (exit 2) with a sentence naming the path.
 */
export function openOutput(path: string, what: string): OutputFile {
  if (path === '-') return { path, fd: 1, regular: false };
  const refuse = (why: string): never => {
    throw new TcpmitmError('E_OUTPUT', `${what}: ${why}`, ExitCode.Usage);
  };
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, OUTPUT_MODE);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const now = checkOutputPath(path);
    if (e.code === 'ELOOP' && now) return refuse(now);
    if (e.code === 'ENXIO') return refuse(`'${path}' is a FIFO with no reader: start its reader first`);
    if (e.code === 'EISDIR') return refuse(`'${path}' is a folder; give a file name`);
    return refuse(`cannot write '${path}': ${e.message}`);
  }
  const st = fstatSync(fd);
  const why = refusal(path, st, process.geteuid?.() ?? 0);
  if (why) {
    closeSync(fd);
    return refuse(why);
  }
  if (st.isFile()) ftruncateSync(fd, 0);
  return { path, fd, regular: st.isFile() };
}
