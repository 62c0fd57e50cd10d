// Pure decoder of the kernel's binary trace pages (per_cpu/cpuN/trace_pipe_raw)
// for sock:inet_sock_set_state. Reading the text trace_pipe makes the kernel
// print every event as we read it (~7 µs an event here) and us parse the
// line back; a raw page is the ring buffer's own bytes: ~0.3 µs an event.
//
// A page (events/header_page): u64 timestamp (the trace clock, ns), a
// local_t `commit` (the data's length; bit 31 RB_MISSED_EVENTS, bit 30
// RB_MISSED_STORED: the count of lost events follows the data), then the
// data. Each event starts with a u32: type_len (5 bits) and time_delta (27
// bits, ns since the previous event) — type_len 1..28: 4 × type_len bytes of
// payload follow; 0: a u32 length (payload + 4), then the payload; 29:
// padding (delta 0: the rest of the page; else a u32 length; a discarded
// event keeps its delta); 30: a time extend (delta += u32 << 27); 31: an
// absolute time stamp (kernel/trace/ring_buffer.c, libtraceevent's kbuffer).
// The payload's fields are where events/sock/inet_sock_set_state/format says.

import { formatIpv4, formatIpv6 } from '../packet/addr.js';
import type { TcpState } from '../tcp/state.js';
import { stateOfCode } from './proc-net-tcp.js';
import type { TraceTransition } from './kernel-probe-trace.js';

/** Where a page's commit word and data are (events/header_page). */
export interface PageLayout {
  readonly commitOffset: number;
  readonly commitSize: number;
  readonly dataOffset: number;
}

/** The event's id and its fields' offsets in the payload (events/…/format). */
export interface EventLayout {
  readonly id: number;
  readonly oldstate: number;
  readonly newstate: number;
  readonly sport: number;
  readonly dport: number;
  readonly family: number;
  readonly protocol: number;
  readonly saddr: number;
  readonly daddr: number;
  readonly saddrV6: number;
  readonly daddrV6: number;
}

const FIELD = /field:[^;]*?(\w+)(?:\[\d+\])?;\s*offset:(\d+);\s*size:(\d+);/g;

function fields(text: string): Map<string, { offset: number; size: number }> {
  const m = new Map<string, { offset: number; size: number }>();
  for (const f of text.matchAll(FIELD)) m.set(f[1]!, { offset: Number(f[2]), size: Number(f[3]) });
  return m;
}

/** events/header_page; undefined when it is not the layout described above. */
export function parsePageLayout(text: string): PageLayout | undefined {
  const f = fields(text);
  const ts = f.get('timestamp');
  const commit = f.get('commit');
  const data = f.get('data');
  if (ts?.offset !== 0 || ts.size !== 8 || commit === undefined || (commit.size !== 8 && commit.size !== 4) || data === undefined) return undefined;
  return { commitOffset: commit.offset, commitSize: commit.size, dataOffset: data.offset };
}

/** The event's format file; undefined when a field this decoder reads is missing or of another size. */
export function parseEventLayout(text: string): EventLayout | undefined {
  const id = /^ID:\s*(\d+)/m.exec(text);
  const f = fields(text);
  const want: Record<keyof Omit<EventLayout, 'id'>, [string, number]> = {
    oldstate: ['oldstate', 4],
    newstate: ['newstate', 4],
    sport: ['sport', 2],
    dport: ['dport', 2],
    family: ['family', 2],
    protocol: ['protocol', 2],
    saddr: ['saddr', 4],
    daddr: ['daddr', 4],
    saddrV6: ['saddr_v6', 16],
    daddrV6: ['daddr_v6', 16],
  };
  const out: Record<string, number> = {};
  for (const [k, [name, size]] of Object.entries(want)) {
    const x = f.get(name);
    if (x === undefined || x.size !== size) return undefined;
    out[k] = x.offset;
  }
  if (!id) return undefined;
  return { id: Number(id[1]), ...(out as Omit<EventLayout, 'id'>) };
}

const MISSED_EVENTS = 0x80000000;
const MISSED_STORED = 0x40000000;
const LENGTH_MASK = 0x3fffffff;
const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const TIME_SHIFT = 2 ** 27;

/** One decoded page: its transitions in order, events lost before it, the time of its last event (ns). */
export interface DecodedPage {
  readonly transitions: TraceTransition[];
  /** Lost before this page: the stored count, or 1 when the kernel only flagged a loss. */
  readonly lost: number;
  readonly lastNs: number;
}

function endpoint(page: Buffer, at: number, family: number, v4: number, v6: number, port: number): string {
  if (family === AF_INET) return `${formatIpv4(page, at + v4)}:${port}`;
  const a = formatIpv6(page, at + v6);
  // v4-mapped sockets carry IPv4 on the wire: name them by the IPv4 tuple.
  return a.startsWith('::ffff:') && a.indexOf('.') > 0 ? `${a.slice(7)}:${port}` : `[${a}]:${port}`;
}

/** Decodes one page of `length` bytes read from trace_pipe_raw (pure). */
export function decodePage(page: Buffer, length: number, p: PageLayout, e: EventLayout): DecodedPage {
  const transitions: TraceTransition[] = [];
  if (length < p.dataOffset) return { transitions, lost: 0, lastNs: 0 };
  let ns = Number(page.readBigUInt64LE(0));
  const commit = p.commitSize === 8 ? Number(page.readBigUInt64LE(p.commitOffset) & 0xffffffffn) : page.readUInt32LE(p.commitOffset);
  const size = Math.min(commit & LENGTH_MASK, length - p.dataOffset);
  let lost = 0;
  if ((commit & MISSED_EVENTS) !== 0) {
    const at = p.dataOffset + size;
    lost = (commit & MISSED_STORED) !== 0 && at + 8 <= length ? Number(page.readBigUInt64LE(at)) : 1;
  }
  const end = p.dataOffset + size;
  for (let at = p.dataOffset; at + 4 <= end; ) {
    const head = page.readUInt32LE(at);
    const type = head & 0x1f;
    const delta = head >>> 5;
    let payload: number;
    let next: number;
    if (type === 29) {
      if (delta === 0) break;
      ns += delta;
      at += 4 + page.readUInt32LE(at + 4);
      continue;
    } else if (type === 30) {
      ns += delta + page.readUInt32LE(at + 4) * TIME_SHIFT;
      at += 8;
      continue;
    } else if (type === 31) {
      // An absolute stamp of the low 59 bits; the page's timestamp gives the rest.
      const abs = delta + page.readUInt32LE(at + 4) * TIME_SHIFT;
      const high = ns - (ns % 2 ** 59);
      ns = high + abs;
      at += 8;
      continue;
    } else if (type === 0) {
      const len = page.readUInt32LE(at + 4);
      payload = at + 8;
      next = at + 4 + len;
    } else {
      payload = at + 4;
      next = at + 4 + type * 4;
    }
    ns += delta;
    at = next;
    if (next > end || page.readUInt16LE(payload) !== e.id) continue;
    if (page.readUInt16LE(payload + e.protocol) !== IPPROTO_TCP) continue;
    const from = stateOfCode(page.readInt32LE(payload + e.oldstate));
    const to = stateOfCode(page.readInt32LE(payload + e.newstate));
    const family = page.readUInt16LE(payload + e.family);
    if (from === undefined || to === undefined || (family !== AF_INET && family !== AF_INET6)) continue;
    // The tracepoint stores the ports in host order (ntohs in TP_fast_assign).
    const local = endpoint(page, payload, family, e.saddr, e.saddrV6, page.readUInt16LE(payload + e.sport));
    const remote = endpoint(page, payload, family, e.daddr, e.daddrV6, page.readUInt16LE(payload + e.dport));
    transitions.push({ ts: ns / 1e9, local, remote, from: from as TcpState, to: to as TcpState });
  }
  return { transitions, lost, lastNs: ns };
}
