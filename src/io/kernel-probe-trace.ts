// The tracefs source of the kernel probe: the sock:inet_sock_set_state
// tracepoint gives every TCP state transition with a µs timestamp, in a
// dedicated trace instance per lab (instances/tcpmitm-<id>) so concurrent
// labs do not fight over one buffer. The tracepoint is host-global and carries
// no namespace: sockets are attributed by their local address (198.18.0.1 /
// 2001:2::1 = client, .2 / ::2 = server), so two labs running at once can see
// each other's events if their 4-tuples ever coincide (ephemeral ports make
// that unlikely; the proc source has no such limit).

import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readSync, rmdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { TcpState } from '../tcp/state.js';
import { decodePage, parseEventLayout, parsePageLayout, type EventLayout, type PageLayout } from './trace-raw.js';

export const TRACEFS = '/sys/kernel/tracing';

const KERNEL_STATE: Readonly<Record<string, TcpState>> = {
  TCP_ESTABLISHED: 'ESTAB',
  TCP_SYN_SENT: 'SYN-SENT',
  TCP_SYN_RECV: 'SYN-RECV',
  TCP_NEW_SYN_RECV: 'SYN-RECV',
  TCP_FIN_WAIT1: 'FIN-WAIT-1',
  TCP_FIN_WAIT2: 'FIN-WAIT-2',
  TCP_TIME_WAIT: 'TIME-WAIT',
  TCP_CLOSE: 'CLOSED',
  TCP_CLOSE_WAIT: 'CLOSE-WAIT',
  TCP_LAST_ACK: 'LAST-ACK',
  TCP_LISTEN: 'LISTEN',
  TCP_CLOSING: 'CLOSING',
};

export interface TraceTransition {
  /** CLOCK_MONOTONIC seconds (the instance's trace_clock is set to "mono"). */
  readonly ts: number;
  readonly local: string;
  readonly remote: string;
  readonly from: TcpState;
  readonly to: TcpState;
}

function v6Endpoint(addr: string, port: string): string {
  // v4-mapped sockets carry IPv4 on the wire: name them by the IPv4 tuple.
  if (addr.startsWith('::ffff:') && addr.indexOf('.') > 0) return `${addr.slice(7)}:${port}`;
  return `[${addr}]:${port}`;
}

const MARK = ': inet_sock_set_state: ';

/**
 * Parses one trace_pipe line of sock:inet_sock_set_state (pure); other lines
 * yield undefined. Called for every transition of every socket (~7 per
 * connection): indexOf and slices, no regular expression or field table.
 */
export function parseTraceLine(line: string): TraceTransition | undefined {
  const at = line.indexOf(MARK);
  if (at < 0) return undefined;
  const ts = Number(line.slice(line.lastIndexOf(' ', at - 1) + 1, at));
  if (!Number.isFinite(ts)) return undefined;
  let family, protocol, sport, dport, saddr, daddr, saddrv6, daddrv6, oldstate, newstate: string | undefined;
  for (let i = at + MARK.length; i < line.length; ) {
    let end = line.indexOf(' ', i);
    if (end < 0) end = line.length;
    const eq = line.indexOf('=', i);
    if (eq > i && eq < end) {
      const v = line.slice(eq + 1, end);
      switch (line.slice(i, eq)) {
        case 'family': family = v; break;
        case 'protocol': protocol = v; break;
        case 'sport': sport = v; break;
        case 'dport': dport = v; break;
        case 'saddr': saddr = v; break;
        case 'daddr': daddr = v; break;
        case 'saddrv6': saddrv6 = v; break;
        case 'daddrv6': daddrv6 = v; break;
        case 'oldstate': oldstate = v; break;
        case 'newstate': newstate = v; break;
      }
    }
    i = end + 1;
  }
  if (protocol !== 'IPPROTO_TCP') return undefined;
  const from = KERNEL_STATE[oldstate ?? ''];
  const to = KERNEL_STATE[newstate ?? ''];
  if (!from || !to || sport === undefined || dport === undefined) return undefined;
  let local: string;
  let remote: string;
  if (family === 'AF_INET' && saddr && daddr) {
    local = `${saddr}:${sport}`;
    remote = `${daddr}:${dport}`;
  } else if (family === 'AF_INET6' && saddrv6 && daddrv6) {
    local = v6Endpoint(saddrv6, sport);
    remote = v6Endpoint(daddrv6, dport);
  } else return undefined;
  return { ts, local, remote, from, to };
}

/** The count in trace_pipe's "CPU:1 [LOST 12 EVENTS]" line (pure); 0 for any other line. */
export function lostEvents(line: string): number {
  if (line.indexOf('[LOST ') < 0) return 0;
  const m = /\[LOST (\d+) EVENTS\]/.exec(line);
  return m ? Number(m[1]) : 0;
}

/**
 * Bytes read from trace_pipe per drain at most (~150 transitions: the kernel
 * formats each line as we read, ~7 µs, and parsing takes ~2 µs): a burst of
 * closes is read over several syncs, never in one long stall. 200 syncs/s
 * drain ~30 000 transitions/s; the ring buffer holds the rest meanwhile.
 */
const MAX_DRAIN_BYTES = 32 * 1024;
/**
 * The instance's ring buffer per CPU (KiB; the kernel's default is 1408):
 * ~100 000 transitions of ~80 bytes, the closes of 10 000 connections
 * (~7 transitions each) while the drain catches up.
 */
const BUFFER_KB_PER_CPU = 8192;

/** Pages (4 KiB, ~50 transitions each) read from one CPU's raw buffer per drain at most: a burst is read over several drains. */
const MAX_RAW_PAGES_PER_CPU = 16;
const PAGE_BYTES = 4096;

/** What a drain read: transitions in time order; complete up to `until` (CLOCK_MONOTONIC s) when more is waiting, else up to the read. */
export interface Drained {
  readonly transitions: TraceTransition[];
  readonly lost: number;
  /** More is waiting (a line cut mid-way, the per-drain bound reached): nothing after `until` is known. */
  readonly partial: boolean;
  readonly until?: number;
}

/** One CPU's binary ring buffer (per_cpu/cpuN/trace_pipe_raw). */
interface RawCpu {
  readonly fd: number;
}

/**
 * A dedicated trace instance reading inet_sock_set_state without blocking:
 * the binary per-CPU pages where the kernel's formats are the ones
 * trace-raw.ts reads (no formatting in the kernel, no text to parse), else
 * the text of trace_pipe.
 */
export class TraceInstance {
  private fd: number | undefined;
  private raw: { readonly cpus: RawCpu[]; readonly page: PageLayout; readonly event: EventLayout } | undefined;
  private partial = '';
  /** Raw transitions read but later than what every CPU is known to have given: the next drain's. */
  private heldBack: TraceTransition[] = [];
  private readonly buf = Buffer.alloc(64 * 1024);

  private constructor(readonly dir: string) {}

  /** How the instance is read: binary pages per CPU, or text. */
  get format(): 'raw' | 'text' {
    return this.raw ? 'raw' : 'text';
  }

  static instanceDir(labId: string): string {
    // One path component of plain characters: `lab down` removes this directory.
    if (!/^[A-Za-z0-9_]+$/.test(labId)) throw new Error(`'${labId}' cannot name a trace instance`);
    return `${TRACEFS}/instances/tcpmitm-${labId}`;
  }

  /** Mounts tracefs if needed and opens the lab's instance; throws with a reason when unavailable. `format` text: never the binary pages. */
  static open(labId: string, format: 'raw' | 'text' = 'raw'): TraceInstance {
    if (!existsSync(`${TRACEFS}/instances`)) {
      try {
        execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: 'ignore' });
      } catch {
        throw new Error(`tracefs is not mounted at ${TRACEFS} and mounting it failed`);
      }
    }
    const dir = TraceInstance.instanceDir(labId);
    if (!existsSync(dir)) mkdirSync(dir);
    const t = new TraceInstance(dir);
    try {
      // Same clock as process.hrtime (CLOCK_MONOTONIC), so timestamps convert.
      writeFileSync(`${dir}/trace_clock`, 'mono');
      writeFileSync(`${dir}/buffer_size_kb`, String(BUFFER_KB_PER_CPU));
      writeFileSync(`${dir}/events/sock/inet_sock_set_state/filter`, 'protocol == 6');
      writeFileSync(`${dir}/trace`, '');
      writeFileSync(`${dir}/events/sock/inet_sock_set_state/enable`, '1');
      // Non-blocking: a blocking read would pin its thread until the next event.
      t.raw = format === 'raw' ? openRaw(dir) : undefined;
      if (t.raw === undefined) t.fd = openSync(`${dir}/trace_pipe`, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      t.close();
      throw err;
    }
    return t;
  }

  /**
   * Whatever transitions arrived since the last call, up to MAX_DRAIN_BYTES;
   * `lost` counts those the ring buffer overwrote before we read them
   * (trace_pipe's "[LOST n EVENTS]"), `partial` says a line was cut mid-way
   * or more is waiting (those transitions come next time).
   */
  drain(): Drained {
    if (this.raw) return this.drainRaw(this.raw);
    const out: TraceTransition[] = [];
    let lost = 0;
    if (this.fd === undefined) return { transitions: out, lost, partial: false };
    let more = true;
    for (let read = 0; read < MAX_DRAIN_BYTES; ) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          more = false;
          break;
        }
        throw err;
      }
      if (n <= 0) {
        more = false;
        break;
      }
      read += n;
      const text = this.partial + this.buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const l of lines) {
        const tr = parseTraceLine(l);
        if (tr) out.push(tr);
        else lost += lostEvents(l);
      }
    }
    const partial = more || this.partial !== '';
    return partial ? { transitions: out, lost, partial, ...(out.length > 0 ? { until: out.at(-1)!.ts } : {}) } : { transitions: out, lost, partial };
  }

  /** Every CPU's pages, up to the bound each; merged in time order (a socket's changes may come from several CPUs). */
  private drainRaw(raw: NonNullable<TraceInstance['raw']>): Drained {
    const lists: TraceTransition[][] = this.heldBack.length > 0 ? [this.heldBack] : [];
    this.heldBack = [];
    let lost = 0;
    let until: number | undefined;
    for (const cpu of raw.cpus) {
      let pages = 0;
      let lastNs = 0;
      for (; pages < MAX_RAW_PAGES_PER_CPU; pages++) {
        let n: number;
        try {
          n = readSync(cpu.fd, this.buf, 0, PAGE_BYTES, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw err;
        }
        if (n <= 0) break;
        const d = decodePage(this.buf, n, raw.page, raw.event);
        if (d.transitions.length > 0) lists.push(d.transitions);
        lost += d.lost;
        lastNs = d.lastNs;
      }
      // This CPU has more waiting: its later events (and every CPU's after them) are not known yet.
      if (pages === MAX_RAW_PAGES_PER_CPU) until = Math.min(until ?? Infinity, lastNs / 1e9);
    }
    const transitions = lists.length === 1 ? lists[0]! : lists.flat().sort((a, b) => a.ts - b.ts);
    if (until === undefined) return { transitions, lost, partial: false };
    // Held back for the next drain: what comes after `until` may still be missing another CPU's earlier events.
    const known = transitions.filter((t) => t.ts <= until!);
    this.heldBack = transitions.filter((t) => t.ts > until!);
    return { transitions: known, lost, partial: true, until };
  }

  close(): void {
    try {
      writeFileSync(`${this.dir}/events/sock/inet_sock_set_state/enable`, '0');
    } catch {
      // Instance already gone.
    }
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    for (const cpu of this.raw?.cpus ?? []) closeSync(cpu.fd);
    this.raw = undefined;
    removeTraceInstance(this.dir);
  }
}

/**
 * The binary per-CPU buffers of an instance, where this kernel's page and
 * event formats are the ones trace-raw.ts decodes; undefined otherwise (the
 * text trace_pipe is read instead).
 */
function openRaw(dir: string): NonNullable<TraceInstance['raw']> | undefined {
  let page: PageLayout | undefined;
  let event: EventLayout | undefined;
  try {
    page = parsePageLayout(readFileSync(`${TRACEFS}/events/header_page`, 'utf8'));
    event = parseEventLayout(readFileSync(`${dir}/events/sock/inet_sock_set_state/format`, 'utf8'));
  } catch {
    return undefined;
  }
  if (page === undefined || event === undefined) return undefined;
  const cpus: RawCpu[] = [];
  try {
    for (const name of readdirSync(`${dir}/per_cpu`).filter((n) => /^cpu\d+$/.test(n))) {
      cpus.push({ fd: openSync(`${dir}/per_cpu/${name}/trace_pipe_raw`, constants.O_RDONLY | constants.O_NONBLOCK) });
    }
  } catch {
    for (const c of cpus) closeSync(c.fd);
    return undefined;
  }
  return cpus.length > 0 ? { cpus, page, event } : undefined;
}

/** Removes a trace instance directory (best effort; `lab down` calls it for crashed owners): `busy` while a reader holds it open. */
export function removeTraceInstance(dir: string): 'removed' | 'absent' | 'busy' {
  try {
    rmdirSync(dir);
    return 'removed';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EBUSY' ? 'busy' : 'absent';
  }
}
