// Intercept mode's two sides of the inline box, fed by netfilter's queue
// (native/afpacket/nfqueue.c): queue `a` holds the client's packets, queue
// `b` the server's. A packet is held by the kernel until its verdict: the
// engine's send of a captured frame (its ticket) is NF_ACCEPT, its discard
// NF_DROP, and a delay or a hold is a verdict given later. Frames the engine
// makes (forged RSTs, duplicates, replays) leave through a raw IP socket whose
// fwmark the rules let by. Verdicts leave in batches, like packet-port.ts's
// sends: one send() per event-loop task.

import { readFileSync } from 'node:fs';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { formatIpv4, formatIpv6 } from '../packet/addr.js';
import type { Port } from '../engine/engine.js';
import { loadAfPacket, type AfPacketAddon } from './afpacket-addon.js';
import type { FrameHandler, FramePort, PortErrorHandler } from './packet-port.js';
import type { IpInjector } from './raw-injector.js';

/** linux/netfilter.h */
const NF_DROP = 0;
const NF_ACCEPT = 1;
/** The pseudo-Ethernet header nfqueue.c writes in front of each packet. */
const ETH_LEN = 14;
// The largest packet (IPv6's 40 + 65 535 bytes: the kernel copies at most
// 65 531 of it, NFQNL_MAX_COPY_RANGE, and nfqueue.c zero-fills the rest up to
// its real length) and the netlink headers in front of it.
const SLOT_BYTES = 65_575 + 1024;
/** Per packet: [offset, length, packet id, queue, bytes missing at the end] (nfqueue.c). */
const META = 5;
const BATCH = 32;
const COUNT_CHECK_MS = 1000;

export interface QueuePortsOptions {
  /** The queue numbers of the client's packets (port a) and the server's (port b). */
  readonly queues: readonly [number, number];
  /** Packets the kernel holds per queue at most; past it, packets pass unseen (fail-open). */
  readonly maxLen: number;
  /** Where forged and copied frames go (a raw socket with the rules' fwmark). */
  readonly injector: IpInjector;
}

/** A capture's ticket: the packet id and which queue (ids count per queue). */
function ticketOf(id: number, port: Port): number {
  return id * 2 + (port === 'a' ? 0 : 1);
}

/**
 * The queue socket, bound now (so that no rule ever points at a queue nobody
 * reads), and its two ports for the Runtime's openA/openB. Throws
 * E_NFQUEUE_BUSY (exit 2) when another process holds one of the queues.
 */
export class QueuePorts {
  private readonly native: AfPacketAddon;
  private readonly handle: ReturnType<AfPacketAddon['nfqOpen']>;
  private readonly handlers: Partial<Record<Port, { onFrame: FrameHandler; onError: PortErrorHandler }>> = {};
  /** Tickets of packets the kernel holds for us, awaiting their verdict. */
  private readonly outstanding = new Set<number>();
  private pending = new Uint32Array(3 * 256);
  private pendingCount = 0;
  private flushQueued = false;
  private open = true;
  private fullSaid = false;
  private readonly countTimer: NodeJS.Timeout;
  private readonly procAtStart: QueueProcCounts;

  constructor(private readonly opts: QueuePortsOptions) {
    this.native = loadAfPacket();
    const slab = Buffer.allocUnsafeSlow(SLOT_BYTES * BATCH);
    const meta = new Uint32Array(META * BATCH);
    const [qa] = opts.queues;
    const onBatch = (count: number, errno: number): void => {
      if (count < 0) {
        this.error('a', `reading netfilter queues ${opts.queues.join('/')} stopped: ${this.native.strerror(errno)} (their packets now pass untouched, fail-open)`);
        return;
      }
      for (let i = 0; i < count; i++) {
        const off = meta[META * i]!;
        const len = meta[META * i + 1]!;
        const port: Port = meta[META * i + 3] === qa ? 'a' : 'b';
        const ticket = ticketOf(meta[META * i + 2]!, port);
        const missing = meta[META * i + 4]!;
        this.outstanding.add(ticket);
        const h = this.handlers[port];
        // A view of the slab, valid until this callback (and the verdicts it queues) are done.
        if (h && this.open) h.onFrame(slab.subarray(off, off + len), 0, ticket, missing);
        else this.verdict(ticket, NF_ACCEPT);
      }
      if (!this.fullSaid && this.outstanding.size >= opts.maxLen) {
        this.fullSaid = true;
        this.error('a', `tcpmitm holds ${this.outstanding.size} packets, the netfilter queue's bound (${opts.maxLen}): packets that find it full pass unseen (fail-open) until some are let go`);
      }
    };
    try {
      this.handle = this.native.nfqOpen([...opts.queues], slab, meta, SLOT_BYTES, opts.maxLen, onBatch);
    } catch (err) {
      const e = err as Error & { errno?: number };
      // Another socket's queue: the kernel answers EPERM (nfqnl_recv_config: a queue bound by another portid), EBUSY for one of our own.
      if ((e.errno === 1 /* EPERM */ || e.errno === 16) /* EBUSY */ && e.message.includes(' bind of queue ')) {
        throw new TcpmitmError('E_NFQUEUE_BUSY', `netfilter queue ${opts.queues.join('/')} is taken by another process: ${e.message}`, ExitCode.Usage, 'another program reads that queue');
      }
      throw new TcpmitmError(
        'E_NFQUEUE',
        `cannot read netfilter queue ${opts.queues.join('/')}: ${e.message}`,
        ExitCode.Runtime,
        e.errno === 1 /* EPERM */ ? 'intercept needs root (CAP_NET_ADMIN): run it with sudo' : 'the kernel needs nfnetlink_queue (CONFIG_NETFILTER_NETLINK_QUEUE)',
      );
    }
    this.procAtStart = readQueueCounts(opts.queues);
    this.countTimer = setInterval(() => this.reportCounts(), COUNT_CHECK_MS);
    this.countTimer.unref();
  }

  /** The Runtime's PortOpener for `port`. */
  opener(port: Port): (onFrame: FrameHandler, onError: PortErrorHandler) => FramePort {
    return (onFrame, onError) => {
      this.handlers[port] = { onFrame, onError };
      return {
        name: port === 'a' ? `queue ${this.opts.queues[0]}` : `queue ${this.opts.queues[1]}`,
        send: (frame, ticket) => (ticket !== undefined ? this.verdict(ticket, NF_ACCEPT) : this.inject(port, frame)),
        discard: (ticket) => this.verdict(ticket, NF_DROP),
        close: () => this.close(),
      };
    };
  }

  /** Packets held now, awaiting a verdict. */
  get held(): number {
    return this.outstanding.size;
  }

  /**
   * Every packet still held goes on (NF_ACCEPT), as if tcpmitm had never
   * been there, then the socket closes (the kernel would drop what is left).
   * Idempotent: both ports call it.
   */
  close(): void {
    if (!this.open) return;
    this.open = false;
    clearInterval(this.countTimer);
    for (const ticket of this.outstanding) this.queueVerdict(ticket, NF_ACCEPT);
    this.flush();
    this.reportCounts();
    this.native.nfqClose(this.handle);
  }

  private verdict(ticket: number, verdict: number): void {
    if (!this.open) return;
    this.queueVerdict(ticket, verdict);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  private queueVerdict(ticket: number, verdict: number): void {
    // A ticket is given back once: a second verdict would be refused by the kernel (unknown id).
    if (!this.outstanding.delete(ticket)) return;
    if (3 * (this.pendingCount + 1) > this.pending.length) {
      const bigger = new Uint32Array(this.pending.length * 2);
      bigger.set(this.pending);
      this.pending = bigger;
    }
    const i = 3 * this.pendingCount++;
    this.pending[i] = this.opts.queues[ticket % 2 === 0 ? 0 : 1];
    this.pending[i + 1] = Math.floor(ticket / 2);
    this.pending[i + 2] = verdict;
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.pendingCount === 0) return;
    const n = this.pendingCount;
    this.pendingCount = 0;
    const errno = this.native.nfqVerdicts(this.handle, this.pending, n);
    if (errno !== 0) this.error('a', `sending ${n} verdict${n === 1 ? '' : 's'} to the netfilter queue failed: ${this.native.strerror(errno)}`);
  }

  /** A frame the engine made: its IP packet leaves through the raw socket towards its destination. */
  private inject(port: Port, frame: Buffer): void {
    if (!this.open || frame.length <= ETH_LEN) return;
    const ip = frame.subarray(ETH_LEN);
    const family: 4 | 6 = ip[0]! >> 4 === 6 ? 6 : 4;
    const dst = family === 4 ? formatIpv4(ip, 16) : formatIpv6(ip, 24);
    this.opts.injector.send(ip, family, dst, (err) => {
      if (err) this.error(port, `the raw IPv${family} socket could not send a forged segment to ${dst}: ${err.message}`);
    });
  }

  /** What the kernel could not give us, said as warnings: lost to a full socket buffer, refused verdicts, the queue's own drop counters. */
  private reportCounts(): void {
    const [lost, refused] = this.native.nfqCounts(this.handle);
    if (lost > 0) this.error('a', `the kernel could not hand tcpmitm some packets (its netlink socket buffer was full, ${lost} time${lost === 1 ? '' : 's'}): they passed unseen (fail-open)`);
    if (refused > 0) this.error('a', `the kernel refused ${refused} verdict${refused === 1 ? '' : 's'} (unknown packet ids)`);
    const now = readQueueCounts(this.opts.queues);
    const dropped = now.queueDropped - this.procAtStart.queueDropped;
    const userDropped = now.userDropped - this.procAtStart.userDropped;
    if (dropped > this.reported.queueDropped || userDropped > this.reported.userDropped) {
      this.reported = { queueDropped: dropped, userDropped };
      this.error('a', `the kernel dropped packets of the netfilter queues ${this.opts.queues.join('/')}: ${dropped} with the queue full, ${userDropped} it could not hand over (/proc/net/netfilter/nfnetlink_queue)`);
    }
  }

  private reported: QueueProcCounts = { queueDropped: 0, userDropped: 0 };

  private error(port: Port, message: string): void {
    (this.handlers[port] ?? this.handlers.a ?? this.handlers.b)?.onError(message);
  }
}

interface QueueProcCounts {
  readonly queueDropped: number;
  readonly userDropped: number;
}

/**
 * The kernel's drop counters of `queues` in /proc/net/netfilter/nfnetlink_queue
 * (this namespace's): one row per bound queue, "queue portid total copy_mode
 * copy_range queue_dropped user_dropped id_sequence 1".
 */
export function parseQueueCounts(text: string, queues: readonly number[]): QueueProcCounts {
  let queueDropped = 0;
  let userDropped = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length < 7 || !queues.includes(f[0]!)) continue;
    queueDropped += f[5]!;
    userDropped += f[6]!;
  }
  return { queueDropped, userDropped };
}

function readQueueCounts(queues: readonly number[]): QueueProcCounts {
  try {
    return parseQueueCounts(readFileSync('/proc/net/netfilter/nfnetlink_queue', 'utf8'), queues);
  } catch {
    return { queueDropped: 0, userDropped: 0 };
  }
}
