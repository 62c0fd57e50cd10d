// The one result type of every decoder in src/packet: untrusted bytes never
// throw, they yield either a value or a typed error saying which layer
// rejected the frame, why (a stable code), and at which byte offset.

export type DecodeLayer = 'ethernet' | 'ipv4' | 'ipv6' | 'tcp';

export interface DecodeError {
  readonly layer: DecodeLayer;
  /** Stable machine-readable reason, e.g. "truncated", "bad-data-offset". */
  readonly code: string;
  /** Byte offset into the decoded buffer where the problem was found. */
  readonly offset: number;
  /** Human-readable, e.g. "tcp: data offset 16 < 20 (at byte 34)". */
  readonly message: string;
}

export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: DecodeError };

export function ok<T>(value: T): DecodeResult<T> {
  return { ok: true, value };
}

/** Builds a failed result; `detail` is the message without layer and offset. */
export function fail<T = never>(layer: DecodeLayer, code: string, offset: number, detail: string): DecodeResult<T> {
  return { ok: false, error: { layer, code, offset, message: `${layer}: ${detail} (at byte ${offset})` } };
}
