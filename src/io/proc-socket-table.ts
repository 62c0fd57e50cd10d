// An end namespace's TCP socket table read through a process living there:
// /proc/<pid>/net/tcp{,6}, with readFileSync (no process spawned per read).

import { readFileSync } from 'node:fs';
import { parseProcTcp, type ProcTcpRow } from './proc-net-tcp.js';

/** Every row of a namespace's /proc/<pid>/net/tcp and tcp6 (listeners included). */
export function readSocketTable(pid: number): ProcTcpRow[] {
  const rows: ProcTcpRow[] = [];
  for (const f of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${f}`, 'latin1');
    } catch {
      continue; // tcp6 is absent when IPv6 is disabled.
    }
    rows.push(...parseProcTcp(text));
  }
  return rows;
}

/** Whether the namespace's holder still runs: a dead pid would read *our* namespace's table through a reused pid. */
export function processAlive(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}
