// Gives a captured segment its role (DESIGN "The pipeline") from the sender's
// and its peer's bookkeeping *before* the segment is taken into account. Rules
// match on these names, so each definition below is part of the profile
// language; docs in the report and in role.ts's users rely on them.

import type { Seq } from '../packet/seq.js';
import { seqAdd, seqGt, seqLt } from '../packet/seq.js';
import type { EndpointMachine } from './endpoint.js';
import type { Role } from './role.js';
import { TcpFlag } from './segment.js';

export interface ClassifiedSegment {
  readonly seq: Seq;
  readonly ack: Seq;
  readonly flags: number;
  readonly payloadLength: number;
}

/**
 * Role definitions, checked in this order (the first that fits wins):
 * - `rst`: RST set.
 * - `syn` / `syn-ack`: SYN without / with ACK, first transmission.
 * - `retransmission`: occupies sequence space (data, SYN or FIN) and starts
 *   below the sender's snd_nxt — it (or part of it) was sent before. A SYN or
 *   SYN-ACK sent again is a retransmission too.
 * - `keepalive`: seq = snd_nxt − 1, payload 0 or 1 byte, no SYN/FIN, nothing
 *   outstanding (snd_una = snd_nxt): Linux's tcp_xmit_probe_skb() shape, when
 *   the peer's last advertised window is open.
 * - `window-probe`: the same shape while the peer advertises a zero window
 *   (Linux probes a zero window exactly like a keepalive), or new data sent
 *   into a zero window (RFC 9293 §3.8.6.1).
 * - `fin-ack`: a new FIN whose ACK covers the peer's FIN (the passive closer's
 *   FIN — coalesced with its ACK in a three-way close, or after a separate
 *   ack-of-fin in a four-way close — or the second FIN of a simultaneous close
 *   once the first was received).
 * - `fin`: any other new FIN (with or without payload).
 * - `handshake-ack`: a pure ACK from the side that sent the SYN, at seq =
 *   ISN+1, acknowledging exactly the peer's SYN (ack = peer ISN + 1).
 * - `last-ack`: a pure ACK covering the peer's FIN, sent by an endpoint that
 *   has already sent its own FIN. It is the ACK that completes the close: it
 *   moves the peer from LAST-ACK to CLOSED or from CLOSING to TIME-WAIT. The
 *   re-ACKs a TIME-WAIT endpoint sends for retransmitted FINs are last-acks
 *   too (each one is the close-completing ACK of that retransmission).
 * - `ack-of-fin`: a pure ACK covering the peer's FIN from an endpoint that has
 *   not sent its own FIN yet (the passive closer, going CLOSE-WAIT).
 * - `data`: payload, not a retransmission.
 * - `ack`: anything else (pure ACKs, window updates, duplicate ACKs).
 */
export function classify(seg: ClassifiedSegment, sender: EndpointMachine, peer: EndpointMachine): Role {
  const f = seg.flags;
  const syn = (f & TcpFlag.SYN) !== 0;
  const fin = (f & TcpFlag.FIN) !== 0;
  const hasAck = (f & TcpFlag.ACK) !== 0;
  const len = seg.payloadLength;
  const nxt = sender.sndNxt;

  if (f & TcpFlag.RST) return 'rst';
  if (syn) {
    const again = sender.isn !== undefined && seg.seq === sender.isn && nxt !== undefined && seqGt(nxt, seg.seq);
    if (again) return 'retransmission';
    return hasAck ? 'syn-ack' : 'syn';
  }

  if (nxt !== undefined) {
    const probeShape = !fin && len <= 1 && seg.seq === seqAdd(nxt, -1) && (sender.sndUna === undefined || sender.sndUna === nxt);
    if (probeShape) return peer.windowKnown && peer.window === 0 ? 'window-probe' : 'keepalive';
    if ((len > 0 || fin) && seqLt(seg.seq, nxt)) return 'retransmission';
    if (len > 0 && !fin && seg.seq === nxt && peer.windowKnown && peer.window === 0) return 'window-probe';
  }

  const coversPeerFin = hasAck && peer.finSeq !== undefined && seqGt(seg.ack, peer.finSeq);
  if (fin) return coversPeerFin ? 'fin-ack' : 'fin';
  if (len > 0) return 'data';

  if (coversPeerFin) return sender.finSeq !== undefined ? 'last-ack' : 'ack-of-fin';
  if (
    hasAck &&
    sender.isn !== undefined &&
    peer.isn !== undefined &&
    sender.role === 'client' &&
    seg.seq === seqAdd(sender.isn, 1) &&
    seg.ack === seqAdd(peer.isn, 1)
  ) {
    return 'handshake-ack';
  }
  return 'ack';
}
