// TCP endpoint states (RFC 9293 §3.3.2), spelled the way `ss` prints them so
// that logs, tests and the kernel's own view agree character for character.

export const TCP_STATES = [
  'CLOSED',
  'LISTEN',
  'SYN-SENT',
  'SYN-RECV',
  'ESTAB',
  'FIN-WAIT-1',
  'FIN-WAIT-2',
  'CLOSE-WAIT',
  'CLOSING',
  'LAST-ACK',
  'TIME-WAIT',
] as const;

export type TcpState = (typeof TCP_STATES)[number];

export function isTcpState(s: string): s is TcpState {
  return (TCP_STATES as readonly string[]).includes(s);
}

/** Which end of a connection: the one in the client namespace (the side that sent the SYN) or the server. */
export type Endpoint = 'client' | 'server';

export function peerOf(e: Endpoint): Endpoint {
  return e === 'client' ? 'server' : 'client';
}
