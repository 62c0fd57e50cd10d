// A flood of TCP segments of distinct random 4-tuples, sent as raw frames from
// a lab's client namespace (through tcpmitm's own AF_PACKET addon, in
// sendmmsg batches): what a SYN flood or a flood of mid-stream ACKs looks
// like to the box in the middle. Sources are random in 198.18.0.0/15 (never
// another address); the destination MAC is nobody's, so the server's kernel
// drops the frames unseen (no replies, no ARP for the forged sources) and
// only tcpmitm, which forwards every frame, sees them.
//
//   ip netns exec <id>-c node bench/flood-sender.js --kind syn --count 1000000 [--dev c0] [--dst 198.18.0.2] [--rate 0] [--seed 1]
//
// Prints one JSON line: { sent, seconds, pps }. --rate 0 (the default): as fast as it goes.

import { openPacketPort } from '../dist/io/packet-port.js';
import { buildTcpFrame } from '../dist/packet/build.js';

const args = parseArgs(process.argv.slice(2));
const KIND = args.kind ?? 'syn';
const COUNT = Number(args.count ?? 100_000);
const DEV = args.dev ?? 'c0';
const DST = args.dst ?? '198.18.0.2';
const RATE = Number(args.rate ?? 0);
const SEED = Number(args.seed ?? 1);
const BATCH = 256;

if (!['syn', 'ack'].includes(KIND) || !Number.isInteger(COUNT) || COUNT < 1 || !(RATE >= 0) || !/^198\.1[89]\./.test(DST)) {
  process.stderr.write('usage: flood-sender.js --kind syn|ack --count N [--dev c0] [--dst 198.18.x.y|198.19.x.y] [--rate pps, 0 = unpaced] [--seed n]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

/** xorshift32: the same seed gives the same tuples. */
let state = SEED >>> 0 || 1;
function rand() {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state;
}

/** The i-th tuple: a random source in 198.18.0.0/15 (not the lab's own .0.x ends), a random port. */
function frame(i) {
  const r = rand();
  const src = `198.${18 + (r & 1)}.${1 + ((r >>> 1) % 254)}.${1 + ((r >>> 9) % 254)}`;
  const srcPort = 1024 + ((r >>> 17) ^ i) % 64_000;
  return buildTcpFrame({
    srcMac: '02:00:00:00:fe:01',
    // Locally administered and nobody's: the server's kernel drops it (PACKET_OTHERHOST).
    dstMac: '02:00:00:00:fe:02',
    src,
    dst: DST,
    srcPort,
    dstPort: 80,
    seq: rand(),
    ack: KIND === 'ack' ? rand() : 0,
    flags: KIND === 'syn' ? 'S' : 'A',
    window: 512,
  });
}

const port = openPacketPort(DEV, () => {});
const t0 = process.hrtime.bigint();
let sent = 0;
while (sent < COUNT) {
  const n = Math.min(BATCH, COUNT - sent);
  for (let k = 0; k < n; k++) port.send(frame(sent + k));
  sent += n;
  // The queue goes out in one sendmmsg once this task yields.
  await new Promise((r) => setImmediate(r));
  if (RATE > 0) {
    const due = Number(process.hrtime.bigint() - t0) / 1e9 - sent / RATE;
    if (due < 0) await new Promise((r) => setTimeout(r, -due * 1000));
  }
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
port.close();
process.stdout.write(JSON.stringify({ kind: KIND, sent, seconds: Math.round(seconds * 1000) / 1000, pps: Math.round(sent / seconds) }) + '\n');
