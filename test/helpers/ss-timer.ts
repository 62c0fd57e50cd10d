// `ss -o`'s timer:(NAME,EXPIRES,COUNT) field, read back. EXPIRES is
// iproute2's print_ms_timer: minutes, then seconds ("sec", or "." when
// milliseconds follow), then milliseconds; below 10 s the milliseconds are
// kept ("2.288ms" is 2 s 288 ms), from 10 s on the seconds are whole
// ("57sec": 57.000–57.999 s), from 10 min on the minutes ("12min").

export interface SsTimer {
  readonly name: string;
  /** The least the kernel's time left can be (s), and how much more it may be (what ss rounded away). */
  readonly seconds: number;
  readonly resolution: number;
  readonly count: number;
}

/** Every timer:(…) of ss -o's output, in order. */
export function ssTimers(ssOutput: string): SsTimer[] {
  return [...ssOutput.matchAll(/timer:\((\w+),([^,]*),(\d+)\)/g)].map((m) => {
    const p = /^(?:(\d+)min)?(?:(\d+)(sec|\.))?(?:(\d+)ms)?$/.exec(m[2]!);
    if (p === null) throw new Error(`not an ss timer: ${m[0]}`);
    const [min, sec, ms] = [Number(p[1] ?? 0), Number(p[2] ?? 0), p[4]];
    const resolution = ms !== undefined || (sec === 0 && min === 0) ? 0.001 : min > 9 ? 60 : 1;
    return { name: m[1]!, seconds: min * 60 + sec + Number(ms ?? 0) / 1000, resolution, count: Number(m[3]) };
  });
}

/** How far (s) `value` lies from what the ss timer allows ([seconds, seconds + resolution)). */
export function distanceFrom(t: SsTimer, value: number): number {
  if (value < t.seconds) return t.seconds - value;
  return Math.max(0, value - (t.seconds + t.resolution));
}
