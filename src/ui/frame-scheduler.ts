// Batches re-renders: any number of events between two frames cost one render,
// and frames come at most every `intervalMs` (66 ms ≈ 15 frames/s), so a burst
// of thousands of segments per second never makes ink redraw thousands of times.

/** The timer functions the scheduler uses; tests pass a manual clock. */
export interface UiTimer {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimer: UiTimer = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export const FRAME_INTERVAL_MS = 66;

export interface FrameScheduler {
  /** Something changed: render within one interval (no-op if a frame is already due). */
  request(): void;
  dispose(): void;
}

export function createFrameScheduler(render: () => void, timer: UiTimer, intervalMs = FRAME_INTERVAL_MS): FrameScheduler {
  let pending: unknown;
  let due = false;
  let disposed = false;
  return {
    request() {
      if (due || disposed) return;
      due = true;
      pending = timer.setTimeout(() => {
        due = false;
        pending = undefined;
        if (!disposed) render();
      }, intervalMs);
    },
    dispose() {
      disposed = true;
      if (due) timer.clearTimeout(pending);
      due = false;
    },
  };
}
