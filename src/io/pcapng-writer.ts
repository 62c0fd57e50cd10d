// `--pcap FILE|-`: every frame tcpmitm captured on either side (interface 0 is
// the client side, 1 the server side), plus the segments it forged, on the
// side it sent them. A packet tcpmitm acted on carries a comment saying what
// ("dropped by rule 1 (last-ack)", "delayed 200 ms", "forged RST to server",
// "queued behind 1 delayed segment": it went on only when that one did).
// Blocks are written synchronously, so the file is valid after Ctrl-C; one
// that cannot be written fails safe (OutputSink): it ends at its last whole block.

import type { Port } from '../engine/engine.js';
import type { SegmentEvent, TcpmitmEvent } from '../engine/events.js';
import { enhancedPacket, interfaceDescription, sectionHeader } from '../packet/pcapng.js';
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

export class PcapngWriter {
  private readonly sink: OutputSink;
  /** The section header and interfaces go out with the first packet (or at close), once the run's failures can be reported. */
  private readonly header: Buffer;
  private headerWritten = false;
  private readonly wallNs: () => bigint;
  private open?: { port: Port; frame: Buffer; ts: bigint; comments: string[] };
  private forgedNext?: string;
  /** Packets written (captured + forged). */
  count = 0;

  constructor(opts: PcapngWriterOptions) {
    // Wall clock at nanosecond resolution: the epoch offset once, then the monotonic clock.
    const base = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    this.wallNs = opts.wallNs ?? (() => base + process.hrtime.bigint());
    // Throws E_OUTPUT (exit 2) before anything runs.
    this.sink = new OutputSink(openOutput(opts.path, '--pcap'), { what: '--pcap', unit: 'block', onFailure: opts.onFailure });
    this.header = Buffer.concat([sectionHeader('tcpmitm'), interfaceDescription(opts.names.a, 'client side'), interfaceDescription(opts.names.b, 'server side')]);
  }

  /** The runtime calls this before the engine sees a captured frame… */
  beginCaptured(port: Port, frame: Buffer): void {
    this.open = { port, frame, ts: this.wallNs(), comments: [] };
  }

  /** …and this after: the packet is written with what the engine did to it. */
  endCaptured(): void {
    const o = this.open;
    if (!o) return;
    this.open = undefined;
    this.write(o.port === 'a' ? 0 : 1, o.ts, o.frame, o.comments);
  }

  /** Every frame the runtime sends; only forged ones are recorded (forwarded copies were recorded when captured). */
  sent(port: Port, frame: Buffer): void {
    if (this.forgedNext === undefined) return;
    const comment = this.forgedNext;
    this.forgedNext = undefined;
    this.write(port === 'a' ? 0 : 1, this.wallNs(), frame, [comment]);
  }

  /** Subscribe this to the event stream. */
  onEvent = (ev: TcpmitmEvent): void => {
    if (ev.type !== 'segment') return;
    const c = commentFor(ev);
    if (c === undefined) return;
    if (ev.verdict === 'forged') this.forgedNext = c;
    else if (this.open) this.open.comments.push(c);
  };

  close(): void {
    this.endCaptured();
    this.writeHeader();
    this.sink.close();
  }

  private write(iface: number, ts: bigint, frame: Buffer, comments: readonly string[]): void {
    if (!this.sink.ok) return;
    this.writeHeader();
    this.sink.write(enhancedPacket(iface, ts, frame, comments));
    if (this.sink.ok) this.count++;
  }

  private writeHeader(): void {
    if (this.headerWritten) return;
    this.headerWritten = true;
    this.sink.write(this.header);
  }
}
