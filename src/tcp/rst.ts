// What a delivered RST does to its receiver, as Linux decides it: reset,
// challenge ACK (RFC 5961 §3.2) or silent discard. Pure: judges one endpoint's
// bookkeeping against one segment, changes nothing.

import type { Seq } from '../packet/seq.js';
import { seqAdd, seqGt, seqLt } from '../packet/seq.js';
import type { EndpointMachine } from './endpoint.js';
import { TcpFlag } from './segment.js';

/**
 * `accepted`: the receiver is reset (goes CLOSED).
 * `challenge-ack`: in the window but not exact; Linux owes an ACK carrying
 * its real rcv_nxt and changes nothing. Whether it is sent is not modelled:
 * tcp_send_challenge_ack() sends at most one per net.ipv4.tcp_invalid_ratelimit
 * (500 ms) per socket, a limit other invalid segments share, and a second RST
 * within it is judged `challenge-ack` too though none goes out (exercise 22
 * shows it; the segments the kernel sends are what the log reports). The
 * global net.ipv4.tcp_challenge_ack_limit is per namespace and off by default
 * since Linux 6.0.
 * `ignored`: dropped without a word.
 * `unknown`: the tracker does not know the receiver's rcv_nxt (a picked-up
 * connection before it has sent anything), so it changes nothing.
 */
export type RstVerdict = 'accepted' | 'challenge-ack' | 'ignored' | 'unknown';

export interface RstJudgement {
  readonly verdict: RstVerdict;
  /** Why, in words for the event log: "seq == rcv_nxt", "outside window"… */
  readonly reason: string;
}

export interface RstJudgeOptions {
  /** net.ipv4.tcp_rfc1337: when set, TIME-WAIT ignores RSTs (RFC 1337 §3, fix F1). Linux default 0. */
  readonly rfc1337: boolean;
}

export function judgeRst(
  to: EndpointMachine,
  seg: { readonly seq: Seq; readonly ack: Seq; readonly flags: number },
  opts: RstJudgeOptions,
): RstJudgement {
  switch (to.state) {
    case 'CLOSED':
      return { verdict: 'ignored', reason: 'no socket (CLOSED)' };
    case 'LISTEN':
      // RFC 9293 §3.10.7.2: "An incoming RST segment could not be valid… ignore it."
      return { verdict: 'ignored', reason: 'a listener ignores RST' };
    case 'SYN-SENT': {
      // RFC 9293 §3.10.7.3 and tcp_rcv_synsent_state_process(): only a RST whose
      // ACK acknowledges our SYN (SND.UNA < ack <= SND.NXT) counts; its seq is not checked.
      if ((seg.flags & TcpFlag.ACK) === 0) return { verdict: 'ignored', reason: 'SYN-SENT: RST without ACK' };
      // tcp_reset() in SYN-SENT: the application's connect() fails with ECONNREFUSED.
      if (to.sndNxt !== undefined && seg.ack === to.sndNxt) return { verdict: 'accepted', reason: 'ECONNREFUSED: the RST acknowledges its SYN' };
      return { verdict: 'ignored', reason: 'SYN-SENT: RST does not acknowledge our SYN' };
    }
    case 'TIME-WAIT': {
      // tcp_timewait_state_process(): only seq == rcv_nxt is "in window" for a
      // TIME-WAIT socket; such a RST kills it unless tcp_rfc1337 is set
      // ("TIME-WAIT assassination"). Anything else is discarded.
      if (to.rcvNxt === undefined) return { verdict: 'unknown', reason: 'rcv_nxt unknown' };
      if (seg.seq !== to.rcvNxt) return { verdict: 'ignored', reason: 'TIME-WAIT: seq != rcv_nxt' };
      if (opts.rfc1337) return { verdict: 'ignored', reason: 'TIME-WAIT: tcp_rfc1337=1' };
      return { verdict: 'accepted', reason: 'TIME-WAIT: seq == rcv_nxt (tcp_rfc1337=0)' };
    }
    case 'SYN-RECV': {
      // A Linux SYN-RECV is a request sock: tcp_check_req() resets it on any RST
      // inside [rcv_nxt, rcv_nxt + window] (tcp_in_window), no challenge ACK.
      if (to.rcvNxt === undefined) return { verdict: 'unknown', reason: 'rcv_nxt unknown' };
      const right = seqAdd(to.rcvNxt, to.window);
      if (!seqLt(seg.seq, to.rcvNxt) && !seqGt(seg.seq, right)) {
        return { verdict: 'accepted', reason: 'SYN-RECV: seq in window (request sock)' };
      }
      return { verdict: 'ignored', reason: 'SYN-RECV: outside window' };
    }
    case 'ESTAB':
    case 'FIN-WAIT-1':
    case 'FIN-WAIT-2':
    case 'CLOSE-WAIT':
    case 'CLOSING':
    case 'LAST-ACK': {
      if (to.rcvNxt === undefined) return { verdict: 'unknown', reason: 'rcv_nxt unknown' };
      // RFC 5961 §3.2 as tcp_validate_incoming() does it: exact match resets.
      // (Linux also accepts seq == the highest SACKed sequence when SACK blocks
      // are outstanding; the tracker does not see SACK state and leaves it out.)
      if (seg.seq === to.rcvNxt) return { verdict: 'accepted', reason: 'seq == rcv_nxt' };
      // tcp_reset_check(): once the peer's FIN is consumed rcv_nxt is past it,
      // and a RST at the FIN's own sequence number is accepted too — even
      // though tcp_sequence() put it left of the window.
      if (
        seg.seq === seqAdd(to.rcvNxt, -1) &&
        (to.state === 'CLOSE-WAIT' || to.state === 'LAST-ACK' || to.state === 'CLOSING')
      ) {
        return { verdict: 'accepted', reason: `seq == rcv_nxt-1 in ${to.state} (peer's FIN consumed)` };
      }
      if (!to.sequenceAcceptable(seg.seq, seg.seq)) return { verdict: 'ignored', reason: 'outside window' };
      return { verdict: 'challenge-ack', reason: 'in window but seq != rcv_nxt: challenge ACK (RFC 5961 §3.2)' };
    }
  }
}
