// The one typed event stream every consumer reads: the text log, the JSONL
// writer, the terminal UI, the pcapng writer and the expectation checker.
// None of them reaches into the engine. docs/events.md documents the JSON form;
// change both together, scripts depend on it.

import { peerOf, type Endpoint, type TcpState } from '../tcp/state.js';
import type { Role } from '../tcp/role.js';
import type { ConnectionView, EndpointView, StateChange } from '../tcp/tracker.js';
import { TcpFlag, flagLetters, type SegmentInfo } from '../tcp/segment.js';
import type { TcpOption } from '../packet/tcp.js';
import { tcpdumpOptions } from '../tcp/tcpdump-options.js';

/** Which way a segment travels through tcpmitm. */
export type Direction = 'c2s' | 's2c';

/** Where a state came from: the tracker's inference or the kernel probe. */
export type StateSource = 'inferred' | 'kernel';

/** What tcpmitm did with a captured segment. */
export type Verdict =
  | 'pass'
  | 'drop'
  | 'delay'
  | 'hold'
  | 'coalesce'
  | 'duplicate'
  | 'forged'
  /** A copy of an earlier segment, re-sent by a replay rule (its `conn` is the connection it went into). */
  | 'replay';

// Every event's `t` is seconds since the run started (millisecond resolution).

/** How tcpmitm sits on the path: inline (lab, attach, intercept: it decides each segment's fate) or beside it (tap: it watches, and can only forge RSTs). */
export type RunMode = 'lab' | 'attach' | 'tap' | 'intercept';

export interface StartEvent {
  readonly type: 'start';
  readonly t: number;
  readonly mode: RunMode;
  readonly lab?: string;
  readonly profile?: string;
  /** Lab only: the sysctls set in the end namespaces for this run, as the kernel reads them back. */
  readonly sysctls?: { readonly client: Readonly<Record<string, string>>; readonly server: Readonly<Record<string, string>> };
  /** Wall-clock start, ISO 8601, so `t` can be placed in time. */
  readonly wall: string;
}

export interface ConnectionEvent {
  readonly type: 'connection';
  readonly t: number;
  readonly conn: number;
  /** "198.18.0.1:43210" or "[2001:2::1]:43210". */
  readonly client: string;
  readonly server: string;
  /** True when first seen mid-stream (no SYN): states before are unknown. */
  readonly pickedUp: boolean;
}

export interface SegmentEvent {
  readonly type: 'segment';
  readonly t: number;
  readonly conn: number;
  readonly dir: Direction;
  /** The endpoint that sent it (for forged segments: the one it pretends to come from). */
  readonly from: Endpoint;
  /** Flags as letters: S, SA, A, PA, FA, R, RA… */
  readonly flags: string;
  /** Relative to the sender's ISN when known, else absolute. */
  readonly seq: number;
  readonly ack: number;
  readonly len: number;
  readonly win: number;
  readonly role: Role;
  readonly verdict: Verdict;
  /** On a SYN or SYN-ACK only: the sender's initial sequence number, absolute (to print absolute numbers, tcpdump's -S). */
  readonly isn?: number;
  /** With --tcp-options: the TCP options as tcpdump prints them ("mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7"; SACK edges relative). */
  readonly options?: string;
  /** 1-based index of the rule that decided, if any. */
  readonly rule?: number;
  /** Extra words for the verdict: "200 ms", "coalesced into FIN", "to server". */
  readonly detail?: string;
  /** The verdict carries out a command given by hand: its id (ControlCommand's `hand`). */
  readonly hand?: number;
}

/** drop: dropped (also by hand or blackhole); release: a held or delayed segment went on; rst: a forged RST; coalesce: an ACK merged into a FIN; signal: a signal sent to a program (a profile's signal action); replay: a remembered segment re-sent, or given up at the end of the run; forge: a forged segment other than a RST (a SYN). */
export type ActionKind = 'drop' | 'release' | 'rst' | 'coalesce' | 'signal' | 'replay' | 'forge';

export interface ActionEvent {
  readonly type: 'action';
  readonly t: number;
  /** 0 for what concerns no connection (a signal on a time trigger since the run). */
  readonly conn: number;
  readonly rule?: number;
  /** What happened beyond the segment's own verdict (delays, duplicates and holds are verdicts of `segment` events). */
  readonly action: ActionKind;
  /** Human-readable: "dropped last-ack from client", "forged RST to server seq=1234". */
  readonly detail: string;
}

export interface StateEvent {
  readonly type: 'state';
  readonly t: number;
  readonly conn: number;
  readonly endpoint: Endpoint;
  readonly from: TcpState;
  readonly to: TcpState;
  readonly source: StateSource;
  /** What caused it: "sent FIN seq=101", "delivered ACK ack=102", "timer 2MSL". */
  readonly cause?: string;
}

export interface DisagreementEvent {
  readonly type: 'disagreement';
  readonly t: number;
  readonly conn: number;
  readonly endpoint: Endpoint;
  readonly inferred: TcpState;
  readonly kernel: TcpState;
  /** How long they have disagreed, in ms. */
  readonly forMs: number;
}

/**
 * Both views reached the same state, at times further apart than the grace,
 * for a reason the kernel's own behaviour explains (never a disagreement):
 * close() queued the FIN behind unsent data (the kernel moves at close(), the
 * wire when the FIN leaves); a kernel timer fired late by its wheel slack.
 */
export interface LagEvent {
  readonly type: 'lag';
  readonly t: number;
  readonly conn: number;
  readonly endpoint: Endpoint;
  /** The state both reached. */
  readonly state: TcpState;
  /** When the kernel reached it (s). */
  readonly kernelT: number;
  /** When tcpmitm's inference reached it (s). */
  readonly inferredT: number;
  /** |kernelT − inferredT| in ms. */
  readonly ms: number;
  readonly reason: string;
}

export interface AppEvent {
  readonly type: 'app';
  readonly t: number;
  readonly endpoint: Endpoint;
  /** What the application's socket saw: "connected", "eof", "ECONNRESET", "EPIPE", "closed", "exit"… */
  readonly event: string;
  readonly detail?: string;
}

/**
 * One check of the run's verdict: a profile expectation, or a peer command's
 * exit. `not-checked`: this run cannot answer it (e.g. `app` events with a
 * custom --client command); it is neither a failure nor a pass.
 */
export type CheckStatus = 'met' | 'failed' | 'not-checked';

export interface ExpectationEvent {
  readonly type: 'expectation';
  readonly t: number;
  readonly status: CheckStatus;
  /** status === 'met' (kept for older scripts: a check not made is not ok). */
  readonly ok: boolean;
  /** "client states (kernel)", "server app", "client exit": what was checked. */
  readonly subject: string;
  readonly expected: string;
  /** What the run showed; for `not-checked`, why it could not be checked. */
  readonly observed: string;
}

/** A --client/--server command (or built-in peer) has ended. */
export interface ExitEvent {
  readonly type: 'exit';
  readonly t: number;
  readonly endpoint: Endpoint;
  /** What ran: the command as given, or "built-in client" / "built-in server". */
  readonly command: string;
  /** Its exit status, when it exited (126/127: the shell could not start it). */
  readonly code?: number;
  /** The signal that ended it, without "SIG" ("TERM", "KILL"), when one did. */
  readonly signal?: string;
  /**
   * `self`: it ended by itself (or by a signal tcpmitm did not send);
   * `tcpmitm`: stopped at the end of the run; `cue`: ended by the signal a
   * profile rule had tcpmitm send (`rule`).
   */
  readonly by: 'self' | 'tcpmitm' | 'cue';
  /** With `by: 'cue'`: the rule (1-based) whose signal ended it. */
  readonly rule?: number;
  /** Set when it never ran: the shell's own message ("sh: 1: nosuchclient: not found"). */
  readonly notStarted?: string;
}

export interface WarningEvent {
  readonly type: 'warning';
  readonly t: number;
  readonly message: string;
}

export interface StatsEvent {
  readonly type: 'stats';
  readonly t: number;
  readonly frames: number;
  readonly bytes: number;
  /** Undecodable frames, forwarded untouched. */
  readonly malformed: number;
  /** Frames that are not TCP (ARP, ICMP, ND…), forwarded untouched. */
  readonly nonTcp: number;
  readonly dropped: number;
  readonly delayed: number;
  readonly forged: number;
  readonly coalesced: number;
  readonly held: number;
  readonly duplicated: number;
  /** Copies of earlier segments re-sent by replay rules (absent: tap, which replays nothing). */
  readonly replayed?: number;
  /** Segments replay rules matched but never re-sent: no room for more, or the run ended before their time or their next connection. */
  readonly replayUnused?: number;
  /** Frames captured short of their end (intercept: packets over the 65 531 bytes a netfilter queue copies), tracked exactly, passed whole, never copied. */
  readonly partial?: number;
  /** Connection records held now (at most --max-connections). */
  readonly tracked: number;
  /** Records evicted to make room for new ones, by kind: handshake not completed, picked up mid-stream, finished (CLOSED/TIME-WAIT). */
  readonly evictedHalfOpen: number;
  readonly evictedPickedUp: number;
  readonly evictedClosed: number;
  /** Records forgotten after their idle timeout. */
  readonly expired: number;
  /** Segments passed untouched and untracked: they would have started a record while the table was full of records that may not be evicted. */
  readonly untracked: number;
  /** lab and attach: frames an interface refused to send (EMSGSIZE: larger than its MTU, made by offloads at a far end). */
  readonly unsent?: number;
  /** lab and attach: captured TCP segments whose checksum did not verify (a far end's checksum offload), forwarded as they were. */
  readonly badChecksum?: number;
}

export interface EndEvent {
  readonly type: 'end';
  readonly t: number;
  readonly reason: string;
  readonly exitCode: number;
}

export type TcpmitmEvent =
  | StartEvent
  | ConnectionEvent
  | SegmentEvent
  | ActionEvent
  | StateEvent
  | DisagreementEvent
  | LagEvent
  | AppEvent
  | ExpectationEvent
  | ExitEvent
  | WarningEvent
  | StatsEvent
  | EndEvent;

export type EventType = TcpmitmEvent['type'];

/** Event time `t`: seconds since `start`, at millisecond resolution (both on the engine clock, ms). */
export function eventTime(now: number, start: number): number {
  return Math.round(now - start) / 1000;
}

/** The event for a change the tracker inferred; `cause` may be reworded (tap mode says "observed"). */
export function inferredStateEvent(ch: StateChange, start: number, cause: string = ch.cause): StateEvent {
  return { type: 'state', t: eventTime(ch.t, start), conn: ch.conn, endpoint: ch.endpoint, from: ch.from, to: ch.to, source: 'inferred', cause };
}

// ── segment events, as every mode builds them (engine.ts, tap/core.ts) ──

/** What a segment event is made of: the segment, its connection as the tracker sees it now, and what tcpmitm did. */
export interface SegmentEventInput {
  readonly t: number;
  readonly conn: number;
  readonly from: Endpoint;
  readonly seg: SegmentInfo;
  /** The connection's record, if the tracker has it: numbers are relative to its ends' ISNs. */
  readonly view: ConnectionView | undefined;
  readonly role: Role;
  readonly verdict: Verdict;
  readonly rule?: number;
  readonly detail?: string;
  /** The id of the command given by hand this verdict carries out (SegmentEvent.hand). */
  readonly hand?: number;
  /** With --tcp-options: the segment's options, decoded (printed as tcpdump does, SACK edges relative to the receiver's ISN: what they acknowledge). */
  readonly options?: readonly TcpOption[];
}

export function segmentEvent(i: SegmentEventInput): SegmentEvent {
  const s = i.seg;
  const sender = i.view ? endOf(i.view, i.from) : undefined;
  const receiver = i.view ? endOf(i.view, peerOf(i.from)) : undefined;
  const ev: { -readonly [K in keyof SegmentEvent]: SegmentEvent[K] } = {
    type: 'segment',
    t: i.t,
    conn: i.conn,
    dir: i.from === 'client' ? 'c2s' : 's2c',
    from: i.from,
    flags: flagLetters(s.flags),
    seq: rel(s.seq, sender?.isn),
    ack: s.flags & TcpFlag.ACK ? rel(s.ack, receiver?.isn) : 0,
    len: s.payloadLength,
    win: s.window,
    role: i.role,
    verdict: i.verdict,
  };
  // The sender's ISN, absolute, on the segment that chose it: enough for a
  // reader to print absolute numbers (tcpdump -S) from the relative ones.
  if (s.flags & TcpFlag.SYN && sender?.isn !== undefined) ev.isn = sender.isn;
  if (i.options !== undefined) {
    const options = tcpdumpOptions(i.options, receiver?.isn);
    if (options !== '') ev.options = options;
  }
  if (i.rule !== undefined) ev.rule = i.rule;
  if (i.detail !== undefined) ev.detail = i.detail;
  if (i.hand !== undefined) ev.hand = i.hand;
  return ev;
}

/** A forged RST's seq as the run's numbers go: relative to the ISN of the end it pretends to come from, when known. */
export function forgedRstSeq(view: ConnectionView | undefined, from: Endpoint, seq: number): number {
  const isn = view ? endOf(view, from).isn : undefined;
  return rel(seq, isn);
}

/** Why a segment cannot be forged to `target`: a closed end (or a listener) has no connection left, else its numbers are missing. */
export function cannotForgeWarning(kind: 'RST' | 'SYN', target: Endpoint, conn: number, view: ConnectionView | undefined): string {
  const state = view ? endOf(view, target).state : undefined;
  // Saying a closed end's numbers are "not known yet" would promise they may be later.
  const reason = state === 'CLOSED' || state === 'LISTEN' ? `it is ${state}, there is no connection left to reset` : 'its sequence numbers are not known yet';
  return `cannot forge a ${kind} to the ${target} of #${conn}: ${reason}`;
}

function endOf(conn: ConnectionView, e: Endpoint): EndpointView {
  return e === 'client' ? conn.clientEnd : conn.serverEnd;
}

function rel(v: number, base: number | undefined): number {
  return base === undefined ? v : (v - base) >>> 0;
}
