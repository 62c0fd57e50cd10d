// --tcp-options: segment events carry the TCP options as tcpdump prints them,
// SACK edges relative to the ISN of the data they acknowledge; without it, none.

import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { buildTcpFrame } from '../../../src/packet/build.js';
import type { SegmentEvent, TcpmitmEvent } from '../../../src/engine/events.js';

const M = { c: '02:00:00:00:00:01', s: '02:00:00:00:00:02' };
const C = { srcMac: M.c, dstMac: M.s, src: '198.18.0.1', dst: '198.18.0.2', srcPort: 40000, dstPort: 8080 };
const S = { srcMac: M.s, dstMac: M.c, src: '198.18.0.2', dst: '198.18.0.1', srcPort: 8080, dstPort: 40000 };
const SYN_OPTS = [{ kind: 'mss', value: 1460 }, { kind: 'sack-permitted' }, { kind: 'timestamps', tsval: 10, tsecr: 0 }, { kind: 'nop' }, { kind: 'window-scale', shift: 7 }] as const;

function run(segmentOptions: boolean): SegmentEvent[] {
  const events: TcpmitmEvent[] = [];
  const engine = new Engine({ start: 0, segmentOptions, out: { send: () => {}, wakeAt: () => {}, emit: (e) => events.push(e) } });
  const cisn = 1000;
  const sisn = 5000;
  engine.onFrame('a', buildTcpFrame({ ...C, seq: cisn, flags: 'S', window: 64240, options: [...SYN_OPTS] }), 1);
  engine.onFrame('b', buildTcpFrame({ ...S, seq: sisn, ack: cisn + 1, flags: 'SA', window: 65160, options: [...SYN_OPTS] }), 2);
  engine.onFrame('a', buildTcpFrame({ ...C, seq: cisn + 1, ack: sisn + 1, flags: 'A', window: 502, options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamps', tsval: 11, tsecr: 10 }] }), 3);
  // The server SACKs client data it holds past a hole: bytes 101..201 of the client's stream.
  engine.onFrame('b', buildTcpFrame({ ...S, seq: sisn + 1, ack: cisn + 1, flags: 'A', window: 509, options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[cisn + 101, cisn + 201]] }] }), 4);
  return events.filter((e): e is SegmentEvent => e.type === 'segment');
}

describe('segment events with --tcp-options', () => {
  it('carry each segment\'s options, SACK edges relative like the ack', () => {
    expect(run(true).map((e) => e.options)).toEqual([
      'mss 1460,sackOK,TS val 10 ecr 0,nop,wscale 7',
      'mss 1460,sackOK,TS val 10 ecr 0,nop,wscale 7',
      'nop,nop,TS val 11 ecr 10',
      'nop,nop,sack 1 {101:201}',
    ]);
  });

  it('carry none without it', () => {
    expect(run(false).every((e) => e.options === undefined)).toBe(true);
  });
});
