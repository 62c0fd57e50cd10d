import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodePage, parseEventLayout, parsePageLayout, type EventLayout, type PageLayout } from '../../../src/io/trace-raw.js';

// As Linux 6.x prints them (events/header_page, events/sock/inet_sock_set_state/format).
const HEADER_PAGE = `\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;
`;
const FORMAT = `name: inet_sock_set_state
ID: 2287
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:int oldstate;\toffset:16;\tsize:4;\tsigned:1;
\tfield:int newstate;\toffset:20;\tsize:4;\tsigned:1;
\tfield:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;
\tfield:__u16 dport;\toffset:26;\tsize:2;\tsigned:0;
\tfield:__u16 family;\toffset:28;\tsize:2;\tsigned:0;
\tfield:__u16 protocol;\toffset:30;\tsize:2;\tsigned:0;
\tfield:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;
\tfield:__u8 daddr[4];\toffset:36;\tsize:4;\tsigned:0;
\tfield:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:__u8 daddr_v6[16];\toffset:56;\tsize:16;\tsigned:0;

print fmt: "family=%s ..."
`;

const page: PageLayout = parsePageLayout(HEADER_PAGE)!;
const ev: EventLayout = parseEventLayout(FORMAT)!;

/** An inet_sock_set_state payload (72 bytes). */
function payload(o: { old: number; new: number; sport: number; dport: number; v6?: boolean; src: number[]; dst: number[]; protocol?: number; id?: number }): Buffer {
  const b = Buffer.alloc(72);
  b.writeUInt16LE(o.id ?? 2287, 0);
  b.writeInt32LE(o.old, 16);
  b.writeInt32LE(o.new, 20);
  b.writeUInt16LE(o.sport, 24);
  b.writeUInt16LE(o.dport, 26);
  b.writeUInt16LE(o.v6 ? 10 : 2, 28);
  b.writeUInt16LE(o.protocol ?? 6, 30);
  if (o.v6) {
    Buffer.from(o.src).copy(b, 40);
    Buffer.from(o.dst).copy(b, 56);
  } else {
    Buffer.from(o.src).copy(b, 32);
    Buffer.from(o.dst).copy(b, 36);
  }
  return b;
}

const head = (type: number, delta: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(((delta << 5) | type) >>> 0, 0);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
};

function pageOf(tsNs: bigint, events: Buffer[], flags = 0, missed?: bigint): Buffer {
  const data = Buffer.concat(events);
  const b = Buffer.alloc(4096);
  b.writeBigUInt64LE(tsNs, 0);
  b.writeBigUInt64LE(BigInt(data.length + flags), 8);
  data.copy(b, 16);
  if (missed !== undefined) b.writeBigUInt64LE(missed, 16 + data.length);
  return b;
}

const C = [198, 18, 0, 1];
const S = [198, 18, 0, 2];

describe('binary trace pages', () => {
  it('reads the layouts of the page header and of the event', () => {
    expect(page).toEqual({ commitOffset: 8, commitSize: 8, dataOffset: 16 });
    expect(ev).toMatchObject({ id: 2287, oldstate: 16, newstate: 20, sport: 24, dport: 26, family: 28, protocol: 30, saddr: 32, daddr: 36, saddrV6: 40, daddrV6: 56 });
    // A kernel whose event lacks a field (or has another size) is read as text instead.
    expect(parseEventLayout(FORMAT.replace('\tfield:__u16 sport;\toffset:24;\tsize:2;', '\tfield:__u32 sport;\toffset:24;\tsize:4;'))).toBeUndefined();
    expect(parsePageLayout('nonsense')).toBeUndefined();
  });

  it('decodes transitions with their times: compact and long events, a time extend, a discarded event, the end padding', () => {
    const established = payload({ old: 2, new: 1, sport: 40000, dport: 8080, src: C, dst: S });
    const finWait1 = payload({ old: 1, new: 4, sport: 40000, dport: 8080, src: C, dst: S });
    const v6 = payload({ old: 10, new: 12, sport: 8080, dport: 40001, v6: true, src: [0x20, 1, 0, 2, ...Array(11).fill(0), 2], dst: [0x20, 1, 0, 2, ...Array(11).fill(0), 1] });
    const mapped = payload({ old: 8, new: 9, sport: 8080, dport: 40002, v6: true, src: [...Array(10).fill(0), 0xff, 0xff, ...S], dst: [...Array(10).fill(0), 0xff, 0xff, ...C] });
    const udp = payload({ old: 1, new: 7, sport: 1, dport: 2, src: C, dst: S, protocol: 17 });
    const p = pageOf(1_000_000_000n, [
      head(18, 0), established, // t = 1 s
      head(30, 5), u32(1), // + 5 + 2^27 ns
      head(18, 10), finWait1,
      head(29, 7), u32(72), Buffer.alloc(68), // a discarded compact event (rb_event_discard: array[0] = its 72 bytes, over the first word): its delta counts
      head(0, 3), u32(76), v6, // the long form: length word, then the payload
      head(18, 1), mapped,
      head(18, 1), udp,
      head(29, 0), // the rest of the page is padding
    ]);
    const d = decodePage(p, 4096, page, ev);
    expect(d.lost).toBe(0);
    const t1 = 1 + (5 + 2 ** 27 + 10) / 1e9;
    expect(d.transitions).toEqual([
      { ts: 1, local: '198.18.0.1:40000', remote: '198.18.0.2:8080', from: 'SYN-SENT', to: 'ESTAB' },
      { ts: t1, local: '198.18.0.1:40000', remote: '198.18.0.2:8080', from: 'ESTAB', to: 'FIN-WAIT-1' },
      { ts: t1 + 10e-9, local: '[2001:2::2]:8080', remote: '[2001:2::1]:40001', from: 'LISTEN', to: 'SYN-RECV' },
      // A v4-mapped socket is named by its IPv4 tuple, as the wire carries it.
      { ts: t1 + 11e-9, local: '198.18.0.2:8080', remote: '198.18.0.1:40002', from: 'CLOSE-WAIT', to: 'LAST-ACK' },
    ]);
    expect(d.transitions[2]!.ts).toBeCloseTo(t1 + 10e-9, 12);
  });

  it('counts the events the ring buffer lost before a page', () => {
    const e = payload({ old: 7, new: 2, sport: 0, dport: 8080, src: C, dst: S });
    expect(decodePage(pageOf(5n, [head(18, 0), e], 0x80000000 + 0x40000000, 42n), 4096, page, ev).lost).toBe(42);
    expect(decodePage(pageOf(5n, [head(18, 0), e], 0x80000000), 4096, page, ev).lost).toBe(1);
  });

  it.skipIf(!existsSync('/sys/kernel/tracing/events/sock/inet_sock_set_state/format'))("reads this kernel's formats", () => {
    expect(parsePageLayout(readFileSync('/sys/kernel/tracing/events/header_page', 'utf8'))).toEqual(page);
    expect(parseEventLayout(readFileSync('/sys/kernel/tracing/events/sock/inet_sock_set_state/format', 'utf8'))).toBeDefined();
  });
});
