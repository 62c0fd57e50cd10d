// What each endpoint is waiting for, like `ss -tanoi`'s timer:(…) column, as
// far as the event stream tells: TIME-WAIT's remaining 2MSL, how long a
// FIN-WAIT-2 has waited against the orphan timeout (tcp_fin_timeout, which
// runs only once the socket is an orphan: the UI cannot tell), and for a
// SYN or FIN sent again the count so far and when the next copy is due if
// the back-off doubles (Linux doubles the RTO on each retransmission,
// RFC 6298 §5.5). All of it is the inference's: the kernel probe reads
// states, not timers. Pure.

import type { Endpoint } from '../tcp/state.js';
import type { ConnRow } from './model.js';

/** The run's timer settings, as the inference uses them (ms). */
export interface TimerSettings {
  readonly timeWaitMs: number;
  readonly finTimeoutMs: Readonly<Record<Endpoint, number>>;
}

/** States in which an endpoint retransmits its SYN or FIN until it is acknowledged. */
const RESENDS = new Set(['SYN-SENT', 'SYN-RECV', 'FIN-WAIT-1', 'CLOSING', 'LAST-ACK']);

/** "TIME-WAIT 57.2s left", "FIN-WAIT-2 3.1s (orphan timeout 60s)", "FIN ×2, next ≈1.6s", or '' when nothing is pending. */
export function endpointTimer(row: ConnRow, ep: Endpoint, nowT: number, s: TimerSettings | undefined): string {
  const state = row.inferred[ep];
  const since = row.inferredSince[ep];
  if (state === undefined || since === undefined) return '';
  const sec = (ms: number): string => `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  if (state === 'TIME-WAIT' && s !== undefined) return `TIME-WAIT ${sec(s.timeWaitMs - (nowT - since))} left`;
  if (state === 'FIN-WAIT-2') return `FIN-WAIT-2 for ${sec(nowT - since)}${s !== undefined ? ` (orphan timeout ${Math.round(s.finTimeoutMs[ep] / 1000)}s)` : ''}`;
  const r = row.resent[ep];
  if (r !== undefined && RESENDS.has(state) && r.t >= since) {
    // Each wait twice the one before it.
    const due = r.t + 2 * r.gap - nowT;
    return `${r.what} ×${r.count}, next ${due >= 0 ? `≈${sec(due)}` : `overdue ${sec(-due)}`}`;
  }
  return '';
}

/** Both endpoints' timers, "client: … · server: …", marked as inferred; '' when neither waits. */
export function timersLine(row: ConnRow, nowT: number, s: TimerSettings | undefined): string {
  const c = endpointTimer(row, 'client', nowT, s);
  const v = endpointTimer(row, 'server', nowT, s);
  if (c === '' && v === '') return '';
  return `timers (inferred): ${[c && `client ${c}`, v && `server ${v}`].filter(Boolean).join(' · ')}`;
}
