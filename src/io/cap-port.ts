// One side of the inline box: a libpcap handle (npm `cap`) on an interface
// that both captures and injects frames. No BPF filter: Linux never loops a
// frame back to the packet socket that sent it (net/core/dev.c skb_loop_sk),
// so a port cannot re-read its own injections. The `inbound` filter is also
// avoided because libpcap 1.10.3 loses the first frame matching it after open.

import capModule from 'cap';
import { readFileSync } from 'node:fs';
import { TcpmitmError } from '../cli/errors.js';

const { Cap } = capModule;

export interface FramePort {
  readonly name: string;
  /** Transmit a whole frame. */
  send(frame: Buffer): void;
  close(): void;
}

/** Opens `dev` for capture and injection; every frame is copied out of cap's shared buffer before `onFrame`. */
export function openCapPort(dev: string, onFrame: (frame: Buffer) => void): FramePort {
  const cap = new Cap();
  const buf = Buffer.alloc(65_535);
  const ownMac = readOwnMac(dev);
  let linkType: string;
  try {
    linkType = cap.open(dev, '', 8 * 1024 * 1024, buf);
  } catch (err) {
    throw new TcpmitmError(
      'E_CAPTURE',
      `cannot capture on ${dev}: ${(err as Error).message}`,
      1,
      'tcpmitm needs root (CAP_NET_RAW) and libpcap: sudo apt-get install -y libpcap-dev',
    );
  }
  if (linkType !== 'ETHERNET') {
    cap.close();
    throw new TcpmitmError('E_LINKTYPE', `${dev} is not an Ethernet interface (link type ${linkType})`, 2);
  }
  cap.on('packet', (nbytes: number) => {
    // Frames the kernel itself sends from this interface (e.g. IPv6 router
    // solicitations) are not traffic between the ends: leave them out.
    if (ownMac && nbytes >= 12 && buf.compare(ownMac, 0, 6, 6, 12) === 0) return;
    const frame = Buffer.allocUnsafe(nbytes);
    buf.copy(frame, 0, 0, nbytes);
    onFrame(frame);
  });
  let open = true;
  return {
    name: dev,
    send(frame: Buffer): void {
      if (!open) return;
      cap.send(frame, frame.length);
    },
    close(): void {
      if (!open) return;
      open = false;
      cap.close();
    },
  };
}

function readOwnMac(dev: string): Buffer | undefined {
  try {
    const text = readFileSync(`/sys/class/net/${dev}/address`, 'utf8').trim();
    return Buffer.from(text.replace(/:/g, ''), 'hex');
  } catch {
    return undefined;
  }
}
