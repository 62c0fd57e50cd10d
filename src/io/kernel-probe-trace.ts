// The tracefs source of the kernel probe: the sock:inet_sock_set_state
// tracepoint gives every TCP state transition with a µs timestamp, in a
// dedicated trace instance per lab (instances/tcpmitm-<id>) so concurrent
// labs do not fight over one buffer. The tracepoint is host-global and carries
// no namespace: sockets are attributed by their local address (198.18.0.1 /
// 2001:2::1 = client, .2 / ::2 = server), so two labs running at once can see
// each other's events if their 4-tuples ever coincide (ephemeral ports make
// that unlikely; the proc source has no such limit).

import { closeSync, constants, existsSync, mkdirSync, openSync, readSync, rmdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { TcpState } from '../tcp/state.js';

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

/** A dedicated trace instance reading inet_sock_set_state without blocking. */
export class TraceInstance {
  private fd: number | undefined;
  private partial = '';
  private readonly buf = Buffer.alloc(64 * 1024);

  private constructor(readonly dir: string) {}

  static instanceDir(labId: string): string {
    // One path component of plain characters: `lab down` removes this directory.
    if (!/^[A-Za-z0-9_]+$/.test(labId)) throw new Error(`'${labId}' cannot name a trace instance`);
    return `${TRACEFS}/instances/tcpmitm-${labId}`;
  }

  /** Mounts tracefs if needed and opens the lab's instance; throws with a reason when unavailable. */
  static open(labId: string): TraceInstance {
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
      // Non-blocking: a blocking read of trace_pipe would pin a libuv thread until the next event.
      t.fd = openSync(`${dir}/trace_pipe`, constants.O_RDONLY | constants.O_NONBLOCK);
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
  drain(): { transitions: TraceTransition[]; lost: number; partial: boolean } {
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
    return { transitions: out, lost, partial: more || this.partial !== '' };
  }

  close(): void {
    try {
      writeFileSync(`${this.dir}/events/sock/inet_sock_set_state/enable`, '0');
    } catch {
      // Instance already gone.
    }
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    removeTraceInstance(this.dir);
  }
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
