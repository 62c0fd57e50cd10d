// Pure part of the kernel probe's /proc source: keeps the last-seen socket per
// 4-tuple of one end namespace and turns a fresh socket-table snapshot into
// state changes — a socket's disappearance (→ CLOSED), a new socket replacing
// an old one on the same tuple, an orphan — plus the lab-address filter.

import type { TcpState } from '../tcp/state.js';
import type { ProcTcpRow } from './proc-net-tcp.js';

export interface TupleChange {
  readonly local: string;
  readonly remote: string;
  /** CLOSED or LISTEN when a new socket starts (LISTEN: accepted from a listener on its port). */
  readonly from: TcpState;
  readonly to: TcpState;
  /** Newly seen without an application (see isOrphanRow); `from` may equal `to`. */
  readonly orphan?: boolean;
}

type Row = Pick<ProcTcpRow, 'local' | 'remote' | 'state' | 'inode'>;

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

/**
 * How the probe tells a socket of the run's from others, and whose end it is:
 * by the lab's addresses (198.18.0.1 / 2001:2::1 the client, .2 / ::2 the
 * server, each in a namespace of its own), or — intercept, both ends in one
 * namespace — by the server's port (the server's socket has it as its local
 * port, the client's as its remote one). Plain data: it crosses to the worker.
 */
export type EndsBy =
  | { readonly by: 'lab-address' }
  | {
      readonly by: 'server-port';
      readonly port: number;
      /**
       * The addresses of the run's namespace (no brackets), besides loopback:
       * the tracepoint is host-wide, and a peer in another namespace of this
       * kernel (a client on the host of a container) would otherwise be taken
       * for an end of this one, whose lookups cannot see its sockets.
       * Undefined: any address.
       */
      readonly localHosts?: readonly string[];
    };

export const LAB_ENDS: EndsBy = { by: 'lab-address' };

/** The end a socket ("addr:port" pair) belongs to, or undefined when it is none of the run's. */
export function endOfSocket(local: string, remote: string, ends: EndsBy): 'client' | 'server' | undefined {
  if (ends.by === 'server-port') {
    if (ends.localHosts !== undefined && !isLocalHost(local, ends.localHosts)) return undefined;
    if (portOf(local) === ends.port) return 'server';
    if (portOf(remote) === ends.port) return 'client';
    return undefined;
  }
  if (local.startsWith('198.18.0.1:') || local.startsWith('[2001:2::1]:')) return 'client';
  if (local.startsWith('198.18.0.2:') || local.startsWith('[2001:2::2]:')) return 'server';
  return undefined;
}

/** Whether the host of "addr:port" / "[v6]:port" is loopback or one of `hosts` (an IPv4-mapped IPv6 address as its IPv4 one). */
export function isLocalHost(hostPort: string, hosts: readonly string[]): boolean {
  let host = hostPort.slice(0, hostPort.lastIndexOf(':'));
  if (host.startsWith('[')) host = host.slice(1, -1);
  if (host.startsWith('::ffff:') && host.includes('.')) host = host.slice(7);
  return host.startsWith('127.') || host === '::1' || hosts.includes(host);
}

/** A row of one of the run's connections (isLabConnection for a lab), not a listener. */
export function isTrackedConnection(row: Pick<ProcTcpRow, 'local' | 'remote' | 'state'>, ends: EndsBy): boolean {
  if (ends.by === 'lab-address') return isLabConnection(row);
  return row.state !== 'LISTEN' && !row.remote.endsWith(':0') && endOfSocket(row.local, row.remote, ends) !== undefined;
}

/** The port of "addr:port" or "[v6]:port". */
export function portOf(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
}

/**
 * A socket its application has closed: sock_orphan() clears sk_socket, so
 * /proc prints inode 0 (as for TIME-WAIT and request mini-sockets, and for a
 * child not yet accept()ed — which cannot be in FIN-WAIT-1/2).
 */
export function isOrphanRow(row: Pick<ProcTcpRow, 'state' | 'inode'>): boolean {
  return row.inode === 0 && (row.state === 'FIN-WAIT-1' || row.state === 'FIN-WAIT-2');
}

/** A timewait mini-socket (tcp_time_wait()): TIME-WAIT, or an orphan's FIN-WAIT-2; it ends with no tracepoint. */
export function isMiniSocketRow(row: Pick<ProcTcpRow, 'state' | 'inode'>): boolean {
  return row.state === 'TIME-WAIT' || (row.state === 'FIN-WAIT-2' && row.inode === 0);
}

/** How far through its life a socket in this state is; one socket never goes back. */
const PHASE: Readonly<Partial<Record<TcpState, number>>> = {
  'SYN-SENT': 0,
  'SYN-RECV': 0,
  ESTAB: 1,
  'FIN-WAIT-1': 2,
  'CLOSE-WAIT': 2,
  'FIN-WAIT-2': 3,
  CLOSING: 3,
  'LAST-ACK': 3,
  'TIME-WAIT': 4,
};

/** Whether `now` can be the same socket as `before` (else a new socket took the tuple: a TIME-WAIT reused by a SYN). */
function sameSocket(before: Row, now: Row): boolean {
  if (before.inode !== 0 && now.inode !== 0 && before.inode !== now.inode) return false;
  return (PHASE[now.state] ?? 0) >= (PHASE[before.state] ?? 0);
}

interface Held {
  readonly row: Row;
  readonly orphan: boolean;
}

export class SocketTableDiff {
  /**
   * `ends`/`end`: which rows are the run's. A lab's end namespace holds only
   * its end's sockets; with both ends in one namespace (server-port) this
   * diff keeps those of `end`.
   */
  constructor(
    private readonly ends: EndsBy = LAB_ENDS,
    private readonly end?: 'client' | 'server',
  ) {}

  private readonly last = new Map<string, Held>();
  /**
   * Ports a listener was seen on: a server may close its listener right after
   * accept(), before a look sees the accepted socket.
   */
  private readonly listening = new Set<number>();

  /** Applies a snapshot of a namespace's whole table (listeners included); returns what changed, in order. */
  update(rows: readonly Row[]): TupleChange[] {
    const listening = this.listening;
    const now = new Map<string, Row>();
    for (const r of rows) {
      if (r.state === 'LISTEN' && listening.size < 1024) listening.add(portOf(r.local));
      if (!isTrackedConnection(r, this.ends)) continue;
      if (this.end !== undefined && this.ends.by === 'server-port' && endOfSocket(r.local, r.remote, this.ends) !== this.end) continue;
      const key = `${r.local}|${r.remote}`;
      const prev = now.get(key);
      // One tuple listed twice (a mini-socket and the socket reusing it): the live one matters.
      if (prev === undefined || (isMiniSocketRow(prev) && !isMiniSocketRow(r))) now.set(key, r);
    }
    const out: TupleChange[] = [];
    const begin = (r: Row): TupleChange => ({ local: r.local, remote: r.remote, from: listening.has(portOf(r.local)) ? 'LISTEN' : 'CLOSED', to: r.state, ...(isOrphanRow(r) ? { orphan: true } : {}) });
    for (const [key, r] of now) {
      const held = this.last.get(key);
      let orphan = isOrphanRow(r);
      if (held === undefined) out.push(begin(r));
      else if (!sameSocket(held.row, r)) out.push({ local: r.local, remote: r.remote, from: held.row.state, to: 'CLOSED' }, begin(r));
      else {
        const newOrphan = orphan && !held.orphan;
        orphan ||= held.orphan;
        if (held.row.state !== r.state || newOrphan) out.push({ local: r.local, remote: r.remote, from: held.row.state, to: r.state, ...(newOrphan ? { orphan: true } : {}) });
      }
      this.last.set(key, { row: r, orphan });
    }
    for (const [key, held] of this.last) {
      if (now.has(key)) continue;
      out.push({ local: held.row.local, remote: held.row.remote, from: held.row.state, to: 'CLOSED' });
      this.last.delete(key);
    }
    return out;
  }
}
