// Pure part of the kernel probe's tracepoint source: turns sock:inet_sock_set_state
// transitions, and what the socket tables show of the mini-sockets no
// tracepoint follows, into each lab socket's life as observations — a new
// socket on a tuple ends the old one first; connect()'s port-less first event
// is matched to its socket; orphans are recognised. Reusable by any source
// that reports transitions (a later sock_diag one).

import type { KernelObservation } from '../engine/kernel-join.js';
import type { TcpState } from '../tcp/state.js';
import { isLabConnection, isMiniSocketRow, isOrphanRow, portOf } from './kernel-probe-diff.js';
import type { ProcTcpRow } from './proc-net-tcp.js';

export type ProbeNs = 'client' | 'server';

/** One tracepoint transition, its time already on the caller's clock (s). */
export interface Transition {
  readonly t: number;
  readonly local: string;
  readonly remote: string;
  readonly from: TcpState;
  readonly to: TcpState;
}

type Row = Pick<ProcTcpRow, 'local' | 'remote' | 'state' | 'inode'>;

/** Which end a socket belongs to, by its local address (the tracepoint carries no namespace). */
function nsOfLocal(local: string): ProbeNs | undefined {
  if (local.startsWith('198.18.0.1:') || local.startsWith('[2001:2::1]:')) return 'client';
  if (local.startsWith('198.18.0.2:') || local.startsWith('[2001:2::2]:')) return 'server';
  return undefined;
}

function hostOf(hostPort: string): string {
  return hostPort.slice(0, hostPort.lastIndexOf(':'));
}

interface Socket {
  readonly ns: ProbeNs;
  readonly local: string;
  readonly remote: string;
  state: TcpState;
  /** A timewait mini-socket now (TIME-WAIT or an orphan's FIN-WAIT-2): followed in the tables. */
  mini: boolean;
  orphan: boolean;
}

interface PendingConnect {
  readonly ns: ProbeNs;
  readonly host: string;
  readonly remote: string;
  readonly t: number;
}

/** connect()s waiting for their port: bounded, and none older than Linux's SYN retry budget (~127 s). */
const MAX_CONNECTS = 256;
const CONNECT_TTL_S = 180;

export class TraceSockets {
  private readonly sockets = new Map<string, Socket>();
  private connects: PendingConnect[] = [];

  /** `start`: when the probe began (s), the first look's lower bound. */
  constructor(private lastLook: number) {}

  /**
   * One read: the transitions read since the last (in order), then a look at
   * the sockets only the tables follow. `table(ns)` reads a namespace's rows
   * (called at most once per namespace, only when needed); `now` is when.
   */
  apply(batch: readonly Transition[], table: (ns: ProbeNs) => readonly Row[], now: number): KernelObservation[] {
    const cache: Partial<Record<ProbeNs, Map<string, Row[]>>> = {};
    const rowsOf = (ns: ProbeNs, key: string): Row[] => {
      let m = cache[ns];
      if (m === undefined) {
        m = new Map();
        for (const r of table(ns)) {
          const k = `${r.local}|${r.remote}`;
          const list = m.get(k);
          if (list) list.push(r);
          else m.set(k, [r]);
        }
        cache[ns] = m;
      }
      return m.get(key) ?? [];
    };
    const out: KernelObservation[] = [];
    for (const tr of batch) this.transition(tr, rowsOf, out);
    this.look(rowsOf, now, out);
    this.lastLook = now;
    return out;
  }

  private transition(tr: Transition, rowsOf: (ns: ProbeNs, key: string) => Row[], out: KernelObservation[]): void {
    const ns = nsOfLocal(tr.local);
    if (ns === undefined) return;
    // connect() moves CLOSE → SYN_SENT before it binds a port (sport=0, the
    // addresses already set): kept until the socket's next transition names it.
    if (portOf(tr.local) === 0) {
      if (tr.from === 'CLOSED' && tr.to === 'SYN-SENT') this.noteConnect({ ns, host: hostOf(tr.local), remote: tr.remote, t: tr.t });
      return;
    }
    if (!isLabConnection({ remote: tr.remote, state: tr.to })) return;
    const key = `${tr.local}|${tr.remote}`;
    const base = { ns, local: tr.local, remote: tr.remote };
    let cur = this.sockets.get(`${ns}|${key}`);
    if (tr.from === 'CLOSED' || tr.from === 'LISTEN') {
      // A new socket on the tuple (connect() with a bound port; a child
      // accepted from a listener, which the tracepoint shows leaving LISTEN):
      // the socket held there (a TIME-WAIT a SYN reused) is gone, by now.
      if (cur !== undefined) out.push({ ...base, from: cur.state, to: 'CLOSED', since: Math.min(this.lastLook, tr.t), t: tr.t });
      cur = undefined;
    } else if (cur === undefined) {
      // A socket whose start was not read: connect()'s port-less event, or one older than the probe.
      const started = tr.from === 'SYN-SENT' ? this.takeConnect(ns, tr) : undefined;
      out.push({ ...base, from: 'CLOSED', to: tr.from, t: started?.t ?? tr.t });
      cur = { ...base, state: tr.from, mini: false, orphan: false };
    }
    const from = cur?.state ?? tr.from;
    let to = tr.to;
    let mini = false;
    let orphan = cur?.orphan ?? false;
    let newOrphan = false;
    if (to === 'CLOSED') {
      // tcp_time_wait() hashes a mini-socket, then sets the full socket to
      // TCP_CLOSE: the tracepoint says CLOSE, the table lists TIME-WAIT — or
      // FIN-WAIT-2 for an orphan whose tcp_fin_timeout now runs.
      const row = rowsOf(ns, key).find(isMiniSocketRow);
      if (row !== undefined) {
        to = row.state;
        mini = true;
        newOrphan = to === 'FIN-WAIT-2' && !orphan;
        orphan ||= newOrphan;
      }
    }
    if (from !== to || newOrphan) out.push({ ...base, from, to, t: tr.t, ...(newOrphan ? { orphan: true } : {}) });
    if (to === 'CLOSED') this.sockets.delete(`${ns}|${key}`);
    else this.sockets.set(`${ns}|${key}`, { ...base, state: to, mini, orphan });
  }

  /**
   * Mini-sockets change (an orphan's FIN-WAIT-2 gets its FIN: TIME-WAIT) and
   * end without a tracepoint; a half-closed FIN-WAIT-2 socket becomes an
   * orphan when its application closes it (no tracepoint if tcp_fin_timeout
   * exceeds 60 s and it stays a full socket). Each is seen at a look: it
   * happened after the previous one.
   */
  private look(rowsOf: (ns: ProbeNs, key: string) => Row[], now: number, out: KernelObservation[]): void {
    for (const [id, s] of this.sockets) {
      if (!s.mini && !(s.state === 'FIN-WAIT-2' && !s.orphan)) continue;
      const rows = rowsOf(s.ns, `${s.local}|${s.remote}`);
      const base = { ns: s.ns, local: s.local, remote: s.remote, since: this.lastLook, t: now };
      if (s.mini) {
        const row = rows.find(isMiniSocketRow);
        if (row === undefined) {
          out.push({ ...base, from: s.state, to: 'CLOSED' });
          this.sockets.delete(id);
        } else if (row.state !== s.state) {
          out.push({ ...base, from: s.state, to: row.state });
          s.state = row.state;
        }
      } else if (rows.some((r) => r.state === 'FIN-WAIT-2' && isOrphanRow(r))) {
        s.orphan = true;
        out.push({ ...base, from: s.state, to: s.state, orphan: true });
      }
    }
  }

  private noteConnect(c: PendingConnect): void {
    this.connects = this.connects.filter((p) => c.t - p.t < CONNECT_TTL_S);
    if (this.connects.length >= MAX_CONNECTS) this.connects.shift();
    this.connects.push(c);
  }

  /** The oldest connect() from the same address to the same peer: connects complete in the order they began, nearly always. */
  private takeConnect(ns: ProbeNs, tr: Transition): PendingConnect | undefined {
    const host = hostOf(tr.local);
    const i = this.connects.findIndex((p) => p.ns === ns && p.host === host && p.remote === tr.remote);
    return i < 0 ? undefined : this.connects.splice(i, 1)[0];
  }
}
