// Executes what the engine asks for: the one module where frames really go
// out, timers really fire and events really fan out. It owns the clock
// (performance.now, ms) and a single setTimeout for the engine's earliest deadline.

import { performance } from 'node:perf_hooks';
import { Engine, type EngineOptions, type EngineStatsWithTable, type Port } from './engine.js';
import { EventBus } from './event-bus.js';
import type { FrameHandler, FramePort, PortErrorHandler, RefusedFrame } from '../io/packet-port.js';
import { loadAfPacket } from '../io/afpacket-addon.js';
import { farEndOf, mtuOf } from '../io/far-end.js';
import { Unforwardable, type UnforwardableCounts } from './unforwardable.js';
import type { ControlCommand } from './control.js';
import type { Decider } from './plan.js';
import { WakeTimer } from './wake-timer.js';
import { preciseAlarm } from '../io/precise-alarm.js';
import { eventTime } from './events.js';
import type { Endpoint } from '../tcp/state.js';
import type { SignalDelivery, SignalRequest } from './cues.js';
import { ForwardingPressure } from './forwarding-pressure.js';

/** Where a profile's signals go: the programs of a lab run (lab/lab-programs.ts). */
export type SignalSender = (req: SignalRequest) => SignalDelivery;

export type PortOpener = (onFrame: FrameHandler, onError: PortErrorHandler) => FramePort;

/** Sees every captured frame around the engine's decision on it, and every frame sent (the pcapng writer). */
export interface FrameTap {
  /** `missing`: the frame's last bytes the capture did not have (see FrameHandler). */
  beginCaptured(port: Port, frame: Buffer, missing?: number): void;
  endCaptured(): void;
  sent(port: Port, frame: Buffer): void;
  /** A frame that arrived on `port` and will never be sent (dropped, coalesced away). */
  dropped?(port: Port, frame: Buffer): void;
}

export interface RuntimeOptions extends Omit<EngineOptions, 'out' | 'start'> {
  /** Opens the client-side port (a) and the server-side port (b). */
  readonly openA: PortOpener;
  readonly openB: PortOpener;
  /** The interfaces of ports a and b, for messages about frames they cannot forward. */
  readonly devs: Readonly<Record<Port, string>>;
  readonly tap?: FrameTap;
}

export class Runtime {
  readonly bus: EventBus;
  readonly engine: Engine;
  readonly start: number;
  private readonly ports: Record<Port, FramePort>;
  private readonly wake = new WakeTimer((now) => this.engine.onTimer(now), preciseAlarm);
  private portErrors = 0;
  /** Frames that cannot cross as the ends meant them: counted, explained once each. */
  readonly unforwardable: Unforwardable;
  private readonly tap: FrameTap | undefined;
  private closed = false;
  private signals: SignalSender | undefined;
  private readonly pressure = new ForwardingPressure();

  constructor(opts: RuntimeOptions) {
    this.start = performance.now();
    this.bus = new EventBus(() => this.elapsed());
    this.unforwardable = new Unforwardable(
      opts.devs,
      { farEnd: farEndOf, mtu: mtuOf },
      (message) => this.bus.emit({ type: 'warning', t: this.elapsed(), message }),
      (errno) => loadAfPacket().strerror(errno),
    );
    this.engine = new Engine({
      ...opts,
      start: this.start,
      out: {
        send: (port, frame, ticket) => this.send(port, frame, ticket),
        discard: (port, ticket) => this.ports[port].discard?.(ticket),
        dropped: opts.tap?.dropped ? (port, frame) => opts.tap!.dropped!(port, frame) : undefined,
        wakeAt: (t) => this.wake.set(t),
        emit: this.bus.emit,
        wantsPassSegments: this.bus.wantsPassSegments,
        badChecksum: (port, leftToDevice) => this.unforwardable.badChecksum(port, leftToDevice),
        signal: (req) => this.signals?.(req) ?? { sent: false, reason: 'this run has no programs of its own' },
      },
    });
    this.tap = opts.tap;
    // A frame's time is when the kernel received it (its age is known to the
    // port): a delay then counts from its arrival at tcpmitm.
    const onFrame = (port: Port): FrameHandler =>
      this.tap
        ? (f, ageMs, ticket, missing) => {
            const now = performance.now();
            this.pressure.noteFrame(ageMs, now);
            this.tap!.beginCaptured(port, f, missing);
            this.engine.onFrame(port, f, now - ageMs, ticket, missing);
            this.tap!.endCaptured();
          }
        : (f, ageMs, ticket, missing) => {
            const now = performance.now();
            this.pressure.noteFrame(ageMs, now);
            this.engine.onFrame(port, f, now - ageMs, ticket, missing);
          };
    const onPortError = (port: Port) => (message: string, refused?: RefusedFrame) =>
      refused ? this.unforwardable.refused(port, refused.length, refused.errno) : this.warn(message);
    const a = opts.openA(onFrame('a'), onPortError('a'));
    let b: FramePort;
    try {
      b = opts.openB(onFrame('b'), onPortError('b'));
    } catch (err) {
      a.close();
      throw err;
    }
    this.ports = { a, b };
  }

  /** The engine's counters and the unforwardable frames', as the stats event carries them. */
  stats(): EngineStatsWithTable & UnforwardableCounts {
    return { ...this.engine.stats, ...this.unforwardable.counts };
  }

  /** Seconds since the run started, as event times are written. */
  elapsed(): number {
    return eventTime(performance.now(), this.start);
  }

  /** Whether frames were lately handled well after the kernel received them (see ForwardingPressure): observers should wait. */
  behind(): boolean {
    return this.pressure.behind(performance.now());
  }

  control(cmd: ControlCommand): void {
    if (!this.closed) this.engine.onControl(cmd, performance.now());
  }

  /** The kernel made an endpoint's socket an orphan at `t` (s since the start): see Engine.kernelOrphaned. */
  kernelOrphaned(conn: number, endpoint: Endpoint, t: number): void {
    if (!this.closed) this.engine.kernelOrphaned(conn, endpoint, t);
  }

  /** Where the profile's signals go (the lab's programs, once they are started). */
  setSignalSender(send: SignalSender): void {
    this.signals = send;
  }

  /** A signal the engine asked for has taken effect: see Engine.onSignalSettled. */
  signalSettled(id: number, what: string): void {
    if (!this.closed) this.engine.onSignalSettled(id, what, performance.now());
  }

  setDecider(d: Decider): void {
    this.engine.setDecider(d);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake.stop();
    this.ports.a.close();
    this.ports.b.close();
    // Remembered replays not re-sent are freed and reported, before the last stats.
    this.engine.finish(performance.now());
  }

  private send(port: Port, frame: Buffer, ticket: number | undefined): void {
    if (this.closed) return;
    this.tap?.sent(port, frame);
    this.ports[port].send(frame, ticket);
  }

  /** A port's trouble (frames the kernel dropped, an interface gone) is reported, not fatal; the first ten, not a flood. */
  private warn(message: string): void {
    if (this.portErrors++ < 10) this.bus.emit({ type: 'warning', t: this.elapsed(), message });
  }

}
