// OutputFailures: each broken output is reported once (a warning event and one
// stderr line, held while the UI owns the terminal, left to the text log when
// it is on stderr), and the exit code: 0 becomes 4, every other code is kept.

import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/engine/event-bus.js';
import type { TcpmitmEvent } from '../../../src/engine/events.js';
import { OutputFailures } from '../../../src/session/output-failures.js';

function setup(mode: 'now' | 'held' | 'none'): { o: OutputFailures; events: TcpmitmEvent[]; lines: string[] } {
  const lines: string[] = [];
  const o = new OutputFailures((l) => lines.push(l));
  const bus = new EventBus(() => 1.5);
  const events: TcpmitmEvent[] = [];
  bus.subscribe('test', (ev) => events.push(ev));
  o.connect(bus, () => 1.5, mode);
  return { o, events, lines };
}

describe('OutputFailures', () => {
  it('an incomplete output turns 0 into 4 and keeps 1, 2, 3, 130, 143', () => {
    const { o } = setup('now');
    expect(o.exitCode(0)).toBe(0);
    o.failed("--json 'x' is incomplete: ENOSPC");
    for (const [code, final] of [[0, 4], [1, 1], [2, 2], [3, 3], [130, 130], [143, 143]] as const) expect(o.exitCode(code)).toBe(final);
  });

  it('reports a failure as one warning event and one stderr line', () => {
    const { o, events, lines } = setup('now');
    o.failed("--pcap 'p' is incomplete: ENOSPC: no space left on device, write; it is left empty and nothing more is written to it");
    expect(events).toEqual([{ type: 'warning', t: 1.5, message: "--pcap 'p' is incomplete: ENOSPC: no space left on device, write; it is left empty and nothing more is written to it; the run goes on" }]);
    expect(lines).toEqual(["tcpmitm: --pcap 'p' is incomplete: ENOSPC: no space left on device, write; it is left empty and nothing more is written to it; the run goes on (exit 4 at its end, unless it fails otherwise) [E_OUTPUT]\n"]);
  });

  it('holds the stderr line while the UI owns the terminal; none when the text log is on stderr', () => {
    const held = setup('held');
    held.o.failed('a');
    expect(held.events).toHaveLength(1);
    expect(held.lines).toEqual([]);
    held.o.release();
    expect(held.lines).toHaveLength(1);
    held.o.failed('b');
    expect(held.lines).toHaveLength(2);

    const none = setup('none');
    none.o.failed('c');
    expect(none.events).toHaveLength(1);
    expect(none.lines).toEqual([]);
  });

  it('a failure before the event stream exists is reported when it connects', () => {
    const lines: string[] = [];
    const o = new OutputFailures((l) => lines.push(l));
    o.failed('early');
    expect(o.incomplete).toBe(true);
    const bus = new EventBus(() => 0);
    const events: TcpmitmEvent[] = [];
    bus.subscribe('t', (ev) => events.push(ev));
    o.connect(bus, () => 0, 'now');
    expect(events.map((e) => e.type)).toEqual(['warning']);
    expect(lines).toHaveLength(1);
  });
});
