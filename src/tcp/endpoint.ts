// One endpoint's TCP control block as the inline box can reconstruct it: its
// state (named as `ss` prints it), the sequence bookkeeping RFC 9293 §3.3.1
// defines (ISN, SND.UNA, SND.NXT, RCV.NXT, own FIN), its advertised window and
// the timer it is running. The transitions themselves live in tracker.ts.

import type { Seq } from '../packet/seq.js';
import { seqAdd, seqGe, seqGt, seqLe, seqLt } from '../packet/seq.js';
import type { Endpoint, TcpState } from './state.js';

/** A timer an endpoint runs in a state it cannot leave on its own otherwise. */
export interface EndpointTimer {
  /** `2MSL`: TIME-WAIT's length (Linux TCP_TIMEWAIT_LEN); `fin-timeout`: orphaned FIN-WAIT-2 (tcp_fin_timeout). */
  readonly kind: '2MSL' | 'fin-timeout';
  /** When it fires, on the tracker's clock (ms). */
  readonly at: number;
}

export interface EndpointView {
  readonly state: TcpState;
  /** Initial send sequence number (from its SYN or SYN-ACK). */
  readonly isn?: Seq;
  /** Highest sequence number it has sent + 1 (SYN and FIN count one each). */
  readonly sndNxt?: Seq;
  /** Highest acknowledgment it has been delivered. */
  readonly sndUna?: Seq;
  /** Next sequence number it expects from its peer (what it has received in order). */
  readonly rcvNxt?: Seq;
  /** Sequence number of its own FIN, once sent. */
  readonly finSeq?: Seq;
  /** Its last advertised receive window in bytes (window field << windowScale). */
  readonly window: number;
  /** The shift applied to its window field: its own offer when both SYNs carried the option (RFC 7323 §2.2), else 0. */
  readonly windowScale: number;
  /** The timer it runs, if any. */
  readonly timer?: EndpointTimer;
}

/** A byte range the endpoint was delivered beyond a gap, held until the gap fills (Linux's out-of-order queue). */
interface OooRange {
  start: Seq;
  end: Seq;
  fin: boolean;
}

/** Bound on remembered out-of-order ranges: enough for reordering by delay rules, not a memory risk. */
const MAX_OOO = 32;

export class EndpointMachine implements EndpointView {
  state: TcpState;
  isn?: Seq;
  sndNxt?: Seq;
  sndUna?: Seq;
  rcvNxt?: Seq;
  finSeq?: Seq;
  window = 0;
  /** False until it has sent a segment: a window of 0 then means "unknown", not "closed". */
  windowKnown = false;
  windowScale = 0;
  timer?: EndpointTimer;
  /** RCV.WUP in Linux: the rcv_nxt it last advertised, i.e. the ack of its last sent segment; the window's left edge for tcp_sequence(). */
  rcvWup?: Seq;
  /** The window scale it offered in its SYN, if any. */
  offeredScale?: number;
  /** Bumped on every timer change so superseded heap entries are ignored. */
  timerGen = 0;
  private ooo: OooRange[] | undefined;

  constructor(
    readonly role: Endpoint,
    readonly addr: string,
    readonly port: number,
    state: TcpState,
  ) {
    this.state = state;
  }

  /** Records what its own outgoing segment reveals; `end` is seq + len (+1 for SYN/FIN). */
  noteSent(end: Seq | undefined): void {
    if (end !== undefined && (this.sndNxt === undefined || seqGt(end, this.sndNxt))) this.sndNxt = end;
  }

  /** Its ACK field equals its RCV.NXT at the time it sent (RFC 9293 §3.10.7.4): a floor for rcvNxt. */
  noteAckSent(ack: Seq): void {
    if (this.rcvNxt === undefined || seqGt(ack, this.rcvNxt)) this.rcvNxt = ack;
    if (this.rcvWup === undefined || seqGt(ack, this.rcvWup)) this.rcvWup = ack;
  }

  /** An acceptable acknowledgment delivered to it: SND.UNA < ack <= SND.NXT (RFC 9293 §3.10.7.4, fifth check). */
  noteAckDelivered(ack: Seq): void {
    if (this.sndUna === undefined || seqGt(ack, this.sndUna)) this.sndUna = ack;
  }

  /** True when its own FIN has been sent and acknowledged by an ack it was delivered. */
  finAckedBy(ack: Seq): boolean {
    return this.finSeq !== undefined && seqGe(ack, seqAdd(this.finSeq, 1));
  }

  /**
   * Takes delivered payload [seq, seq+len) and a FIN at seq+len into the receive
   * sequence space. Returns true when the peer's FIN has just been consumed in
   * order — only then does the state change (RFC 9293 §3.10.7.4, eighth check:
   * a FIN beyond a gap is not processed until the gap fills).
   */
  receive(seqNo: Seq, len: number, fin: boolean): boolean {
    if (this.rcvNxt === undefined) return false;
    const end = seqAdd(seqNo, len);
    if (seqGt(seqNo, this.rcvNxt)) {
      this.keepOutOfOrder({ start: seqNo, end, fin });
      return false;
    }
    let consumedFin = false;
    if (seqGt(end, this.rcvNxt) || (fin && end === this.rcvNxt)) {
      this.rcvNxt = end;
      if (fin) {
        this.rcvNxt = seqAdd(end, 1);
        consumedFin = true;
      }
    }
    return this.drainOutOfOrder() || consumedFin;
  }

  /** Linux's rcv_wnd right edge: RCV.WUP + advertised window, never left of RCV.NXT. */
  windowRightEdge(): Seq | undefined {
    if (this.rcvNxt === undefined) return undefined;
    const left = this.rcvWup ?? this.rcvNxt;
    const right = seqAdd(left, this.window);
    return seqLt(right, this.rcvNxt) ? this.rcvNxt : right;
  }

  /** tcp_sequence(): a segment [seq, endSeq) is acceptable unless it ends before RCV.WUP or starts beyond the right edge. */
  sequenceAcceptable(seqNo: Seq, endSeq: Seq): boolean {
    const right = this.windowRightEdge();
    if (right === undefined) return true;
    const left = this.rcvWup ?? this.rcvNxt!;
    return !seqLt(endSeq, left) && seqLe(seqNo, right);
  }

  setTimer(kind: EndpointTimer['kind'], at: number): EndpointTimer {
    this.timer = { kind, at };
    this.timerGen++;
    return this.timer;
  }

  clearTimer(): void {
    if (this.timer !== undefined) {
      this.timer = undefined;
      this.timerGen++;
    }
  }

  private keepOutOfOrder(r: OooRange): void {
    const q = (this.ooo ??= []);
    if (q.length >= MAX_OOO) q.shift();
    q.push(r);
  }

  private drainOutOfOrder(): boolean {
    const q = this.ooo;
    if (q === undefined || q.length === 0 || this.rcvNxt === undefined) return false;
    let consumedFin = false;
    let progressed = true;
    while (progressed && !consumedFin) {
      progressed = false;
      for (let i = 0; i < q.length; i++) {
        const r = q[i]!;
        if (seqLe(r.start, this.rcvNxt)) {
          q.splice(i, 1);
          if (seqGt(r.end, this.rcvNxt) || (r.fin && r.end === this.rcvNxt)) {
            this.rcvNxt = r.end;
            if (r.fin) {
              this.rcvNxt = seqAdd(r.end, 1);
              consumedFin = true;
            }
          }
          progressed = true;
          break;
        }
      }
    }
    if (q.length === 0) this.ooo = undefined;
    return consumedFin;
  }
}
