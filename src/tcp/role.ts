// What a segment *is* in the life of its connection, decided by the tracker
// before any rule sees it (DESIGN "The pipeline"). Rules match on these names.

export const ROLES = [
  'syn',
  'syn-ack',
  'handshake-ack',
  'data',
  'ack',
  'fin',
  'fin-ack',
  'ack-of-fin',
  'last-ack',
  'rst',
  'keepalive',
  'retransmission',
  'window-probe',
] as const;

export type Role = (typeof ROLES)[number];

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}
