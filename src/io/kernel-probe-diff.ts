// Pure part of the kernel probe: keeps the last-seen state per 4-tuple of one
// end namespace and turns a fresh socket-table snapshot into state changes,
// including a socket's disappearance (→ CLOSED). Also the lab-address filter.

import type { TcpState } from '../tcp/state.js';
import type { ProcTcpRow } from './proc-net-tcp.js';

export interface TupleChange {
  readonly local: string;
  readonly remote: string;
  readonly from: TcpState;
  readonly to: TcpState;
}

/** Whether "addr:port" / "[v6]:port" lies in the lab ranges 198.18.0.0/15 or 2001:2::/48. */
export function isLabAddress(hostPort: string): boolean {
  // /48: the first three groups are 2001:2:0 (canonical text: "2001:2::…" or "2001:2:0:…").
  if (hostPort.startsWith('[')) return /^\[2001:2::/.test(hostPort) || /^\[2001:2:0:/.test(hostPort);
  return /^198\.(18|19)\./.test(hostPort);
}

/** A lab connection's row: not a listener, and its peer is a lab address. */
export function isLabConnection(row: Pick<ProcTcpRow, 'remote' | 'state'>): boolean {
  return row.state !== 'LISTEN' && !row.remote.endsWith(':0') && isLabAddress(row.remote);
}

// When one tuple is listed twice (a TIME-WAIT mini-socket and a new socket
// reusing it), the live socket is the one that matters.
function rank(s: TcpState): number {
  return s === 'TIME-WAIT' ? 1 : s === 'CLOSED' ? 0 : 2;
}

export class SocketTableDiff {
  private readonly last = new Map<string, TcpState>();

  /** Applies a snapshot (already filtered to lab connections); returns what changed. */
  update(rows: readonly Pick<ProcTcpRow, 'local' | 'remote' | 'state'>[]): TupleChange[] {
    const now = new Map<string, TcpState>();
    for (const r of rows) {
      const key = `${r.local}|${r.remote}`;
      const prev = now.get(key);
      if (prev === undefined || rank(r.state) > rank(prev)) now.set(key, r.state);
    }
    const out: TupleChange[] = [];
    for (const [key, to] of now) {
      const from = this.last.get(key) ?? 'CLOSED';
      if (from !== to) out.push({ ...split(key), from, to });
    }
    for (const [key, from] of this.last) {
      if (!now.has(key) && from !== 'CLOSED') out.push({ ...split(key), from, to: 'CLOSED' });
    }
    this.last.clear();
    for (const [k, v] of now) if (v !== 'CLOSED') this.last.set(k, v);
    return out;
  }

  /** Records a state learnt elsewhere (the trace source) so the next snapshot diffs against it. */
  set(local: string, remote: string, state: TcpState): void {
    if (state === 'CLOSED') this.last.delete(`${local}|${remote}`);
    else this.last.set(`${local}|${remote}`, state);
  }

  /** The tuples currently tracked (a copy: safe to change the table while iterating). */
  keys(): { local: string; remote: string }[] {
    return [...this.last.keys()].map(split);
  }

  get(local: string, remote: string): TcpState | undefined {
    return this.last.get(`${local}|${remote}`);
  }
}

function split(key: string): { local: string; remote: string } {
  const i = key.indexOf('|');
  return { local: key.slice(0, i), remote: key.slice(i + 1) };
}
