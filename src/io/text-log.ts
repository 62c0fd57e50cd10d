// The text log (stdout is not a terminal, or --no-ui): one line per state
// change, action, expectation and application event, and with --segments one
// line per segment like tcpdump. Formatting is pure; the writer only writes.

import type { Writable } from 'node:stream';
import type { TcpmitmEvent } from '../engine/events.js';
import type { TcpState } from '../tcp/state.js';
import { describeExit } from '../rules/expect.js';
import { formatSysctls, sysctlsFromRecord } from '../rules/sysctls.js';

export interface TextLogOptions {
  readonly segments: boolean;
}

/**
 * How many endpoints' kernel states the formatter remembers: the most recently
 * reported ones. The log never learns when a connection is forgotten, so the
 * map is bounded instead (a long churn run kept ~225 B per connection for ever).
 */
export const KERNEL_STATES_KEPT = 8192;

/** Stateful only to remember each endpoint's latest kernel state, printed beside inferred changes. */
export class TextLogFormatter {
  private readonly kernel = new Map<string, TcpState>();

  constructor(private readonly opts: TextLogOptions) {}

  format(ev: TcpmitmEvent): string | undefined {
    // Most events of a busy run are segments that nobody asked to see; those
    // tcpmitm acted on (dropped, delayed, forged…) are always shown.
    if ((ev.type === 'segment' && !this.opts.segments && ev.verdict === 'pass') || ev.type === 'stats') return undefined;
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
        // A pass with words (queued behind a delay, a hold ignored) says them: it did not simply go by.
        const what =
          ev.verdict === 'pass'
            ? ev.detail ? `  ${ev.detail}` : ''
            : `  ${ev.verdict.toUpperCase()}${ev.detail ? ` ${ev.detail}` : ''}${ev.rule !== undefined ? ` (rule ${ev.rule})` : ''}`;
        return `${t}  #${ev.conn} ${arrow}  [${ev.flags}] seq=${ev.seq} ack=${ev.ack} len=${ev.len} win=${ev.win}  ${ev.role}${what}`;
      }
      case 'action':
        return `${t}  #${ev.conn} ${ev.action.toUpperCase()}  ${ev.detail}${ev.rule !== undefined ? `  (rule ${ev.rule})` : ''}`;
      case 'disagreement':
        return `${t}  #${ev.conn} ${pad(ev.endpoint, 6)}  DISAGREEMENT inferred ${ev.inferred}, kernel ${ev.kernel} (for ${ev.forMs} ms)`;
      case 'lag':
        return `${t}  #${ev.conn} ${pad(ev.endpoint, 6)}  LAG ${ev.state}: kernel ${ev.ms} ms ${ev.kernelT < ev.inferredT ? 'before' : 'after'} the wire (${ev.reason})`;
      case 'app':
        return `${t}  ${pad(ev.endpoint, 6)} app: ${ev.event}${ev.detail ? ` ${ev.detail}` : ''}`;
      case 'expectation':
        if (ev.status === 'not-checked') return `${t}  SKIP ${ev.subject}: ${ev.observed}`;
        return `${t}  ${ev.status === 'met' ? 'PASS' : 'FAIL'} ${ev.subject}: expected ${ev.expected}${ev.status === 'met' ? '' : `, observed ${ev.observed}`}`;
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

/**
 * Subscribes a formatter to an event stream and writes its lines to `out`.
 * Events are kept and formatted and written once the current frame has been
 * handled (setImmediate): formatting and a write per line would sit on the
 * forwarding path of every state change. The `end` event flushes at once.
 */
/**
 * Events kept for the next write at most: a loop that does not reach its
 * check phase for a while (tap's capture under a flood of new tuples hands
 * over frame after frame) would otherwise keep every event of the burst —
 * 260 000 of them filled tap's 160 MiB heap ceiling. Past it, they are
 * written at once.
 */
const MAX_PENDING = 4096;

export function textLogWriter(out: Writable, opts: TextLogOptions): (ev: TcpmitmEvent) => void {
  const f = new TextLogFormatter(opts);
  let pending: TcpmitmEvent[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const events = pending;
    pending = [];
    let text = '';
    for (const ev of events) {
      const line = f.format(ev);
      if (line !== undefined) text += line + '\n';
    }
    if (text !== '' && out.writable) out.write(text);
  };
  return (ev) => {
    // A reader that went away (`| head`) ends the log quietly: nothing more is kept or written.
    if (!out.writable) return;
    // Segments nobody asked to see are not even kept.
    if ((ev.type === 'segment' && !opts.segments && ev.verdict === 'pass') || ev.type === 'stats') return;
    pending.push(ev);
    if (ev.type === 'end' || pending.length >= MAX_PENDING) return flush();
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}
