// A bound on how many labs a test file runs at once (the machine has 2 cores).

/** A limiter: `run(fn)` starts `fn` when fewer than `max` of its runs are under way. */
export function limiter(max: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    while (running >= max) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
