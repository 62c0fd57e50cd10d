// How late a Linux kernel timer may fire (kernel/time/timer.c): a timer is
// filed in the wheel level whose range holds its timeout and fires at that
// level's next bucket boundary, up to one granularity (8^level jiffies) late,
// never early. TIME-WAIT's 60 s at HZ=250 lands in level 3: up to 2.048 s.

/** Bits per level (LVL_CLK_SHIFT) and slots per level (LVL_SIZE). */
const LVL_CLK_SHIFT = 3;
const LVL_SIZE = 64;
const LVL_DEPTH = 9;

/** The CONFIG_HZ values Linux builds with; the slack bound for an unknown HZ is the worst of them. */
const COMMON_HZ = [100, 250, 300, 1000] as const;

/** LVL_START(n): the first timeout (jiffies) filed in level n (n ≥ 1). */
function levelStart(n: number): number {
  return (LVL_SIZE - 1) * 2 ** ((n - 1) * LVL_CLK_SHIFT);
}

/** The wheel granularity (jiffies) of a timer `jiffies` ahead (calc_wheel_index). */
export function wheelGranularity(jiffies: number): number {
  let lvl = 0;
  while (lvl < LVL_DEPTH - 1 && jiffies >= levelStart(lvl + 1)) lvl++;
  return 2 ** (lvl * LVL_CLK_SHIFT);
}

/**
 * At most how many ms after its due time a kernel timer of `timeoutMs` fires:
 * one wheel granularity plus the tick that runs it. `hz` undefined: the
 * largest bound over the common CONFIG_HZ values.
 */
export function timerWheelSlackMs(timeoutMs: number, hz?: number): number {
  if (hz === undefined) return Math.max(...COMMON_HZ.map((h) => timerWheelSlackMs(timeoutMs, h)));
  const jiffies = Math.ceil((Math.max(0, timeoutMs) * hz) / 1000);
  return ((wheelGranularity(jiffies) + 1) * 1000) / hz;
}
