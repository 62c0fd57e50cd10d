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
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  return m ? `${m[1]}:${port}` : `[${addr}]:${port}`;
}

/** Parses one trace_pipe line of sock:inet_sock_set_state (pure); other lines yield undefined. */
export function parseTraceLine(line: string): TraceTransition | undefined {
  const m = /\s(\d+\.\d+): inet_sock_set_state: (.*)$/.exec(line);
  if (!m) return undefined;
  const f: Record<string, string> = {};
  for (const kv of m[2]!.trim().split(/\s+/)) {
    const eq = kv.indexOf('=');
    if (eq > 0) f[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  if (f.protocol !== 'IPPROTO_TCP') return undefined;
  const from = KERNEL_STATE[f.oldstate ?? ''];
  const to = KERNEL_STATE[f.newstate ?? ''];
  if (!from || !to || f.sport === undefined || f.dport === undefined) return undefined;
  let local: string;
  let remote: string;
  if (f.family === 'AF_INET' && f.saddr && f.daddr) {
    local = `${f.saddr}:${f.sport}`;
    remote = `${f.daddr}:${f.dport}`;
  } else if (f.family === 'AF_INET6' && f.saddrv6 && f.daddrv6) {
    local = v6Endpoint(f.saddrv6, f.sport);
    remote = v6Endpoint(f.daddrv6, f.dport);
  } else return undefined;
  return { ts: Number(m[1]), local, remote, from, to };
}

/** The count in trace_pipe's "CPU:1 [LOST 12 EVENTS]" line (pure); 0 for any other line. */
export function lostEvents(line: string): number {
  const m = /\[LOST (\d+) EVENTS\]/.exec(line);
  return m ? Number(m[1]) : 0;
}

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
   * Whatever transitions arrived since the last call; `lost` counts those the
   * ring buffer overwrote before we read them (trace_pipe's "[LOST n EVENTS]"),
   * `partial` says a line was cut mid-way (its transition comes next time).
   */
  drain(): { transitions: TraceTransition[]; lost: number; partial: boolean } {
    const out: TraceTransition[] = [];
    let lost = 0;
    if (this.fd === undefined) return { transitions: out, lost, partial: false };
    for (let i = 0; i < 64; i++) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
      if (n <= 0) break;
      const text = this.partial + this.buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const l of lines) {
        const tr = parseTraceLine(l);
        if (tr) out.push(tr);
        else lost += lostEvents(l);
      }
    }
    return { transitions: out, lost, partial: this.partial !== '' };
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
