// The text log (stdout is not a terminal, or --no-ui): one line per state
// change, action and application event, and with --segments one line per
// segment like tcpdump, in time order. The checks are not repeated here: the
// report on stderr says each once (and --json has them as events).
// Formatting is pure; the writer only orders and writes.

import type { Writable } from 'node:stream';
import type { TcpmitmEvent } from '../engine/events.js';
import type { TcpState } from '../tcp/state.js';
import { describeExit } from '../rules/expect.js';
import { formatSysctls, sysctlsFromRecord } from '../rules/sysctls.js';
import { tcpdumpFlags } from '../tcp/tcpdump-flags.js';

export interface TextLogOptions {
  readonly segments: boolean;
}

/**
 * How many endpoints' kernel states the formatter remembers: the most recently
 * reported ones. The log never learns when a connection is forgotten, so the
 * map is bounded instead (a long churn run kept ~225 B per connection for ever).
 */
export const KERNEL_STATES_KEPT = 8192;

/** What the last line about a segment tcpmitm acted on said: the action event that follows it says it again. */
interface Decided {
  readonly conn: number;
  readonly t: number;
  readonly verdict: string;
  readonly rule: number | undefined;
}

/**
 * Stateful only to remember each endpoint's latest kernel state, printed
 * beside inferred changes, and the last segment tcpmitm acted on.
 */
export class TextLogFormatter {
  private readonly kernel = new Map<string, TcpState>();
  private decided: Decided | undefined;

  constructor(private readonly opts: TextLogOptions) {}

  format(ev: TcpmitmEvent): string | undefined {
    // Most events of a busy run are segments that nobody asked to see; those
    // tcpmitm acted on (dropped, delayed, forged…) are always shown.
    if (!shown(ev, this.opts)) return undefined;
    const t = `+${ev.t.toFixed(3)}s`;
    switch (ev.type) {
      case 'start':
        return `${t}  tcpmitm ${ev.mode}${ev.lab ? ` ${ev.lab}` : ''}, profile ${ev.profile ?? 'passthrough'}${ev.sysctls ? `\n${t}  sysctls: ${formatSysctls(sysctlsFromRecord(ev.sysctls))}` : ''}`;
      case 'connection':
        return `${t}  #${ev.conn} ${ev.client} → ${ev.server}${ev.pickedUp ? '  (picked up mid-stream)' : ''}`;
      case 'state': {
        const key = `${ev.conn}/${ev.endpoint}`;
        if (ev.source === 'kernel') {
          // Re-inserted at the end: the map's order is least recently reported first.
          this.kernel.delete(key);
          this.kernel.set(key, ev.to);
          if (this.kernel.size > KERNEL_STATES_KEPT) this.kernel.delete(this.kernel.keys().next().value!);
          return `${t}  #${ev.conn} ${pad(ev.endpoint, 6)}  ${ev.from} → ${ev.to}  [kernel]`;
        }
        const k = this.kernel.get(key);
        return `${t}  #${ev.conn} ${pad(ev.endpoint, 6)}  ${ev.from} → ${ev.to}${ev.cause ? `  (${ev.cause})` : ''}${k ? `  kernel: ${k}` : ''}`;
      }
      case 'segment': {
        const arrow = ev.dir === 'c2s' ? 'c→s' : 's→c';
        this.decided = ev.verdict === 'pass' ? undefined : { conn: ev.conn, t: ev.t, verdict: ev.verdict, rule: ev.rule };
        // A pass with words (queued behind a delay, a hold ignored) says them: it did not simply go by.
        const what =
          ev.verdict === 'pass'
            ? ev.detail ? `  ${ev.detail}` : ''
            : `  ${ev.verdict.toUpperCase()}${ev.detail ? ` ${ev.detail}` : ''}${ev.rule !== undefined ? ` (rule ${ev.rule})` : ''}`;
        // As tcpdump: no ack field without the ACK flag (a SYN, a bare RST).
        const ack = ev.flags.includes('A') ? ` ack=${ev.ack}` : '';
        const options = ev.options === undefined ? '' : ` options [${ev.options}]`;
        return `${t}  #${ev.conn} ${arrow}  ${tcpdumpFlags(ev.flags)} seq=${ev.seq}${ack} len=${ev.len} win=${ev.win}${options}  ${ev.role}${what}`;
      }
      case 'action': {
        // A drop or a coalesce is said by its segment's line just before (same connection, time and rule).
        const d = this.decided;
        if (d !== undefined && d.conn === ev.conn && d.t === ev.t && d.rule === ev.rule && d.verdict === ev.action) return undefined;
        return `${t}  #${ev.conn} ${ev.action.toUpperCase()}  ${ev.detail}${ev.rule !== undefined ? `  (rule ${ev.rule})` : ''}`;
      }
      case 'disagreement':
        return `${t}  #${ev.conn} ${pad(ev.endpoint, 6)}  DISAGREEMENT inferred ${ev.inferred}, kernel ${ev.kernel} (for ${ev.forMs} ms)`;
      case 'lag':
        return `${t}  #${ev.conn} ${pad(ev.endpoint, 6)}  LAG ${ev.state}: kernel ${ev.ms} ms ${ev.kernelT < ev.inferredT ? 'before' : 'after'} the wire (${ev.reason})`;
      case 'app':
        return `${t}  ${pad(ev.endpoint, 6)} app: ${ev.event}${ev.detail ? ` ${ev.detail}` : ''}`;
      case 'expectation':
        return undefined;
      case 'exit':
        return `${t}  ${pad(ev.endpoint, 6)} exit: ${describeExit(ev, { at: false })}  (${ev.command})`;
      case 'warning':
        return `${t}  warning: ${ev.message}`;
      case 'end':
        return `${t}  end: ${ev.reason} (exit ${ev.exitCode})`;
    }
  }
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** Whether an event has a line: not the plain pass segments nobody asked to see, stats or the checks (the report says those). */
function shown(ev: TcpmitmEvent, opts: TextLogOptions): boolean {
  return !((ev.type === 'segment' && !opts.segments && ev.verdict === 'pass') || ev.type === 'stats' || ev.type === 'expectation');
}

/**
 * How long (s of the run's clock) a line waits before it is written, so that
 * lines come in time order: the kernel's own state changes carry the kernel's
 * time and reach the log a few ms after the segments that caused them (the
 * probe reads every 5 ms and puts its work off while forwarding is behind,
 * ≤ 50 ms at a time). A line later than this is written when it comes.
 */
export const REORDER_WINDOW_S = 0.2;
/** How often (ms) lines whose window has passed are written: one write for all of them. */
const WRITE_EVERY_MS = 50;
/**
 * Events kept for the next write at most: a loop that does not come round to
 * its timers for a while (tap's capture under a flood of new tuples hands
 * over frame after frame) would otherwise keep every event of the burst —
 * 260 000 of them filled tap's 160 MiB heap ceiling. Past it, the older half
 * is written at once.
 */
export const MAX_PENDING = 4096;

/**
 * Subscribes a formatter to an event stream and writes its lines to `out`,
 * ordered by their time: each event waits REORDER_WINDOW_S on `clock` (the
 * run's, in the events' seconds) among the others, and is formatted and
 * written with them off the forwarding path. The `end` event writes all.
 */
export function textLogWriter(out: Writable, opts: TextLogOptions, clock: () => number): (ev: TcpmitmEvent) => void {
  const f = new TextLogFormatter(opts);
  /** By time; events of one time in the order they came. */
  let pending: TcpmitmEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  const write = (count: number): void => {
    if (count === 0) return;
    const events = count === pending.length ? pending : pending.slice(0, count);
    pending = count === pending.length ? [] : pending.slice(count);
    let text = '';
    for (const ev of events) {
      const line = f.format(ev);
      if (line !== undefined) text += line + '\n';
    }
    if (text !== '' && out.writable) out.write(text);
  };
  const tick = (): void => {
    timer = undefined;
    write(countUpTo(pending, clock() - REORDER_WINDOW_S));
    if (pending.length > 0) arm();
  };
  const arm = (): void => {
    if (timer !== undefined) return;
    timer = setTimeout(tick, WRITE_EVERY_MS);
    // The run keeps the process alive; its `end` writes what is left.
    timer.unref();
  };
  return (ev) => {
    // A reader that went away (`| head`) ends the log quietly: nothing more is kept or written.
    if (!out.writable) return;
    if (!shown(ev, opts)) return;
    insertByTime(pending, ev);
    if (ev.type === 'end') {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      return write(pending.length);
    }
    if (pending.length >= MAX_PENDING) write(pending.length >> 1);
    arm();
  };
}

/** Inserts after every event of a time ≤ its own (nearly always at the end: events mostly come in order). */
function insertByTime(events: TcpmitmEvent[], ev: TcpmitmEvent): void {
  let lo = 0;
  let hi = events.length;
  if (hi === 0 || events[hi - 1]!.t <= ev.t) {
    events.push(ev);
    return;
  }
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (events[mid]!.t <= ev.t) lo = mid + 1;
    else hi = mid;
  }
  events.splice(lo, 0, ev);
}

/** How many of the (ordered) events are of a time ≤ t. */
function countUpTo(events: readonly TcpmitmEvent[], t: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (events[mid]!.t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
