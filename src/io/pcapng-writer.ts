// `--pcap FILE|-`: both sides of every decision. Each frame is recorded where
// it arrived (epb_flags inbound, on interface 0 = the client side or 1 = the
// server side) and again where and when it left (outbound, on the other
// interface), each with a comment saying what tcpmitm did: "passed",
// "dropped by rule 1 (last-ack)", "delayed 3000 ms by rule 1" on the arrival
// and "delayed 3000 ms by rule 1; released fin from client after 3001 ms
// (arrived as frame 7)" on the departure. Forged segments have only a
// departure. A segment that waited and then never left (dropped by hand, or
// discarded later) is recorded once more on interface 2, "tcpmitm", at the
// time of that decision: no wire saw it, and interfaces 0 and 1 each stay
// exactly what a capture on that wire shows (so tshark's analysis of one
// interface, `-2 -R 'frame.interface_id == 1'`, is the analysis of that wire).
// Records are in strict time order: a captured frame's arrival is written
// with the departures its decision caused, after the engine decided.
// Blocks are written synchronously, so the file is valid after Ctrl-C; one
// that cannot be written fails safe (OutputSink): it ends at its last whole block.

import type { Port } from '../engine/engine.js';
import type { SegmentEvent, TcpmitmEvent } from '../engine/events.js';
import { enhancedPacket, interfaceDescription, sectionHeader, type PacketDirection } from '../packet/pcapng.js';
import { openOutput } from './output-file.js';
import { OutputSink } from './output-sink.js';

export interface PcapngWriterOptions {
  /** A file, or `-` for stdout. */
  readonly path: string;
  readonly names: { readonly a: string; readonly b: string };
  /** Told once if writing fails (disk full…); a reader that went away is not a failure. */
  readonly onFailure: (message: string) => void;
  /** Wall-clock nanoseconds now (injected for tests). */
  readonly wallNs?: () => bigint;
}

/** The comment a segment event puts on its packet, or undefined for a plain pass. */
export function commentFor(ev: SegmentEvent): string | undefined {
  const by = ev.rule !== undefined ? ` by rule ${ev.rule} (${ev.role})` : ` (${ev.role}${ev.detail ? `, ${ev.detail}` : ''})`;
  switch (ev.verdict) {
    case 'pass':
      // Queued behind a delayed segment (it left when they did), or a hold ignored headless.
      return ev.detail;
    case 'drop':
      return `dropped${by}`;
    case 'delay':
      return `delayed ${ev.detail ?? ''}${ev.rule !== undefined ? ` by rule ${ev.rule}` : ''}`.trim();
    case 'hold':
      return `held${by}`;
    case 'coalesce':
      return ev.detail?.startsWith('duplicate') ? `coalesced: duplicate ACK absorbed${ev.rule !== undefined ? ` by rule ${ev.rule}` : ''}` : `coalesced ACK into FIN${ev.rule !== undefined ? ` by rule ${ev.rule}` : ''}`;
    case 'replay':
      return `replayed ${ev.detail ?? 'an earlier segment'}${ev.rule !== undefined ? ` by rule ${ev.rule}` : ''}`;
    case 'duplicate':
      return `duplicated${by}`;
    case 'forged':
      return `forged ${ev.detail ?? 'RST'}${ev.rule !== undefined ? ` by rule ${ev.rule}` : ''}`;
  }
}

/** Interface 2: what tcpmitm decided about a segment it had kept, that no wire saw. */
const DECISIONS_IFACE = 2;
/** Segments that arrived and have not left yet (delayed, held…), remembered to name them when they do; bounded. */
const MAX_WAITING = 4096;

interface PendingRecord {
  readonly iface: number;
  readonly ts: bigint;
  readonly frame: Buffer;
  readonly comment: string;
  readonly direction: PacketDirection | undefined;
  /** Bytes at the frame's end the capture did not have (recorded cut short). */
  readonly missing: number;
}

interface Waiting {
  readonly bytes: Buffer;
  readonly frameNo: number;
  readonly decision: string;
  readonly missing: number;
}

interface Captured {
  readonly port: Port;
  readonly frame: Buffer;
  readonly ts: bigint;
  readonly missing: number;
  readonly comments: string[];
  /** Departures and other records its decision caused, written after its arrival. */
  readonly after: PendingRecord[];
  left: boolean;
  dropped: boolean;
}

const ifaceOf = (port: Port): number => (port === 'a' ? 0 : 1);

export class PcapngWriter {
  private readonly sink: OutputSink;
  /** The section header and interfaces go out with the first packet (or at close), once the run's failures can be reported. */
  private readonly header: Buffer;
  private headerWritten = false;
  private readonly wallNs: () => bigint;
  private open?: Captured;
  /** The comment of the next forged frame sent (its segment event comes first). */
  private forgedNext?: string;
  /** What the last release action said: the next frame that leaves not as its capture's own departure is that one. */
  private releaseNote?: string;
  /** A segment event outside any capture (a replay…): names the next frame sent. */
  private pendingNote?: string;
  /** A kept segment that will never leave, outside any capture: written when the event saying why follows (synchronously). */
  private lateDrop?: { iface: number; ts: bigint; frame: Buffer; prefix: string; missing: number };
  private readonly waiting: Waiting[] = [];
  /** Packets written (arrivals, departures, forged, decisions). */
  count = 0;

  constructor(opts: PcapngWriterOptions) {
    // Wall clock at nanosecond resolution: the epoch offset once, then the monotonic clock.
    const base = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    this.wallNs = opts.wallNs ?? (() => base + process.hrtime.bigint());
    // Throws E_OUTPUT (exit 2) before anything runs.
    this.sink = new OutputSink(openOutput(opts.path, '--pcap'), { what: '--pcap', unit: 'block', onFailure: opts.onFailure });
    this.header = Buffer.concat([
      sectionHeader('tcpmitm'),
      interfaceDescription(opts.names.a, 'client side'),
      interfaceDescription(opts.names.b, 'server side'),
      interfaceDescription('tcpmitm', 'decisions about segments tcpmitm kept and never sent (no wire saw these)'),
    ]);
  }

  /** The runtime calls this before the engine sees a captured frame (`missing`: its last bytes the capture lacks)… */
  beginCaptured(port: Port, frame: Buffer, missing = 0): void {
    this.flushLateDrop();
    this.open = { port, frame, ts: this.wallNs(), missing, comments: [], after: [], left: false, dropped: false };
  }

  /** …and this after: its arrival is written with what the engine did to it, then what that made leave. */
  endCaptured(): void {
    const o = this.open;
    if (!o) return;
    this.open = undefined;
    const decision = o.comments.length > 0 ? o.comments.join('; ') : 'passed';
    const frameNo = this.count + 1;
    // One write(2) for the arrival and what it made leave: a syscall per block would triple a passthrough frame's cost.
    const blocks = [enhancedPacket(ifaceOf(o.port), o.ts, o.frame, [decision], 'inbound', o.missing)];
    for (const r of o.after) blocks.push(enhancedPacket(r.iface, r.ts, r.frame, [r.comment === 'passed' ? r.comment : r.comment.replace(SELF, String(frameNo))], r.direction, r.missing));
    this.writeBlocks(blocks);
    // Kept (delayed, held, queued, waiting for a FIN…): remembered, to say which arrival leaves later.
    if (!o.left && !o.dropped) {
      if (this.waiting.length >= MAX_WAITING) this.waiting.shift();
      this.waiting.push({ bytes: Buffer.from(o.frame), frameNo, decision, missing: o.missing });
    }
  }

  /** Every frame the runtime sends: its departure, on the interface it leaves by. */
  sent(port: Port, frame: Buffer): void {
    const o = this.open;
    const ts = this.wallNs();
    let comment: string;
    let missing = 0;
    if (this.forgedNext !== undefined) {
      comment = this.forgedNext;
      this.forgedNext = undefined;
    } else if (o && frame === o.frame) {
      o.left = true;
      missing = o.missing;
      // A plain pass costs no string work: the frame before it is its arrival.
      comment = o.comments.length > 0 ? `${o.comments.join('; ')} (arrived as frame ${SELF})` : 'passed';
    } else {
      ({ comment, missing } = this.departureOfKept(frame));
    }
    if (o) o.after.push({ iface: ifaceOf(port), ts, frame, comment, direction: 'outbound', missing });
    else {
      this.flushLateDrop();
      this.write(ifaceOf(port), ts, frame, comment, 'outbound', missing);
    }
  }

  /** A frame that arrived on `port` will never leave. */
  dropped(port: Port, frame: Buffer): void {
    const o = this.open;
    if (o && frame === o.frame) {
      o.dropped = true; // its arrival's comment says so
      return;
    }
    const w = this.takeWaiting(frame);
    const prefix = w ? `${w.decision}; then ` : '';
    const ref = w ? ` (arrived as frame ${w.frameNo})` : '';
    const ts = this.wallNs();
    if (o) {
      o.after.push({ iface: DECISIONS_IFACE, ts, frame, comment: `${prefix}discarded when frame ${SELF} arrived${ref}`, direction: undefined, missing: w?.missing ?? 0 });
      return;
    }
    this.flushLateDrop();
    // The event saying why follows at once (Engine.discard runs before it is emitted).
    this.lateDrop = { iface: DECISIONS_IFACE, ts, frame: Buffer.from(frame), prefix: `${prefix}%WHY%${ref}`, missing: w?.missing ?? 0 };
  }

  /** Subscribe this to the event stream. */
  onEvent = (ev: TcpmitmEvent): void => {
    if (ev.type === 'action') {
      if (ev.action === 'release') this.releaseNote = ev.detail;
      else if (ev.action === 'drop' && this.lateDrop) this.flushLateDrop(ev.detail.startsWith('dropped held ') ? `dropped by hand (${ev.detail.slice('dropped '.length)})` : ev.detail);
      return;
    }
    if (ev.type !== 'segment') return;
    const c = commentFor(ev);
    if (c === undefined) return;
    if (ev.verdict === 'forged') this.forgedNext = c;
    else if (this.lateDrop && ev.verdict === 'drop') this.flushLateDrop(c);
    else if (this.open) this.open.comments.push(c);
    else this.pendingNote = c;
  };

  close(): void {
    this.endCaptured();
    this.flushLateDrop();
    this.writeHeader();
    this.sink.close();
  }

  /** The comment of a frame leaving that is not its capture's own departure: a delayed or held one released, a replay… */
  private departureOfKept(frame: Buffer): { comment: string; missing: number } {
    const how = this.releaseNote ?? this.pendingNote;
    this.releaseNote = undefined;
    this.pendingNote = undefined;
    const w = this.takeWaiting(frame);
    if (w) return { comment: `${w.decision}; ${how ?? 'sent'} (arrived as frame ${w.frameNo})`, missing: w.missing };
    return { comment: how ?? 'sent by tcpmitm', missing: 0 };
  }

  /** The remembered arrival with exactly these bytes (the oldest, if a retransmission is identical). */
  private takeWaiting(frame: Buffer): Waiting | undefined {
    const i = this.waiting.findIndex((w) => w.bytes.length === frame.length && w.bytes.equals(frame));
    if (i < 0) return undefined;
    return this.waiting.splice(i, 1)[0];
  }

  private flushLateDrop(why = 'discarded'): void {
    const d = this.lateDrop;
    if (!d) return;
    this.lateDrop = undefined;
    this.write(d.iface, d.ts, d.frame, d.prefix.replace('%WHY%', why), undefined, d.missing);
  }

  private write(iface: number, ts: bigint, frame: Buffer, comment: string, direction: PacketDirection | undefined, missing = 0): void {
    this.writeBlocks([enhancedPacket(iface, ts, frame, [comment], direction, missing)]);
  }

  private writeBlocks(blocks: Buffer[]): void {
    if (!this.sink.ok) return;
    this.writeHeader();
    this.sink.write(blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks));
    if (this.sink.ok) this.count += blocks.length;
  }

  private writeHeader(): void {
    if (this.headerWritten) return;
    this.headerWritten = true;
    this.sink.write(this.header);
  }
}

/** Stands for the capture's own frame number in records written after it (known once its arrival is written). */
const SELF = '%SELF%';
