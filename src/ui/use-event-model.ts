// Hook: feeds the event subscription into one mutable UiModel and re-renders
// through the frame scheduler, so React sees at most ~15 updates per second
// however fast events arrive. Also ticks for the clocks: once a second, or as
// often as the App asks while a timer counts down.

import { useEffect, useRef, useState } from 'react';
import type { UiEvent } from './protocol.js';
import { createFrameScheduler, type UiTimer } from './frame-scheduler.js';
import { UiModel } from './model.js';

export type Subscribe = (listener: (ev: UiEvent) => void) => () => void;

export interface EventModel {
  readonly model: UiModel;
  /** Event-clock time now: the newest event's `t` plus the wall time since it arrived. */
  nowT(): number;
  /**
   * Pauses the view, not the traffic: events wait, unapplied, until resumed
   * (then all apply at once, in order); past MAX_PAUSED of them the view
   * resumes by itself, so a long pause under load cannot fill the memory.
   */
  setPaused(on: boolean): void;
  /** Whether the view is paused now (it may have resumed by itself). */
  isPaused(): boolean;
  /** Events waiting while paused (0 when not paused). */
  waiting(): number;
  /** How often (ms) the clocks tick from now on (default TICK_MS; a countdown on the screen wants more). */
  setTick(ms: number): void;
}

/** The clocks' tick (ms) while nothing on the screen counts down fast. */
export const TICK_MS = 1000;

/** Events a paused view keeps for later at most (a few tens of MB). */
export const MAX_PAUSED = 200_000;

export function useEventModel(subscribe: Subscribe, timer: UiTimer, intervalMs: number, now: () => number): EventModel {
  // Where the event clock stood at a known wall time, so ages keep moving
  // between events whatever origin `t` has.
  const anchor = useRef({ t: 0, wall: 0 });
  const ref = useRef<EventModel | undefined>(undefined);
  const paused = useRef<UiEvent[] | undefined>(undefined);
  const tickMs = useRef(TICK_MS);
  if (ref.current === undefined) {
    const model = new UiModel();
    anchor.current.wall = now();
    ref.current = {
      model,
      nowT: () => Math.max(model.lastT, anchor.current.t + (now() - anchor.current.wall)),
      setPaused: (on) => {
        if (on) paused.current ??= [];
        else resume(model, paused);
      },
      isPaused: () => paused.current !== undefined,
      waiting: () => paused.current?.length ?? 0,
      setTick: (ms) => {
        tickMs.current = ms;
      },
    };
  }
  const [, setFrame] = useState(0);

  useEffect(() => {
    const m = ref.current!.model;
    const scheduler = createFrameScheduler(() => setFrame((n) => n + 1), timer, intervalMs);
    const unsubscribe = subscribe((ev) => {
      const held = paused.current;
      if (held !== undefined) {
        held.push(ev);
        // The run's end is never kept waiting: it is what the final screen says.
        if (held.length < MAX_PAUSED && ev.type !== 'end') return;
        resume(m, paused);
      } else {
        m.apply(ev);
      }
      if (ev.t >= anchor.current.t) anchor.current = { t: ev.t, wall: now() };
      scheduler.request();
    });
    let tick: unknown;
    const onTick = (): void => {
      scheduler.request();
      tick = timer.setTimeout(onTick, tickMs.current);
    };
    tick = timer.setTimeout(onTick, tickMs.current);
    return () => {
      unsubscribe();
      scheduler.dispose();
      timer.clearTimeout(tick);
    };
  }, [subscribe, timer, intervalMs, now]);

  return ref.current;
}

function resume(model: UiModel, paused: { current: UiEvent[] | undefined }): void {
  const held = paused.current;
  paused.current = undefined;
  if (held !== undefined) for (const ev of held) model.apply(ev);
}
