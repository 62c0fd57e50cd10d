// The node flags of a process that forwards: the lab's session, and attach
// and tap, which run this very command again with them (heap-ceiling.ts).

/**
 * Node flags of the session process. V8's memory reducer starts a full
 * mark-compact when the process turns quiet — exactly when a delayed
 * segment is waiting for its release — and stalls the loop for several
 * milliseconds (measured: 5–6 ms); the session's heap is small and bounded,
 * so it keeps it instead.
 */
export const SESSION_NODE_FLAGS: readonly string[] = ['--no-memory-reducer'];

/** The session's JavaScript heap besides the connection table: the verdict's recorded events (at most 200 000), output queues, code. */
const HEAP_BASE_MIB = 96;
/** The tracker's and the engine's state per connection record (measured ~1.8 KiB), rounded up. */
const HEAP_PER_CONNECTION_KIB = 2;

/**
 * The session's node flags for a connection table of `maxConnections`: also
 * a ceiling on V8's old space. Everything the session keeps is bounded (the
 * table, the verdict's events, the outputs' queues), so the ceiling only
 * makes V8 collect before it grows: without it, a flood of new tuples (a
 * great deal of short-lived garbage) let the heap grow to 4× what was live —
 * 544 MB of RSS for a table of 32 768, against 235 MB with this ceiling
 * (160 MiB) and 260 MB with one of 192 MiB (bench/flood.js, 1 M SYNs).
 */
export function sessionNodeFlags(maxConnections: number): string[] {
  return [...SESSION_NODE_FLAGS, `--max-old-space-size=${HEAP_BASE_MIB + Math.ceil((maxConnections * HEAP_PER_CONNECTION_KIB) / 1024)}`];
}
