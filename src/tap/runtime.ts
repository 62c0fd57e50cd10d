// Executes what the tap core asks for: the one place in tap mode with I/O. A
// libpcap handle on the interface with a BPF filter (`tcp`, plus `port P`),
// a raw IP socket to inject forged RSTs (falling back to sending the whole
// frame on the interface if the raw socket refuses), the clock and one timer.

import capModule from 'cap';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { EventBus } from '../engine/event-bus.js';
import type { ControlCommand } from '../engine/control.js';
import type { Decider } from '../engine/plan.js';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { openRawInjector, type IpInjector } from '../io/raw-injector.js';
import type { TapPcapngWriter } from '../io/tap-pcapng-writer.js';
import { TapCore } from './core.js';
import { WakeTimer } from '../engine/wake-timer.js';
import { preciseAlarm } from '../io/precise-alarm.js';
import { eventTime } from '../engine/events.js';
import type { Endpoint } from '../tcp/state.js';

const { Cap } = capModule;

export interface TapRuntimeOptions {
  readonly iface: string;
  readonly port?: number;
  readonly decider: Decider;
  readonly timeWaitMs?: number;
  readonly finTimeoutMs?: number;
  readonly maxConnections?: number;
  readonly establishedMs?: number;
  readonly staleMs?: number;
  /** Segment events carry the TCP options (`--tcp-options`). */
  readonly segmentOptions?: boolean;
  /** Injected for tests; default a raw IP socket. */
  readonly injector?: IpInjector;
  /** `--pcap`: made once the capture's link type is known (the file is created then). */
  readonly pcap?: (linkType: 'ETHERNET' | 'RAW') => TapPcapngWriter;
}

/** The BPF filter tap mode captures with. */
export function tapFilter(port?: number): string {
  return port === undefined ? 'tcp' : `tcp port ${port}`;
}

export class TapRuntime {
  readonly bus: EventBus;
  readonly core: TapCore;
  readonly start: number;
  readonly linkType: string;
  private readonly cap: InstanceType<typeof Cap>;
  private readonly injector: IpInjector;
  /** What the capture saw and what tcpmitm sent, when --pcap asks. */
  readonly pcap: TapPcapngWriter | undefined;
  private readonly wake = new WakeTimer((now) => this.core.onTimer(now), preciseAlarm);
  private injectErrors = 0;
  private closed = false;

  constructor(opts: TapRuntimeOptions) {
    this.start = performance.now();
    this.bus = new EventBus(() => this.elapsed());
    // libpcap through cap aborts the process (uv_poll on a closed handle) when
    // asked for an interface that does not exist: check first.
    if (!existsSync(`/sys/class/net/${opts.iface}`)) {
      throw new TcpmitmError('E_NO_IFACE', `no interface '${opts.iface}' in this network namespace`, ExitCode.Usage, '`ip -br link` lists the interfaces');
    }
    this.cap = new Cap();
    const buf = Buffer.alloc(65_535 + 14);
    try {
      this.linkType = this.cap.open(opts.iface, tapFilter(opts.port), 8 * 1024 * 1024, buf);
    } catch (err) {
      throw new TcpmitmError('E_CAPTURE', `cannot capture on ${opts.iface}: ${(err as Error).message}`, ExitCode.Runtime, 'tap mode needs root (CAP_NET_RAW) and libpcap; `ip -br link` lists the interfaces');
    }
    if (this.linkType !== 'ETHERNET' && this.linkType !== 'RAW') {
      this.cap.close();
      throw new TcpmitmError('E_LINKTYPE', `${opts.iface} has link type ${this.linkType}; tap mode reads Ethernet (loopback included) or raw IP`, ExitCode.Usage);
    }
    try {
      this.pcap = opts.pcap?.(this.linkType);
      this.injector = opts.injector ?? openRawInjector();
    } catch (err) {
      this.cap.close();
      this.pcap?.close();
      throw err;
    }
    if (this.pcap) this.bus.subscribe('pcap', this.pcap.onEvent, { passSegments: false });
    this.core = new TapCore({
      start: this.start,
      decider: opts.decider,
      link: this.linkType === 'RAW' ? 'ip' : 'ethernet',
      timeWaitMs: opts.timeWaitMs,
      finTimeoutMs: opts.finTimeoutMs,
      maxConnections: opts.maxConnections,
      establishedMs: opts.establishedMs,
      staleMs: opts.staleMs,
      segmentOptions: opts.segmentOptions,
      out: {
        inject: (frame, ipOffset, family, dst) => this.inject(frame, ipOffset, family, dst),
        wakeAt: (t) => this.wake.set(t),
        emit: this.bus.emit,
      },
    });
    this.cap.on('packet', (nbytes: number) => {
      if (this.closed) return;
      // cap reuses one buffer for every packet: copy before handing on.
      const frame = Buffer.allocUnsafe(nbytes);
      buf.copy(frame, 0, 0, nbytes);
      this.pcap?.captured(frame);
      this.core.onFrame(frame, performance.now());
    });
  }

  elapsed(): number {
    return eventTime(performance.now(), this.start);
  }

  /** For the kernel view (session/kernel-view.ts): tap's core answers what the engine would. */
  get engine(): TapCore {
    return this.core;
  }

  kernelOrphaned(conn: number, endpoint: Endpoint, t: number): void {
    if (!this.closed) this.core.kernelOrphaned(conn, endpoint, t);
  }

  control(cmd: ControlCommand): void {
    if (!this.closed) this.core.onControl(cmd, performance.now());
  }

  setDecider(d: Decider): void {
    this.core.setDecider(d);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake.stop();
    this.cap.close();
    this.injector.close();
    this.pcap?.close();
  }

  private inject(frame: Buffer, ipOffset: number, family: 4 | 6, dst: string): void {
    if (this.closed) return;
    this.pcap?.forged(frame, ipOffset);
    this.injector.send(frame.subarray(ipOffset), family, dst, (err) => {
      if (!err) return;
      // The raw socket refused (e.g. no route to dst): put the frame on the wire ourselves.
      let fallback = '';
      if (this.linkType === 'ETHERNET' && !this.closed) {
        try {
          this.cap.send(frame, frame.length);
          fallback = '; sent the frame on the interface instead';
        } catch (e) {
          fallback = `; sending the frame on the interface failed too: ${(e as Error).message}`;
        }
      }
      if (this.injectErrors++ < 10) {
        this.bus.emit({ type: 'warning', t: this.elapsed(), message: `raw IPv${family} socket could not send the forged RST to ${dst}: ${err.message}${fallback}` });
      }
    });
  }

}
