// Reference forwarder for the bench: the smallest Node bridge over tcpmitm's
// own packet addon (the same openPacketPort the session uses: batched
// recvmmsg in, views of the receive slab, batched sendmmsg out), with no decoding, tracking,
// rules or events — the floor under tcpmitm's own cost on its real I/O path.
// Runs inside the middle namespace: node bench/packet-bridge.js m0 m1

import { openPacketPort } from '../dist/io/packet-port.js';

const [devA = 'm0', devB = 'm1'] = process.argv.slice(2);
const ports = {};
ports.a = openPacketPort(devA, (f) => ports.b.send(f));
ports.b = openPacketPort(devB, (f) => ports.a.send(f));
const stop = () => {
  ports.a.close();
  ports.b.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
