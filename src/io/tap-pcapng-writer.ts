// tap's `--pcap FILE|-`. Tap watches one interface from the side, so its
// pcapng holds two interfaces: 0, the tapped one, with exactly what the
// capture saw, in the order it saw it (tcpdump -i IFACE would show the same
// frames); and 1, "tcpmitm", each forged RST as tcpmitm sent it through its
// raw socket, with the decision in its comment ("forged RST to server by rule
// 1"). Where a forged RST then crossed the tapped interface (always on
// loopback), the capture shows it again on interface 0, its comment naming
// the frame it was sent as. Records are in strict time order: each is written
// when it happens. Blocks are written synchronously (the file is valid after
// Ctrl-C); one that cannot be written fails safe (OutputSink).

import type { TcpmitmEvent } from '../engine/events.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW, enhancedPacket, interfaceDescription, sectionHeader } from '../packet/pcapng.js';
import { commentFor } from './pcapng-writer.js';
import { openOutput } from './output-file.js';
import { OutputSink } from './output-sink.js';

export interface TapPcapngOptions {
  /** A file, or `-` for stdout. */
  readonly path: string;
  readonly iface: string;
  /** The capture's link type (cap's name): the forged frames are built on captured ones, so both interfaces share it. */
  readonly linkType: 'ETHERNET' | 'RAW';
  readonly onFailure: (message: string) => void;
  /** Wall-clock nanoseconds now (injected for tests). */
  readonly wallNs?: () => bigint;
}

const CAPTURE_IFACE = 0;
const SENT_IFACE = 1;
/** Forged RSTs remembered to recognise them in the capture: a few, and not for long (tap core's ECHO_MS is the same idea). */
const MAX_SENT = 64;
const SENT_TTL_NS = 2_000_000_000n;

interface Sent {
  /** The IP packet (what the raw socket sent), without the link-layer header. */
  readonly ip: Buffer;
  readonly frameNo: number;
  readonly comment: string;
  readonly ts: bigint;
}

export class TapPcapngWriter {
  private readonly sink: OutputSink;
  /** The section header and interfaces go out with the first packet (or at close), once the run's failures can be reported. */
  private header: Buffer | undefined;
  private readonly wallNs: () => bigint;
  private readonly linkOffset: number;
  /** The comment of the next forged frame (its segment event comes before it is sent). */
  private forgedNext?: string;
  private sent: Sent[] = [];
  /** Packets written. */
  count = 0;

  constructor(opts: TapPcapngOptions) {
    const base = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    this.wallNs = opts.wallNs ?? (() => base + process.hrtime.bigint());
    const link = opts.linkType === 'RAW' ? LINKTYPE_RAW : LINKTYPE_ETHERNET;
    this.linkOffset = opts.linkType === 'RAW' ? 0 : 14;
    // Throws E_OUTPUT (exit 2) before anything runs.
    this.sink = new OutputSink(openOutput(opts.path, '--pcap'), { what: '--pcap', unit: 'block', onFailure: opts.onFailure });
    this.header = Buffer.concat([
        sectionHeader('tcpmitm tap'),
        interfaceDescription(opts.iface, 'what the capture saw (tap: beside the traffic, nothing held or dropped)', undefined, link),
        interfaceDescription('tcpmitm', 'forged segments as tcpmitm sent them (raw socket); the capture shows them again where they crossed the tapped interface', undefined, link),
    ]);
  }

  /** Every frame the capture saw, as it is handed to tap's core. */
  captured(frame: Buffer): void {
    const ts = this.wallNs();
    const echo = this.takeSent(frame, ts);
    this.write(CAPTURE_IFACE, ts, frame, echo ? [`tcpmitm's own: ${echo.comment} (sent as frame ${echo.frameNo})`] : []);
  }

  /** A forged frame as it goes to the raw socket (`ipOffset`: where its IP packet starts). */
  forged(frame: Buffer, ipOffset: number): void {
    const ts = this.wallNs();
    const comment = this.forgedNext ?? 'forged by tcpmitm';
    this.forgedNext = undefined;
    this.write(SENT_IFACE, ts, frame, [comment], 'outbound');
    if (this.sent.length >= MAX_SENT) this.sent.shift();
    this.sent.push({ ip: Buffer.from(frame.subarray(ipOffset)), frameNo: this.count, comment, ts });
  }

  /** Subscribe this to the event stream: a forged segment's event names the frame sent next. */
  onEvent = (ev: TcpmitmEvent): void => {
    if (ev.type === 'segment' && ev.verdict === 'forged') this.forgedNext = commentFor(ev);
  };

  close(): void {
    this.writeHeader();
    this.sink.close();
  }

  /** The forged RST this captured frame is (its IP packet where the link header ends), if it is one. */
  private takeSent(frame: Buffer, now: bigint): Sent | undefined {
    if (this.sent.length === 0) return undefined;
    this.sent = this.sent.filter((s) => now - s.ts < SENT_TTL_NS);
    const i = this.sent.findIndex((s) => frame.length >= this.linkOffset + s.ip.length && frame.subarray(this.linkOffset, this.linkOffset + s.ip.length).equals(s.ip));
    return i < 0 ? undefined : this.sent.splice(i, 1)[0];
  }

  private write(iface: number, ts: bigint, frame: Buffer, comments: string[], direction?: 'outbound'): void {
    if (!this.sink.ok) return;
    this.writeHeader();
    this.sink.write(enhancedPacket(iface, ts, frame, comments, direction));
    if (this.sink.ok) this.count++;
  }

  private writeHeader(): void {
    if (this.header === undefined) return;
    this.sink.write(this.header);
    this.header = undefined;
  }
}
