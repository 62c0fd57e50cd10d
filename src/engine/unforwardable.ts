// Frames tcpmitm cannot forward as the ends meant them, counted by reason and
// explained once: a frame the sending interface refuses (EMSGSIZE: a
// super-frame that TSO/GSO or GRO made of many segments, larger than the MTU),
// and TCP segments whose checksum does not verify as they arrive (the sender's
// checksum offload left it for hardware that a veth does not have; re-sent
// as it is, the receiver drops it). Without this, the connection just stalls
// and the client sees a timeout or "No route to host" with no word from tcpmitm.

import type { Port } from './engine.js';

/** What can be known about the device at the far end of an interface (see io/far-end.ts). */
export interface FarEndInfo {
  /** "c0 (in netns lab-c)", or how to find it. */
  readonly text: string;
  /** The ethtool command for it, when its name is known. */
  readonly command?: string;
}

/** What the runtime looks up about the host's interfaces, once per message. */
export interface LinkFacts {
  farEnd(dev: string): FarEndInfo;
  mtu(dev: string): number | undefined;
}

export interface UnforwardableCounts {
  /** Frames an interface refused to send (any errno). */
  unsent: number;
  /** Captured TCP segments whose checksum did not verify (forwarded as they were): every SYN is checked, one frame in 64 of the rest. */
  badChecksum: number;
}

const EMSGSIZE = 90;
export const OFFLOADS_OFF = 'tx off tso off gso off gro off';

export class Unforwardable {
  readonly counts: UnforwardableCounts = { unsent: 0, badChecksum: 0 };
  private readonly told = new Set<string>();

  constructor(
    /** The interface of each port. */
    private readonly devs: Readonly<Record<Port, string>>,
    /** Looked up once per message (it may run `ip`). */
    private readonly links: LinkFacts,
    private readonly warn: (message: string) => void,
    private readonly strerror: (errno: number) => string,
  ) {}

  /** `sentOn` refused a `length`-byte frame with `errno`; the frame had arrived on the other port. */
  refused(sentOn: Port, length: number, errno: number): void {
    this.counts.unsent++;
    const out = this.devs[sentOn];
    const from = this.devs[sentOn === 'a' ? 'b' : 'a'];
    if (errno !== EMSGSIZE) {
      this.once(`refused ${sentOn} ${errno}`, () =>
        `${out} refused to send a ${length}-byte frame: ${this.strerror(errno)}; such frames are lost to both ends (counted as unsent in stats; said once)`,
      );
      return;
    }
    this.once(`oversized ${from}`, () => {
      const head = `a ${length}-byte frame arrived on ${from} and cannot be forwarded: ${out} refuses frames larger than its MTU (${this.strerror(errno)}), so that traffic does not cross and the connection stalls. `;
      const tail = ' (counted as unsent in stats; said once)';
      const inMtu = this.links.mtu(from);
      const outMtu = this.links.mtu(out);
      // Within the arrival link's MTU (plus an Ethernet header and two tags): the two links' MTUs differ.
      if (inMtu !== undefined && outMtu !== undefined && length <= inMtu + 22 && inMtu > outMtu) {
        return head + `${from}'s MTU is ${inMtu} and ${out}'s ${outMtu}: give both links the same MTU (ip link set ${out} mtu ${inMtu}, and its far end too).` + tail;
      }
      return head + `The sender merged segments into super-frames (TSO/GSO on at the far end of ${from}, or GRO). ` + this.fix(from) + tail;
    });
  }

  /**
   * A TCP segment arrived on `port` with a checksum that does not verify. Only
   * one a far end's offload left unfinished is explained: any other is the
   * wire's truth, forwarded as it came, as a cable would.
   */
  badChecksum(port: Port, leftToDevice: boolean): void {
    this.counts.badChecksum++;
    if (!leftToDevice) return;
    const dev = this.devs[port];
    this.once(`checksum ${dev}`, () =>
      `TCP segments arriving on ${dev} have checksums that do not verify: the sender's checksum offload is on at the far end of ${dev} and left them for hardware ` +
        `that never filled them in (a veth), so the receiver drops them as tcpmitm forwards them. ${this.fix(dev)} (counted as badChecksum in stats; said once)`,
    );
  }

  private fix(dev: string): string {
    const far = this.links.farEnd(dev);
    return far.command
      ? `Turn the offloads off on ${far.text}: ${far.command}`
      : `Turn the offloads off on ${far.text}: ethtool -K <that device> ${OFFLOADS_OFF}`;
  }

  private once(key: string, message: () => string): void {
    if (this.told.has(key)) return;
    this.told.add(key);
    this.warn(message());
  }
}
