// A frame kept beyond the capture that delivered it (the template forged
// segments copy addresses from), in an allocation of its own.

import { decodeFrame, type Frame, type TcpFrame } from './frame.js';
import type { DecodeResult } from './result.js';

/**
 * A template outlives its frame by the life of the connection, and a captured
 * frame is a view of the packet port's receive slab (overwritten by the next
 * batch) or a slice of Node's shared Buffer pool. Copy it into an allocation
 * of its own (not the pool: a pooled slice would pin a whole 8 KiB slab per
 * connection — measured 141 MB of Buffers for 10 000 connections,
 * bench/memory.js --busy). `decode` is how the frame was decoded (tap mode
 * reads raw IP on some interfaces).
 */
export function detachedTemplate(f: TcpFrame, decode: (buf: Uint8Array) => DecodeResult<Frame> = decodeFrame): TcpFrame {
  const own = Buffer.allocUnsafeSlow(f.buf.length);
  own.set(f.buf);
  const d = decode(own);
  return d.ok && d.value.kind === 'tcp' ? d.value : f;
}
