// The link between `tcpmitm lab` (the supervisor) and the session it starts in
// the middle namespace: a socket on the session's fd 3 that carries the
// session's config (one JSON line, of any size: an environment variable is
// capped at 128 KiB, execve's E2BIG) and then stays open as long as the
// supervisor lives. Its EOF is the supervisor's death (Node cannot ask for
// PR_SET_PDEATHSIG; the kernel closes a dead process's descriptors): the
// session then ends its run and removes the lab itself.

import type { ChildProcess, StdioOptions } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import type { InnerConfig } from './inner-config.js';
import { ownerAlive, readRecord } from './registry.js';
import { removeLab } from './topology.js';

/** The session's descriptor for the link (after stdin, stdout, stderr). */
export const LINK_FD = 3;

/** The stdio of a session: the three given, then the link. */
export function sessionStdio(stdio: readonly ['inherit' | 'ignore' | 'pipe', 'inherit' | 'ignore' | 'pipe', 'inherit' | 'ignore' | 'pipe']): StdioOptions {
  return [...stdio, 'pipe'];
}

/**
 * Supervisor side: sends the config down the link of a session spawned with
 * `sessionStdio`. The link is never ended from here: it closes when this
 * process dies, and that is what the session watches for.
 */
export function sendSessionConfig(child: ChildProcess, config: InnerConfig): void {
  const link = child.stdio[LINK_FD] as Socket | null | undefined;
  if (!link) throw new TcpmitmError('E_INTERNAL', `the session was spawned without its link on fd ${LINK_FD}`);
  // A session that died first makes the write fail (EPIPE): its exit says why.
  link.on('error', () => undefined);
  link.write(JSON.stringify(config) + '\n');
}

export interface SessionLink {
  readonly config: InnerConfig;
  /** Resolves once the supervisor is gone (the link's EOF), possibly already. */
  readonly supervisorGone: Promise<void>;
  /** Whether it has gone. */
  gone(): boolean;
}

/** Session side: reads the config from fd 3 and watches the link from then on. */
export function openSessionLink(): Promise<SessionLink> {
  try {
    if (!fstatSync(LINK_FD).isSocket()) throw new Error('not a socket');
  } catch {
    return Promise.reject(new TcpmitmError('E_USAGE', 'inner-main is started by `tcpmitm lab`, not by hand', ExitCode.Usage));
  }
  const socket = new Socket({ fd: LINK_FD, readable: true, writable: false });
  socket.setEncoding('utf8');
  let isGone = false;
  let markGone!: () => void;
  const supervisorGone = new Promise<void>((resolve) => (markGone = resolve));
  const onGone = (): void => {
    isGone = true;
    markGone();
  };
  // ECONNRESET is a death as much as EOF is.
  socket.on('end', onGone).on('close', onGone).on('error', onGone);
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: string): void => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      socket.off('data', onData);
      // Nothing else comes on the link: keep reading so that its EOF is seen,
      // but no longer keep the session alive: its run decides when it ends.
      socket.on('data', () => undefined);
      socket.unref();
      try {
        resolve({ config: JSON.parse(text.slice(0, nl)) as InnerConfig, supervisorGone, gone: () => isGone });
      } catch (err) {
        reject(new TcpmitmError('E_INTERNAL', `the session's config is not JSON: ${(err as Error).message}`));
      }
    };
    socket.on('data', onData);
    void supervisorGone.then(() => reject(new TcpmitmError('E_LAB', 'the supervisor (`tcpmitm lab`) died before it sent the session its config')));
  });
}

/**
 * The session's own teardown once its supervisor is dead: removes the lab as
 * `lab down` would — but only while the registry still names that supervisor
 * as its owner, and that owner is gone. A record that names anyone else (a
 * `lab down` ran and the id was claimed anew) is another lab now.
 * Returns what could not be removed, or undefined when it was not ours to remove.
 */
export async function removeAbandonedLab(lab: InnerConfig['lab']): Promise<string[] | undefined> {
  const rec = readRecord(lab.id);
  if (!rec || rec.pid !== lab.owner.pid || rec.pidStart !== lab.owner.pidStart || ownerAlive(rec)) return undefined;
  return removeLab(lab.id);
}
