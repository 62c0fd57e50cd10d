// Reference forwarder for the bench: the smallest Node bridge over `cap` (no
// decoding, tracking, rules or events) — what the capture/inject path alone
// costs, so the table separates tcpmitm's engine from libpcap and the syscalls.
// Runs inside the middle namespace: node bench/cap-bridge.js m0 m1

import capModule from 'cap';

const { Cap } = capModule;
const [devA = 'm0', devB = 'm1'] = process.argv.slice(2);
const a = new Cap();
const b = new Cap();
const bufA = Buffer.alloc(65_535);
const bufB = Buffer.alloc(65_535);
a.open(devA, '', 8 * 1024 * 1024, bufA);
b.open(devB, '', 8 * 1024 * 1024, bufB);
// Like cap-port.ts: one copy out of cap's shared buffer per frame.
a.on('packet', (n) => b.send(Buffer.from(bufA.subarray(0, n)), n));
b.on('packet', (n) => a.send(Buffer.from(bufB.subarray(0, n)), n));
const stop = () => {
  a.close();
  b.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
