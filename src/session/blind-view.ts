// What a run shows when its fault is to stay hidden ("what is wrong here?"
// exercises): the events the text log and the UI receive, rewritten so they
// show what a capture beside each sender would — every segment as it was
// sent, a forged one as if its claimed sender had sent it — and nothing of
// what tcpmitm did: no verdicts, rules or actions, no profile name, no counts
// of drops. The kernel's states and the programs' events stay: they are what
// the student diagnoses from. The JSONL keeps everything (the reveal reads it).
// Pure.

import type { TcpmitmEvent } from '../engine/events.js';

export const HIDDEN_PROFILE = '(hidden until the reveal)';

/** The event as the blind view shows it, or undefined when it shows nothing of it. */
export function blindView(ev: TcpmitmEvent): TcpmitmEvent | undefined {
  switch (ev.type) {
    case 'start':
      return { ...ev, profile: HIDDEN_PROFILE };
    case 'segment': {
      if (ev.verdict === 'pass' && ev.detail === undefined && ev.rule === undefined) return ev;
      const { rule: _rule, detail: _detail, ...seen } = ev;
      return { ...seen, verdict: 'pass' };
    }
    case 'action':
      return undefined;
    case 'state': {
      // The inference's causes name tcpmitm's doing ("forged by tcpmitm", "released after 2000 ms").
      if (ev.cause === undefined) return ev;
      const { cause: _cause, ...rest } = ev;
      return rest;
    }
    case 'stats':
      return { ...ev, dropped: 0, delayed: 0, forged: 0, coalesced: 0, held: 0, duplicated: 0 };
    default:
      return ev;
  }
}
