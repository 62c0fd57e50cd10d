// TCP sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4, RFC 1982 serial
// number comparisons), as gVisor's seqnum: `a < b` is `int32(a - b) < 0`.
// Values are plain numbers kept in [0, 2^32); every function normalises.

/** A 32-bit unsigned TCP sequence number. Branded so it cannot be mixed up with lengths. */
export type Seq = number & { readonly __seq: unique symbol };

export function seq(n: number): Seq {
  return (n >>> 0) as Seq;
}

/** a + n modulo 2^32. */
export function seqAdd(a: Seq, n: number): Seq {
  return ((a + n) >>> 0) as Seq;
}

/** The signed distance from a to b (b - a), in [-2^31, 2^31). */
export function seqDiff(a: Seq, b: Seq): number {
  return (b - a) | 0;
}

export function seqLt(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) < 0;
}

export function seqLe(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) <= 0;
}

export function seqGt(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) > 0;
}

export function seqGe(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) >= 0;
}

/** True when `s` lies in [start, start + size) modulo 2^32. */
export function seqInWindow(s: Seq, start: Seq, size: number): boolean {
  const d = (s - start) >>> 0;
  return d < size >>> 0;
}
