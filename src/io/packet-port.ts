// One side of the inline box: an AF_PACKET socket on an interface that both
// captures and injects frames, through tcpmitm's native addon
// (native/afpacket). Frames arrive in batches (one JavaScript call per
// recvmmsg) and leave in batches: send() queues, and the queue goes out in one
// sendmmsg when the current task's synchronous work is done (a microtask), so
// every frame forwarded while handling one batch shares a system call.

import { performance } from 'node:perf_hooks';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { loadAfPacket, type AfPacketAddon } from './afpacket-addon.js';

export interface FramePort {
  readonly name: string;
  /**
   * Transmit a whole frame (queued; it leaves before the event loop moves on).
   * `ticket`: it is the frame this port's peer captured with that ticket,
   * unchanged (a queue's packet: its verdict lets it go on). A packet port gets none.
   */
  send(frame: Buffer, ticket?: number): void;
  /** The frame captured on this port with `ticket` will never be sent (a queue's packet: its verdict drops it). */
  discard?(ticket: number): void;
  close(): void;
}

/**
 * A captured frame — a view valid only during the call and the sends it
 * queues — how long ago (ms) the kernel received it, and the capture's ticket
 * (a queue's packet, to be given back with the send or the discard).
 * `missing`: the capture holds the frame at its real length but not its last
 * `missing` bytes (zero-filled): a netfilter queue copies 65 531 bytes at most
 * (nfqueue.c). Its headers and lengths are exact; its bytes must never be sent.
 */
export type FrameHandler = (frame: Buffer, ageMs: number, ticket?: number, missing?: number) => void;

/** A frame the interface refused to send, and why (errno: EMSGSIZE for one larger than the MTU). */
export interface RefusedFrame {
  readonly length: number;
  readonly errno: number;
}

/** Problems a port meets after it opened: a refused frame (with `refused`), an interface that went away. */
export type PortErrorHandler = (message: string, refused?: RefusedFrame) => void;

// A slot holds the largest frame a packet socket can deliver (64 KiB of IP
// with offloads on, plus headers and a restored VLAN tag); offloads are off
// in the lab, so frames there are at most 1518 bytes and only those bytes are touched.
const SLOT_BYTES = 65_600;
const BATCH = 64;
/** How often the kernel's drop counter of each port is read. */
const DROP_CHECK_MS = 1000;

/** Opens `dev` for capture and injection; `onFrame` gets views of the receive slab (see FrameHandler). */
export function openPacketPort(dev: string, onFrame: FrameHandler, onError: PortErrorHandler = () => {}): FramePort {
  const native = loadAfPacket();
  const slab = Buffer.allocUnsafeSlow(SLOT_BYTES * BATCH);
  const meta = new Uint32Array(3 * BATCH); // [offset, length, age in µs] per frame
  const pending: Buffer[] = [];
  let open = true;
  let flushQueued = false;

  const onBatch = (count: number, errno: number): void => {
    if (count < 0) {
      onError(`reading ${dev} stopped: ${native.strerror(errno)}`);
      return;
    }
    // The ages are as of the read, just before this call: a frame handled
    // later in the batch (after the others, a collection) is older by then,
    // and its time (now − age) must still be when the kernel received it.
    const readAt = performance.now();
    for (let i = 0; i < count; i++) {
      const off = meta[3 * i]!;
      const len = meta[3 * i + 1]!;
      const since = i === 0 ? 0 : performance.now() - readAt;
      // A view, no copy: valid until the next recvmmsg, which comes only after
      // this callback and its microtasks (the batched send) have run. Whoever
      // keeps a frame longer copies it (the engine's retain).
      onFrame(slab.subarray(off, off + len), meta[3 * i + 2]! / 1000 + since);
    }
  };

  let handle: ReturnType<AfPacketAddon['open']>;
  try {
    handle = native.open(dev, slab, meta, SLOT_BYTES, onBatch);
  } catch (err) {
    const e = err as Error & { errno?: number; hatype?: number };
    // The engine decodes Ethernet frames: a loopback, tun or other link would
    // hand it something else (libpcap's link type, checked the same way).
    if (e.hatype !== undefined) throw new TcpmitmError('E_LINKTYPE', `${dev} is not an Ethernet interface (ARPHRD type ${e.hatype})`, ExitCode.Usage);
    throw new TcpmitmError(
      'E_CAPTURE',
      `cannot capture on ${dev}: ${e.message}`,
      e.errno === 19 /* ENODEV */ ? ExitCode.Usage : ExitCode.Runtime,
      e.errno === 1 || e.errno === 13 /* EPERM, EACCES */ ? 'tcpmitm needs root (CAP_NET_RAW): run it with sudo' : undefined,
    );
  }

  // Frames the kernel had to drop before we read them are lost to both ends:
  // say so (the runtime turns it into a warning event) rather than stay silent.
  const reportDrops = (): void => {
    const n = native.drops(handle);
    if (n > 0) onError(`the kernel dropped ${n} frame${n === 1 ? '' : 's'} arriving on ${dev} before tcpmitm read them (its receive buffer was full)`);
  };
  const dropCheck = setInterval(reportDrops, DROP_CHECK_MS);
  dropCheck.unref();

  const flush = (): void => {
    flushQueued = false;
    if (!open || pending.length === 0) return;
    const refused = native.send(handle, pending, pending.length);
    if (refused) {
      for (let i = 0; i < refused.length; i += 2) {
        const frame = pending[refused[i]!]!;
        const errno = refused[i + 1]!;
        onError(`send on ${dev} failed for a ${frame.length}-byte frame: ${native.strerror(errno)}`, { length: frame.length, errno });
      }
    }
    pending.length = 0;
  };

  return {
    name: dev,
    send(frame: Buffer): void {
      if (!open) return;
      pending.push(frame);
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flush);
      }
    },
    close(): void {
      if (!open) return;
      flush();
      clearInterval(dropCheck);
      reportDrops();
      open = false;
      native.close(handle);
    },
  };
}
