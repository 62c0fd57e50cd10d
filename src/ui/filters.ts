// What the table and the event pane show when narrowed: a connection filter
// typed after `/` (connection, endpoint, port, state) and an event kind
// cycled with `e`. Pure.

import type { ConnRow, EventLine, EventTone } from './model.js';
import { TCP_STATES, type TcpState } from '../tcp/state.js';

/**
 * The words of a connection filter, all of which a row must match:
 * `#3` that connection; `8080` a port of either end; `ESTAB`, `time_wait` a
 * state of either end, inferred or kernel; `client=FIN-WAIT-2`,
 * `server=LAST-ACK` that end's; anything else part of either address.
 */
export function connMatches(row: ConnRow, filter: string): boolean {
  for (const word of filter.trim().split(/\s+/)) {
    if (word !== '' && !wordMatches(row, word)) return false;
  }
  return true;
}

function wordMatches(row: ConnRow, word: string): boolean {
  const conn = /^#(\d+)$/.exec(word);
  if (conn) return row.conn === Number(conn[1]);
  if (/^\d+$/.test(word)) return portOf(row.client) === word || portOf(row.server) === word;
  const ep = /^(client|server)=(.+)$/i.exec(word);
  if (ep) {
    const state = stateNamed(ep[2]!);
    const side = ep[1]!.toLowerCase() as 'client' | 'server';
    return state !== undefined && (row.inferred[side] === state || row.kernel[side] === state);
  }
  const state = stateNamed(word);
  if (state !== undefined) {
    return row.inferred.client === state || row.inferred.server === state || row.kernel.client === state || row.kernel.server === state;
  }
  return row.client.includes(word) || row.server.includes(word);
}

/** A state as the kernel prints it, whatever the case or separator typed ("time_wait" → TIME-WAIT). */
export function stateNamed(word: string): TcpState | undefined {
  const w = word.toUpperCase().replace(/_/g, '-');
  return (TCP_STATES as readonly string[]).includes(w) ? (w as TcpState) : undefined;
}

function portOf(addr: string): string {
  return addr.slice(addr.lastIndexOf(':') + 1);
}

/** The event pane's kinds, in the order `e` cycles through them. */
export const EVENT_KINDS = ['all', 'states', 'actions', 'app', 'checks'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

const KIND_TONES: Record<Exclude<EventKind, 'all'>, readonly EventTone[]> = {
  // State changes, inferred and the kernel's.
  states: ['state', 'kernel'],
  actions: ['action'],
  app: ['app'],
  checks: ['ok', 'fail'],
};

export function eventMatches(line: EventLine, kind: EventKind): boolean {
  return kind === 'all' || KIND_TONES[kind].includes(line.tone);
}

export function nextEventKind(kind: EventKind): EventKind {
  return EVENT_KINDS[(EVENT_KINDS.indexOf(kind) + 1) % EVENT_KINDS.length]!;
}
