// Commands a person (or a test) gives the running engine: the UI turns keys
// into these, the engine treats them as inputs like frames and timers.

import type { Direction } from './events.js';

/**
 * A command whose effect comes later (on a segment still to arrive) may carry
 * `hand`, an id its giver chose (the UI counts 1, 2, 3…): the segment event
 * that carries it out echoes it (SegmentEvent.hand), so the giver knows when it
 * is done without reading the event's words.
 */
export type ControlCommand =
  /** Forge a RST to one end, or both, of connection `conn`. */
  | { readonly kind: 'rst'; readonly conn: number; readonly to: 'client' | 'server' | 'both' }
  /** Drop the next segment travelling in `dir` on `conn`. */
  | { readonly kind: 'drop-next'; readonly conn: number; readonly dir: Direction; readonly hand?: number }
  /** Delay the next FIN on `conn` (either direction) by `ms`. */
  | { readonly kind: 'delay-next-fin'; readonly conn: number; readonly ms: number; readonly hand?: number }
  /** Hold mode: every segment waits at tcpmitm until released. */
  | { readonly kind: 'hold-mode'; readonly on: boolean }
  /** Release the oldest held segment. */
  | { readonly kind: 'release-first' }
  /** Drop the oldest held segment. */
  | { readonly kind: 'drop-first-held' }
  /** Release every held segment and leave hold mode. */
  | { readonly kind: 'release-all' }
  /** Switch to another profile's rules for new segments. */
  | { readonly kind: 'set-profile'; readonly name: string };
