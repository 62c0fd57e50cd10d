// What the engine can be told to do with one segment: the executable form of
// a profile rule's action (src/rules compiles profiles into a Decider).

import type { Endpoint, TcpState } from '../tcp/state.js';
import type { Role } from '../tcp/role.js';
import type { TimeTrigger } from './cues.js';

export type Plan =
  | { readonly kind: 'pass' }
  | { readonly kind: 'drop' }
  /** Hold for `ms`; later segments of the same direction wait behind it unless `reorder`. */
  | { readonly kind: 'delay'; readonly ms: number; readonly reorder: boolean }
  /** Forge a RST the receiver accepts (seq = its rcv_nxt, plus `seqOffset` mod 2^32 for tests of RFC 5961). */
  | { readonly kind: 'rst'; readonly to: Endpoint | 'both'; readonly instead: boolean; readonly seqOffset: number }
  /** Hold a pure ACK of a FIN; if the same sender's FIN follows within the window it carries the ACK alone. */
  | { readonly kind: 'coalesce'; readonly windowMs: number }
  | { readonly kind: 'duplicate' }
  /** Interactive breakpoint: wait at tcpmitm until released by hand. */
  | { readonly kind: 'hold' }
  /** Drop this and every later segment of the connection, both ways. */
  | { readonly kind: 'blackhole' }
  /** Hold this FIN until the peer's FIN is captured, then deliver both (FINs cross: simultaneous close). */
  | { readonly kind: 'await-peer-fin'; readonly timeoutMs: number }
  /** Remember a copy and re-send it into the same direction `afterMs` later, in this connection or the next one on its 4-tuple (once established); `instead` drops the original. */
  | { readonly kind: 'replay'; readonly afterMs: number; readonly into: 'same-conn' | 'next-conn'; readonly instead: boolean }
  /** Forge a SYN to `to` as if from its peer, seq = its rcv_nxt + `seqOffset` (mod 2^32), no options. */
  | { readonly kind: 'forge'; readonly to: Endpoint; readonly flags: 'SYN'; readonly seqOffset: number; readonly instead: boolean }
  /** Signal one end's program (cues.ts); the segment waits until it is delivered, then `then` applies. */
  | { readonly kind: 'signal'; readonly to: Endpoint; readonly name: string; readonly then: 'pass' | 'drop' };

/** What a rule sees of a segment. */
export interface MatchContext {
  /** 1-based connection id. */
  readonly conn: number;
  readonly from: Endpoint;
  readonly role: Role;
  readonly flags: number;
  readonly senderState: TcpState;
  readonly receiverState: TcpState;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payloadLength: number;
  /** Payload bytes the sender has sent on this connection, this segment included. */
  readonly senderBytes: number;
}

export interface Decision {
  /** 1-based index of the rule that matched; absent when none did. */
  readonly rule?: number;
  readonly plan: Plan;
  /** The rule's name or a description of its match, for logs ("last-ack from client"). */
  readonly label?: string;
}

/** A compiled profile. `decide` runs for every TCP segment: keep it allocation-free when nothing matches. */
export interface Decider {
  /** `ctx` is valid during the call only: the engine fills one object for every segment (keep what you need, not it). */
  decide(ctx: MatchContext): Decision;
  /** The profile's time triggers (rules with `at`): they fire at a time, never on a segment. */
  readonly triggers?: readonly TimeTrigger[];
  /** The connection is gone: free per-connection counters. */
  forget(conn: number): void;
}

export const PASS: Decision = Object.freeze({ plan: Object.freeze({ kind: 'pass' }) });

/** The decider of the passthrough profile and of "no profile". */
export const passAll: Decider = { decide: () => PASS, forget: () => undefined };
