// The wire between a run and its terminal UI when the UI runs in a child
// process (src/ui/process.ts ⇄ src/ui/child-main.ts): the messages, their
// checks, the parent's event batcher and the child's copy of the run's clock.
// No I/O here: timers and clocks come in as parameters.

import type { ControlCommand } from '../engine/control.js';
import type { Direction, RunMode, SegmentEvent, TcpmitmEvent, Verdict } from '../engine/events.js';
import type { Role } from '../tcp/role.js';
import type { QuitHow } from './keys.js';
import type { TimerSettings } from './timers.js';
import type { KernelSocketTimer, WatchedSocket } from '../io/kernel-timers.js';

/** Environment variable carrying the child's start options (JSON). */
export const UI_INIT_ENV = 'TCPMITM_UI_INIT';

/**
 * The UI process's niceness. It is for a person's eyes: when the CPUs are
 * contended (the forwarder, the endpoints and softirq share few cores), it is
 * the one that should wait; a frame drawn a few ms late costs nothing.
 */
export const UI_NICE = 19;

/** How long the parent gathers events before it sends them as one message. */
export const BATCH_INTERVAL_MS = 50;

/**
 * Under load (a batch of at least BUSY_BATCH_EVENTS, i.e. ≥ 10 000 events/s)
 * the parent sends every BUSY_INTERVAL_MS instead: the child draws about one
 * frame per batch, and a frame of ink at 120×40 costs ~20 ms of CPU that, on a
 * machine of two cores, the forwarder and the endpoints need (the bench: with
 * the UI rendering at 15 frames/s during bulk, 0.75× the throughput without;
 * keys still answer at once, they do not wait for events).
 */
export const BUSY_BATCH_EVENTS = 500;
export const BUSY_INTERVAL_MS = 250;

/**
 * At most this many plain segments (data or pure ACKs that simply passed: no
 * rule, no detail) of one connection go into one batch; the rest travel as a
 * count and their bytes (a SkippedSegments). A bulk transfer is ~100 000
 * segments a second, a screen shows ~30 ladder rows, and sending every one to
 * the UI process cost the forwarder a fifth of its bulk throughput (bench: UI
 * row 0.81× of the same session without the UI, 1.03× with this). Segments
 * that change a state, or that a rule or tcpmitm acted on, are always sent.
 */
export const PLAIN_SEGMENTS_PER_CONN_PER_BATCH = 100;

/** Plain segments of one connection and direction that were counted, not sent (see above). */
export interface SkippedSegments {
  readonly type: 'skipped';
  /** Time of the last of them. */
  readonly t: number;
  readonly conn: number;
  readonly dir: Direction;
  readonly count: number;
  /** Their payload bytes. */
  readonly bytes: number;
}

/**
 * The kernel's timers of the sockets the UI asked for (a `watch`), as one
 * read found them: for the UI alone (they are sampled, not events of the
 * run, and go to no log).
 */
export interface KernelTimersRead {
  readonly type: 'kernel-timers';
  /** When they were read (run clock). */
  readonly t: number;
  readonly sockets: readonly KernelSocketTimer[];
}

/** What the UI is fed: the run's events, the counts of segments it was not sent, and the kernel's timers. */
export type UiEvent = TcpmitmEvent | SkippedSegments | KernelTimersRead;

/** What the child needs before its first frame; passed in the environment, not over IPC (see child-main.ts). */
export interface UiInit {
  readonly labId?: string;
  readonly mode?: RunMode;
  /** The inference's timer settings (ms), for the timers line. */
  readonly timers?: TimerSettings;
  readonly profileName?: string;
  readonly profileNames: readonly string[];
  /** The parent's `elapsed()` at spawn time, seconds. */
  readonly elapsed: number;
  /** Colour override; absent: the child reads NO_COLOR itself. */
  readonly color?: boolean;
}

// Segment events are nearly all of the stream under load (one per frame). The
// parent writes each one's fields straight into a column of numbers (strings
// by index into a per-batch table) instead of keeping the object: nothing
// survives the young generation, and a batch crosses IPC as one binary array
// (serialization 'advanced') rather than as JSON built per event. Measured on
// the bench: keeping the objects and sending them as JSON cost the forwarder
// about a fifth of its bulk throughput; this costs a few stores per event.

/** Numbers per segment in `WireBatch.segs`; the offsets are the S_* constants. */
export const SEG_FIELDS = 13;
const S_T = 0;
const S_CONN = 1;
const S_SEQ = 2;
const S_ACK = 3;
const S_LEN = 4;
const S_WIN = 5;
/** -1: no rule (rules are 1-based). */
const S_RULE = 6;
const S_FLAGS = 7;
const S_ROLE = 8;
const S_VERDICT = 9;
/** -1: no detail. */
const S_DETAIL = 10;
/** Bit 0: dir s2c; bit 1: from server. */
const S_BITS = 11;
/** -1: no options (the run shows them only with --tcp-options). */
const S_OPTIONS = 12;

/** One batch of events in bus order, as it crosses IPC. */
export interface WireBatch {
  /** SEG_FIELDS numbers per segment event, in order. */
  readonly segs: Float64Array;
  /** The strings the segment columns refer to by index. */
  readonly strings: readonly string[];
  /** Every other event, with the number of segment events that came before it in the batch. */
  readonly others: readonly (readonly [number, UiEvent])[];
}

/** Builds one WireBatch at a time; `add` runs for every event on the forwarding path. */
export class BatchBuilder {
  private segs = new Float64Array(1024 * SEG_FIELDS);
  private n = 0;
  private strings: string[] = [];
  private index = new Map<string, number>();
  private others: [number, UiEvent][] = [];
  /** Plain segments sent in this batch, per connection. */
  private plainSent = new Map<number, number>();
  /** Plain segments counted instead, per connection × 2 + (s2c ? 1 : 0). */
  private skipped = new Map<number, { t: number; count: number; bytes: number }>();
  private skippedCount = 0;

  /** Events in the batch being built (counted segments included). */
  get size(): number {
    return this.n + this.others.length + this.skippedCount;
  }

  add(ev: UiEvent): void {
    // A SYN carrying its ISN (rare) travels whole: the columns have no room for it.
    if (ev.type !== 'segment' || ev.isn !== undefined) {
      this.others.push([this.n, ev]);
      return;
    }
    if (isPlain(ev)) {
      const sent = this.plainSent.get(ev.conn) ?? 0;
      if (sent >= PLAIN_SEGMENTS_PER_CONN_PER_BATCH) {
        const key = ev.conn * 2 + (ev.dir === 's2c' ? 1 : 0);
        const tally = this.skipped.get(key);
        if (tally) {
          tally.t = ev.t;
          tally.count++;
          tally.bytes += ev.len;
        } else {
          this.skipped.set(key, { t: ev.t, count: 1, bytes: ev.len });
        }
        this.skippedCount++;
        return;
      }
      this.plainSent.set(ev.conn, sent + 1);
    }
    const o = this.n * SEG_FIELDS;
    if (o + SEG_FIELDS > this.segs.length) {
      const bigger = new Float64Array(this.segs.length * 2);
      bigger.set(this.segs);
      this.segs = bigger;
    }
    const a = this.segs;
    a[o + S_T] = ev.t;
    a[o + S_CONN] = ev.conn;
    a[o + S_SEQ] = ev.seq;
    a[o + S_ACK] = ev.ack;
    a[o + S_LEN] = ev.len;
    a[o + S_WIN] = ev.win;
    a[o + S_RULE] = ev.rule ?? -1;
    a[o + S_FLAGS] = this.intern(ev.flags);
    a[o + S_ROLE] = this.intern(ev.role);
    a[o + S_VERDICT] = this.intern(ev.verdict);
    a[o + S_DETAIL] = ev.detail === undefined ? -1 : this.intern(ev.detail);
    a[o + S_BITS] = (ev.dir === 's2c' ? 1 : 0) | (ev.from === 'server' ? 2 : 0);
    a[o + S_OPTIONS] = ev.options === undefined ? -1 : this.intern(ev.options);
    this.n++;
  }

  /** The batch so far (its columns copied to their used length); the builder starts a new one. */
  take(): WireBatch {
    // The counts go last: they stand for segments spread over the whole batch.
    for (const [key, s] of this.skipped) {
      this.others.push([this.n, { type: 'skipped', t: s.t, conn: key >> 1, dir: key & 1 ? 's2c' : 'c2s', count: s.count, bytes: s.bytes }]);
    }
    const batch: WireBatch = { segs: this.segs.slice(0, this.n * SEG_FIELDS), strings: this.strings, others: this.others };
    this.n = 0;
    this.strings = [];
    this.index.clear();
    this.others = [];
    this.plainSent.clear();
    this.skipped.clear();
    this.skippedCount = 0;
    return batch;
  }

  private intern(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

/** A segment that passed untouched and changes no state by its role: one of a stream. */
function isPlain(ev: SegmentEvent): boolean {
  return ev.verdict === 'pass' && ev.rule === undefined && ev.detail === undefined && (ev.role === 'data' || ev.role === 'ack');
}

/** Hands every event of a batch to `fn`, in the order they were added. */
export function decodeBatch(batch: WireBatch, fn: (ev: UiEvent) => void): void {
  const { segs, strings, others } = batch;
  const n = segs.length / SEG_FIELDS;
  let k = 0;
  for (let i = 0; i < n; i++) {
    while (k < others.length && others[k]![0] <= i) fn(others[k++]![1]);
    const o = i * SEG_FIELDS;
    const bits = segs[o + S_BITS]!;
    const rule = segs[o + S_RULE]!;
    const detail = segs[o + S_DETAIL]!;
    const options = segs[o + S_OPTIONS]!;
    const ev: { -readonly [K in keyof SegmentEvent]: SegmentEvent[K] } = {
      type: 'segment',
      t: segs[o + S_T]!,
      conn: segs[o + S_CONN]!,
      dir: bits & 1 ? 's2c' : 'c2s',
      from: bits & 2 ? 'server' : 'client',
      flags: strings[segs[o + S_FLAGS]!]!,
      seq: segs[o + S_SEQ]!,
      ack: segs[o + S_ACK]!,
      len: segs[o + S_LEN]!,
      win: segs[o + S_WIN]!,
      role: strings[segs[o + S_ROLE]!] as Role,
      verdict: strings[segs[o + S_VERDICT]!] as Verdict,
    };
    if (rule >= 0) ev.rule = rule;
    if (detail >= 0) ev.detail = strings[detail]!;
    if (options >= 0) ev.options = strings[options]!;
    fn(ev);
  }
  while (k < others.length) fn(others[k++]![1]);
}

/** Parent → child, over IPC with serialization 'advanced' (the columns are a Float64Array). Every message carries the parent's `elapsed()` when it was sent, to keep the child's clock in step. */
export type ToChild =
  /** Events in bus order. */
  | { readonly kind: 'events'; readonly elapsed: number; readonly batch: WireBatch }
  /** The last events, then: draw the final frame and exit. */
  | { readonly kind: 'close'; readonly elapsed: number; readonly batch: WireBatch };

/** Child → parent. */
export type ToParent =
  /** The child listens for messages: the parent may send (a message before that could be lost). */
  | { readonly kind: 'ready' }
  /** The first frame is on the terminal: the run may start its traffic. */
  | { readonly kind: 'shown' }
  /** A key became an engine command. */
  | { readonly kind: 'send'; readonly cmd: ControlCommand }
  /** End the run: q (`quit`), or Ctrl-C as a key in raw mode, SIGINT/SIGTERM or a hang-up of the UI (`interrupt`). */
  | { readonly kind: 'quit'; readonly how: QuitHow }
  /** The sockets whose kernel timers the UI shows now (none: it shows none). */
  | { readonly kind: 'watch'; readonly sockets: readonly WatchedSocket[] };

const COMMAND_KINDS: ReadonlySet<string> = new Set<ControlCommand['kind']>([
  'rst',
  'drop-next',
  'delay-next-fin',
  'hold-mode',
  'release-first',
  'drop-first-held',
  'release-all',
  'set-profile',
]);

const RUN_MODES: readonly RunMode[] = ['lab', 'attach', 'tap', 'intercept'];

function isTimerSettings(x: unknown): boolean {
  const ms = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  return isObject(x) && ms(x.timeWaitMs) && isObject(x.finTimeoutMs) && ms(x.finTimeoutMs.client) && ms(x.finTimeoutMs.server);
}

function isWatchedSocket(x: unknown): boolean {
  return isObject(x) && typeof x.conn === 'number' && (x.endpoint === 'client' || x.endpoint === 'server') && typeof x.local === 'string' && typeof x.remote === 'string';
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function encodeInit(init: UiInit): string {
  return JSON.stringify(init);
}

/** The child's start options, or an error message naming what is wrong. */
export function decodeInit(text: string | undefined): { ok: true; value: UiInit } | { ok: false; error: string } {
  if (text === undefined || text === '') return { ok: false, error: `${UI_INIT_ENV} is not set: this process is started by the UI parent, not by hand` };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `${UI_INIT_ENV} is not JSON: ${(err as Error).message}` };
  }
  if (!isObject(v)) return { ok: false, error: `${UI_INIT_ENV} is not an object` };
  if (!Array.isArray(v.profileNames) || !v.profileNames.every((n) => typeof n === 'string')) {
    return { ok: false, error: `${UI_INIT_ENV}.profileNames must be a list of strings` };
  }
  if (typeof v.elapsed !== 'number' || !Number.isFinite(v.elapsed)) return { ok: false, error: `${UI_INIT_ENV}.elapsed must be a number` };
  for (const k of ['labId', 'profileName'] as const) {
    if (v[k] !== undefined && typeof v[k] !== 'string') return { ok: false, error: `${UI_INIT_ENV}.${k} must be a string` };
  }
  if (v.color !== undefined && typeof v.color !== 'boolean') return { ok: false, error: `${UI_INIT_ENV}.color must be a boolean` };
  if (v.timers !== undefined && !isTimerSettings(v.timers)) return { ok: false, error: `${UI_INIT_ENV}.timers must be { timeWaitMs, finTimeoutMs: { client, server } } in ms` };
  if (v.mode !== undefined && !RUN_MODES.includes(v.mode as RunMode)) return { ok: false, error: `${UI_INIT_ENV}.mode must be one of ${RUN_MODES.join(', ')}` };
  return {
    ok: true,
    value: {
      profileNames: v.profileNames as string[],
      elapsed: v.elapsed,
      ...(typeof v.labId === 'string' ? { labId: v.labId } : {}),
      ...(typeof v.profileName === 'string' ? { profileName: v.profileName } : {}),
      ...(typeof v.color === 'boolean' ? { color: v.color } : {}),
      ...(typeof v.mode === 'string' ? { mode: v.mode as RunMode } : {}),
      ...(v.timers !== undefined ? { timers: v.timers as TimerSettings } : {}),
    },
  };
}

/**
 * A message from the parent, or undefined when it is not one of ours. The
 * events themselves are not re-validated: they come from our own bus, and
 * checking each would cost the child per event what batching saved.
 */
export function decodeToChild(msg: unknown): ToChild | undefined {
  if (!isObject(msg) || typeof msg.elapsed !== 'number' || !isObject(msg.batch)) return undefined;
  const b = msg.batch;
  if (!(b.segs instanceof Float64Array) || b.segs.length % SEG_FIELDS !== 0 || !Array.isArray(b.strings) || !Array.isArray(b.others)) return undefined;
  if (msg.kind === 'events' || msg.kind === 'close') return msg as unknown as ToChild;
  return undefined;
}

/** A message from the child, or undefined when it is not one of ours (an unknown command kind included). */
export function decodeToParent(msg: unknown): ToParent | undefined {
  if (!isObject(msg)) return undefined;
  if (msg.kind === 'ready') return { kind: 'ready' };
  if (msg.kind === 'shown') return { kind: 'shown' };
  // An older or confused child that does not say how counts as an interrupt: the run must not claim it ended by itself.
  if (msg.kind === 'quit') return { kind: 'quit', how: msg.how === 'quit' ? 'quit' : 'interrupt' };
  if (msg.kind === 'watch' && Array.isArray(msg.sockets) && msg.sockets.every(isWatchedSocket)) return { kind: 'watch', sockets: msg.sockets as WatchedSocket[] };
  if (msg.kind === 'send' && isObject(msg.cmd) && typeof msg.cmd.kind === 'string' && COMMAND_KINDS.has(msg.cmd.kind)) {
    return { kind: 'send', cmd: msg.cmd as unknown as ControlCommand };
  }
  return undefined;
}

export interface BatchTimer {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Gathers events and hands them on as one batch every `intervalMs`. `push`
 * runs on the forwarding path for every event, so it only appends to the
 * batch's columns (and arms a timer for the first event of a batch). At most one batch is in flight: the
 * next one waits for `done` of the previous, growing meanwhile, so a child
 * that reads slowly costs the parent one bigger batch, not a queue of messages.
 */
export class EventBatcher {
  private readonly pending = new BatchBuilder();
  private timer: unknown;
  private inFlight = false;
  private disposed = false;

  constructor(
    /** Sends one batch; calls `done` once it is written (or failed). */
    private readonly deliver: (batch: WireBatch, done: () => void) => void,
    private readonly clock: BatchTimer,
    private readonly intervalMs = BATCH_INTERVAL_MS,
    /** Paused: events gather but nothing is sent until `resume()` (the receiver is not listening yet). */
    private paused = false,
    private readonly busy = { events: BUSY_BATCH_EVENTS, intervalMs: BUSY_INTERVAL_MS },
  ) {}

  /** Size of the last batch sent: it decides the next interval. */
  private lastSize = 0;

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.pending.size > 0 && this.timer === undefined && !this.inFlight && !this.disposed) this.arm();
  }

  /** Events waiting for the next batch. */
  get size(): number {
    return this.pending.size;
  }

  readonly push = (ev: UiEvent): void => {
    this.pending.add(ev);
    if (this.timer === undefined && !this.inFlight && !this.paused && !this.disposed) this.arm();
  };

  /** Takes everything pending (for the final message); the batcher sends nothing more. */
  drain(): WireBatch {
    this.dispose();
    return this.pending.take();
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const ms = this.lastSize >= this.busy.events ? this.busy.intervalMs : this.intervalMs;
    this.timer = this.clock.setTimeout(() => this.fire(), ms);
  }

  private fire(): void {
    this.timer = undefined;
    if (this.disposed || this.pending.size === 0) return;
    this.lastSize = this.pending.size;
    const batch = this.pending.take();
    this.inFlight = true;
    let called = false;
    this.deliver(batch, () => {
      if (called) return;
      called = true;
      this.inFlight = false;
      if (this.pending.size > 0 && !this.disposed && this.timer === undefined) this.arm();
    });
  }
}

/**
 * The parent's `elapsed()` as seen from the child: the child's monotonic clock
 * plus an offset learnt from each message. A message arrives some latency
 * after it was stamped, so each offset underestimates the true one by that
 * latency: the largest offset seen is the best. Never goes backwards.
 */
export class ClockSync {
  private offset = -Infinity;
  private last = -Infinity;

  /** `now`: the child's monotonic clock in milliseconds (performance.now). */
  constructor(private readonly now: () => number) {}

  sync(parentElapsed: number): void {
    const o = parentElapsed - this.now() / 1000;
    if (o > this.offset) this.offset = o;
  }

  /** Seconds, on the parent's clock; 0 before the first sync. */
  elapsed(): number {
    if (this.offset === -Infinity) return 0;
    const t = this.now() / 1000 + this.offset;
    if (t > this.last) this.last = t;
    return this.last;
  }
}
