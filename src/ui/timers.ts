// What each endpoint is waiting for, like `ss -tanoi`'s timer:(…) column:
// the kernel's own timer where the kernel timers reader has it (a sock_diag
// read of the socket, kernel-timers.ts: only where the sockets are local),
// marked `kernel`, and the inference's, marked `inferred` — both when both
// exist and the line has room, the kernel's first.
//
// The inference's, from the event stream: TIME-WAIT's remaining 2MSL, how
// long a FIN-WAIT-2 has waited against the orphan timeout (tcp_fin_timeout,
// which runs only once the socket is an orphan: the UI cannot tell), and for
// a SYN, FIN or data segment sent again the count so far and when the next
// copy is due if the back-off doubles (Linux doubles the RTO on each
// retransmission, RFC 6298 §5.5; the first copy of a data segment gives no
// wait to double: tcpmitm does not time the original's sending). Pure.

import type { Endpoint, TcpState } from '../tcp/state.js';
import type { WatchedSocket } from '../io/kernel-timers.js';
import type { ConnRow, KernelTimerEntry } from './model.js';

/** The run's timer settings, as the inference uses them (ms). */
export interface TimerSettings {
  readonly timeWaitMs: number;
  readonly finTimeoutMs: Readonly<Record<Endpoint, number>>;
}

/** A kernel read older than this (ms) is not shown: reading stopped (the run ended) or the socket is no longer watched. */
export const KERNEL_FRESH_MS = 3000;

/** States in which an endpoint retransmits its SYN or FIN until it is acknowledged. */
const RESENDS = new Set(['SYN-SENT', 'SYN-RECV', 'FIN-WAIT-1', 'CLOSING', 'LAST-ACK']);
/** States in which data may still be unacknowledged and sent again. */
const SENDS_DATA = new Set(['ESTAB', 'CLOSE-WAIT', 'FIN-WAIT-1', 'CLOSING', 'LAST-ACK']);

/** "57.2s", "0.0s"; whole seconds from 100 s on (a keepalive's 7200s). */
function sec(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  return s >= 100 ? `${Math.round(s)}s` : `${s.toFixed(1)}s`;
}

/** The inference's timer: "TIME-WAIT 57.2s left", "FIN-WAIT-2 for 3.1s (orphan timeout 60s)", "FIN ×2, next ≈1.6s", "data ×1", or '' when nothing is pending. */
export function endpointTimer(row: ConnRow, ep: Endpoint, nowT: number, s: TimerSettings | undefined): string {
  const state = row.inferred[ep];
  const since = row.inferredSince[ep];
  if (state === undefined || since === undefined) return '';
  if (state === 'TIME-WAIT' && s !== undefined) return `TIME-WAIT ${sec(s.timeWaitMs - (nowT - since))} left`;
  if (state === 'FIN-WAIT-2') return `FIN-WAIT-2 for ${sec(nowT - since)}${s !== undefined ? ` (orphan timeout ${Math.round(s.finTimeoutMs[ep] / 1000)}s)` : ''}`;
  const next = (t: number, gap: number): string => {
    // Each wait twice the one before it.
    const due = t + 2 * gap - nowT;
    return `next ${due >= 0 ? `≈${sec(due)}` : `overdue ${sec(-due)}`}`;
  };
  const r = row.resent[ep];
  if (r !== undefined && RESENDS.has(state) && r.t >= since) return `${r.what} ×${r.count}, ${next(r.t, r.gap)}`;
  const d = row.dataResent[ep];
  if (d !== undefined && SENDS_DATA.has(state)) return `data ×${d.count}${d.gap === undefined ? '' : `, ${next(d.t, d.gap)}`}`;
  return '';
}

/** What a retransmit timer resends in a state (ss says only "on"). */
function resendOf(state: TcpState | undefined): string {
  if (state === 'SYN-SENT') return 'SYN';
  if (state === 'SYN-RECV') return 'SYN-ACK';
  return 'retransmit';
}

/**
 * The kernel's timer as of now, counted down from its read: "TIME-WAIT 57.2s
 * left", "retransmit ×2, next in 1.6s", "SYN ×1, next in 1.9s", "retransmit
 * timer 0.2s" (data in flight, none sent again yet), "FIN-WAIT-2 orphan
 * timeout in 58.0s", "keepalive in 7200s", "window probe ×1 in 0.4s"; ''
 * when none runs, or the read is stale.
 */
export function kernelTimerText(e: KernelTimerEntry | undefined, nowT: number): string {
  if (e === undefined || e.timer === undefined || nowT - e.t > KERNEL_FRESH_MS) return '';
  const { kind, expiresMs, count } = e.timer;
  const left = sec(expiresMs - (nowT - e.t));
  switch (kind) {
    case 'timewait':
      // An orphan's FIN-WAIT-2 mini-socket runs the TIME-WAIT timer for tcp_fin_timeout.
      return e.state === 'FIN-WAIT-2' ? `FIN-WAIT-2 orphan timeout in ${left}` : `TIME-WAIT ${left} left`;
    case 'keepalive':
      // sk_timer in FIN-WAIT-2: an orphan's timeout (tcp_fin_timeout above 60 s keeps the full socket).
      return e.state === 'FIN-WAIT-2' ? `FIN-WAIT-2 timeout in ${left}` : `keepalive in ${left}${count > 0 ? `, ${count} probe${count === 1 ? '' : 's'} sent` : ''}`;
    case 'persist':
      return `window probe${count > 0 ? ` ×${count}` : ''} in ${left}`;
    case 'on': {
      const what = resendOf(e.state);
      if (count === 0) return what === 'retransmit' ? `retransmit timer ${left}` : `${what} timer ${left}`;
      return `${what} ×${count}, next in ${left}`;
    }
  }
}

interface EndpointTimers {
  readonly ep: Endpoint;
  readonly kernel: string;
  readonly inferred: string;
}

function endpointText(e: EndpointTimers, withInferred: boolean): string {
  const parts = [e.kernel && `${e.kernel} (kernel)`, (withInferred || e.kernel === '') && e.inferred ? `${e.inferred} (inferred)` : ''].filter(Boolean);
  return `${e.ep} ${parts.join('; ')}`;
}

/**
 * The timers lines of a connection, each at most `width` columns where it
 * can be: "timers: client … (kernel) · server … (inferred)" on one line when
 * it fits, else one line per endpoint; the inferred timer beside the
 * kernel's where there is room; none when neither waits.
 */
export function timersLines(row: ConnRow, nowT: number, s: TimerSettings | undefined, width: number): string[] {
  const eps: EndpointTimers[] = [];
  for (const ep of ['client', 'server'] as const) {
    const e = { ep, kernel: kernelTimerText(row.kernelTimers[ep], nowT), inferred: endpointTimer(row, ep, nowT, s) };
    if (e.kernel !== '' || e.inferred !== '') eps.push(e);
  }
  if (eps.length === 0) return [];
  const fits = (l: string): boolean => [...l].length <= width;
  const oneLine = (withInferred: boolean): string => `timers: ${eps.map((e) => endpointText(e, withInferred)).join(' · ')}`;
  const lines = (withInferred: boolean): string[] => eps.map((e, i) => (i === 0 ? 'timers: ' : '        ') + endpointText(e, withInferred));
  // Everything on one line; else everything on a line per endpoint; else the kernel's alone where it has one.
  if (fits(oneLine(true))) return [oneLine(true)];
  if (lines(true).every(fits)) return lines(true);
  if (fits(oneLine(false))) return [oneLine(false)];
  return lines(true).map((l, i) => (fits(l) ? l : lines(false)[i]!));
}

/** The sockets of a connection whose kernel timers the UI would show: each endpoint seen and not CLOSED in either view. */
export function watchedSockets(row: ConnRow): WatchedSocket[] {
  if (row.client === '?' || row.server === '?') return [];
  const out: WatchedSocket[] = [];
  for (const ep of ['client', 'server'] as const) {
    const views = [row.inferred[ep], row.kernel[ep]].filter((x) => x !== undefined);
    if (views.length === 0 || views.every((x) => x === 'CLOSED')) continue;
    if (ep === 'server' && row.refused) continue;
    out.push(ep === 'client' ? { conn: row.conn, endpoint: ep, local: row.client, remote: row.server } : { conn: row.conn, endpoint: ep, local: row.server, remote: row.client });
  }
  return out;
}
