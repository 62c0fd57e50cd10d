// Two header lines: where we are (lab, profile, elapsed, hold mode) and what
// tcpmitm has done so far (rates from stats events, action counters).

import { Box, Text } from 'ink';
import type { Counters } from '../model.js';
import type { RunMode } from '../../engine/events.js';
import { clock, humanBytes } from '../layout.js';
import { tint } from '../theme.js';

export interface HeaderProps {
  /** Lab id when running a lab, else the run's title ("tap lo", "attach m0⇄m1"). */
  readonly lab: string | undefined;
  /** The run's mode; undefined until known (a lab is assumed). Tap shows only what it can do: it forges, nothing more. */
  readonly mode: RunMode | undefined;
  /** Profile in force. */
  readonly profile: string | undefined;
  /** Wall time since the run started, ms. */
  readonly elapsedMs: number;
  /** Frames and bytes per second, from consecutive stats events. */
  readonly framesPerSec: number;
  readonly bytesPerSec: number;
  /** Frames seen in total. */
  readonly frames: number;
  /** What tcpmitm did, counted from segment verdicts and actions. */
  readonly counters: Counters;
  /** The connection table (from stats events): held now, evicted for room, segments passed untracked. */
  readonly table: { readonly tracked: number; readonly evicted: number; readonly untracked: number };
  /** Segments waiting at tcpmitm right now. */
  readonly heldNow: number;
  /** Hold mode as the UI last set it. */
  readonly holdOn: boolean;
  /** The view is paused (P) with this many events waiting; undefined: live. */
  readonly paused?: number | undefined;
  /** Expectation results so far. */
  readonly expectOk: number;
  readonly expectFailed: number;
  /** Set once the run ended or the user quit: shown instead of the rates. */
  readonly status: string | undefined;
  /** Colour on (NO_COLOR unset). */
  readonly color: boolean;
}

export default function Header(p: HeaderProps) {
  const c = p.counters;
  const rates = `${humanBytes(p.framesPerSec)} pkt/s ${humanBytes(p.bytesPerSec)}B/s`;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold>tcpmitm</Text>
        {p.lab ? (p.mode === undefined || p.mode === 'lab' ? ` lab ${p.lab}` : ` ${p.lab}`) : ''}
        {` profile ${p.profile ?? '-'}  ${clock(p.elapsedMs)}  `}
        {/* Before the rates: a long lab id and profile name must not push it past 80 columns. */}
        {p.holdOn ? (
          <Text bold inverse color={tint('yellow', p.color)}>
            {' HOLD '}
          </Text>
        ) : (
          ''
        )}
        {p.holdOn ? ' ' : ''}
        {/* Paused, the rates would be stale: the badge takes their place (an 80-column line keeps it). */}
        {p.status ? (
          <Text color={tint('yellow', p.color)}>{p.status}</Text>
        ) : p.paused !== undefined ? (
          <Text bold inverse color={tint('cyan', p.color)}>
            {` PAUSED: ${p.paused} events wait `}
          </Text>
        ) : (
          rates
        )}
      </Text>
      <Text wrap="truncate">
        {`frames ${p.frames}  `}
        {p.mode === 'tap' ? (
          `forged ${c.forged}`
        ) : (
          <>
            <Text color={c.dropped > 0 ? tint('red', p.color) : undefined}>{`dropped ${c.dropped}`}</Text>
            {`  delayed ${c.delayed}  forged ${c.forged}  coalesced ${c.coalesced}  held ${c.held}${p.heldNow > 0 ? ` (${p.heldNow} waiting)` : ''}`}
          </>
        )}
        {p.expectOk + p.expectFailed > 0 ? (
          <Text color={p.expectFailed > 0 ? tint('red', p.color) : tint('green', p.color)}>
            {`  expect ✓${p.expectOk} ✗${p.expectFailed}`}
          </Text>
        ) : (
          ''
        )}
        {/* The table's figures only once it has been under pressure, after the verdict: an 80-column line is cut at its end. */}
        {p.table.evicted + p.table.untracked > 0 ? `  table ${p.table.tracked}` : ''}
        {p.table.evicted > 0 ? <Text color={tint('yellow', p.color)}>{`  evicted ${p.table.evicted}`}</Text> : ''}
        {p.table.untracked > 0 ? <Text color={tint('red', p.color)}>{`  untracked ${p.table.untracked}`}</Text> : ''}
      </Text>
    </Box>
  );
}
