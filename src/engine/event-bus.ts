// Fan-out of the event stream to its consumers (log, JSONL, UI, pcapng,
// expectations). A consumer that throws is reported as a warning event and
// unsubscribed; the pipeline keeps forwarding (mitmproxy does the same).

import type { TcpmitmEvent } from './events.js';

export type Listener = (ev: TcpmitmEvent) => void;

export interface SubscribeOptions {
  /**
   * Whether this consumer reads `segment` events of segments that simply
   * passed (verdict pass, no rule, no detail). Default true; a consumer that
   * says false may still see them when another consumer wants them.
   */
  readonly passSegments?: boolean;
}

export class EventBus {
  private listeners: { name: string; fn: Listener; passSegments: boolean }[] = [];
  private readonly now: () => number;

  /** `now` gives event time (seconds since start) for warnings the bus itself raises. */
  constructor(now: () => number) {
    this.now = now;
  }

  subscribe(name: string, fn: Listener, opts: SubscribeOptions = {}): () => void {
    const entry = { name, fn, passSegments: opts.passSegments !== false };
    this.setListeners([...this.listeners, entry]);
    return () => this.setListeners(this.listeners.filter((l) => l !== entry));
  }

  get size(): number {
    return this.listeners.length;
  }

  /** Whether any consumer reads plain pass segments (see SubscribeOptions); asked once per forwarded frame. */
  wantsPassSegments = (): boolean => this.passSegmentReaders;
  private passSegmentReaders = false;

  private setListeners(ls: { name: string; fn: Listener; passSegments: boolean }[]): void {
    this.listeners = ls;
    this.passSegmentReaders = ls.some((l) => l.passSegments);
  }

  emit = (ev: TcpmitmEvent): void => {
    // Iterate over a snapshot: a listener may unsubscribe while we deliver.
    const ls = this.listeners;
    let failed: string[] | undefined;
    for (let i = 0; i < ls.length; i++) {
      const l = ls[i]!;
      try {
        l.fn(ev);
      } catch (err) {
        this.setListeners(this.listeners.filter((x) => x !== l));
        (failed ??= []).push(`event consumer "${l.name}" failed and was detached: ${(err as Error)?.message ?? String(err)}`);
      }
    }
    // Reported after the event reached everyone else, so order is kept.
    if (failed) for (const message of failed) this.emit({ type: 'warning', t: this.now(), message });
  };
}
