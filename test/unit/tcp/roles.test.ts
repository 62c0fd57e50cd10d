// Roles that the close scenarios do not exercise: retransmissions, keepalives,
// window probes, and the window-scale bookkeeping they depend on.

import { describe, expect, it } from 'vitest';
import type { Role } from '../../../src/tcp/role.js';
import { HANDSHAKE, Lab } from './script.js';

const cases: { name: string; script: string; roles: Role[] }[] = [
  {
    name: 'SYN sent again is a retransmission and changes nothing',
    script: `
      c>s S drop
      c>s S
      s>c SA drop
      s>c SA
      c>s A`,
    roles: ['syn', 'retransmission', 'syn-ack', 'retransmission', 'handshake-ack'],
  },
  {
    name: 'data sent again below snd_nxt',
    script: `${HANDSHAKE}
      c>s PA len=100 drop
      c>s PA len=100 retx
      s>c A`,
    roles: ['syn', 'syn-ack', 'handshake-ack', 'data', 'retransmission', 'ack'],
  },
  {
    name: 'keepalive: seq = snd_nxt-1, 0 or 1 byte, nothing outstanding',
    script: `${HANDSHAKE}
      c>s PA len=10
      s>c A
      c>s A ka
      s>c A
      c>s A ka len=1
      s>c A ka`,
    roles: ['syn', 'syn-ack', 'handshake-ack', 'data', 'ack', 'keepalive', 'ack', 'keepalive', 'keepalive'],
  },
  {
    name: 'a 1-byte resend of unacked data is not a keepalive',
    script: `${HANDSHAKE}
      c>s PA len=1 drop
      c>s PA len=1 retx`,
    roles: ['syn', 'syn-ack', 'handshake-ack', 'data', 'retransmission'],
  },
  {
    name: 'zero window: probes of either shape are window-probes',
    script: `${HANDSHAKE}
      c>s PA len=10
      s>c A win=0
      c>s A ka
      c>s PA len=1 drop
      s>c A win=100
      c>s PA len=1`,
    roles: ['syn', 'syn-ack', 'handshake-ack', 'data', 'ack', 'window-probe', 'window-probe', 'ack', 'data'],
  },
  {
    name: 'FIN with payload is a fin; its resend a retransmission; duplicate ack-of-fin stays ack-of-fin',
    script: `${HANDSHAKE}
      c>s FA len=5
      s>c A drop
      c>s FA retx
      s>c A`,
    roles: ['syn', 'syn-ack', 'handshake-ack', 'fin', 'ack-of-fin', 'retransmission', 'ack-of-fin'],
  },
  {
    name: 'last-ack from LAST-ACK: the passive closer re-acks a retransmitted FIN after its own FIN',
    script: `${HANDSHAKE}
      c>s FA
      s>c FA drop
      c>s FA retx
      s>c A`,
    roles: ['syn', 'syn-ack', 'handshake-ack', 'fin', 'fin-ack', 'retransmission', 'last-ack'],
  },
];

describe('roles', () => {
  it.each(cases)('$name', ({ script, roles }) => {
    const lab = new Lab().run(script);
    expect(lab.rolesOnly()).toEqual(roles);
  });

  it('SYN retransmission keeps one record and one SYN-SENT', () => {
    const lab = new Lab().run(`
      c>s S drop
      c>s S`);
    expect(lab.tracker.size).toBe(1);
    expect(lab.states('client', 1, 'CLOSED')).toEqual(['CLOSED', 'SYN-SENT']);
    // The SYN reached the listener but nothing answered it yet: still LISTEN.
    expect(lab.states('server', 1, 'LISTEN')).toEqual(['LISTEN']);
  });

  it('window scale is used only when both SYNs offer it (RFC 7323)', () => {
    const both = new Lab().run(`
      c>s S ws=7 win=64240
      s>c SA ws=9 win=65160
      c>s A win=502
      s>c A win=100`);
    const c = both.tracker.get(1)!;
    expect(c.clientEnd.windowScale).toBe(7);
    expect(c.serverEnd.windowScale).toBe(9);
    expect(c.clientEnd.window).toBe(502 * 128);
    expect(c.serverEnd.window).toBe(100 * 512);
    const one = new Lab().run(`
      c>s S ws=7
      s>c SA
      c>s A win=502`);
    expect(one.tracker.get(1)!.clientEnd.windowScale).toBe(0);
    expect(one.tracker.get(1)!.clientEnd.window).toBe(502);
  });

  it('the scaled window bounds RST acceptance: challenge inside, ignored beyond', () => {
    const lab = new Lab().run(`
      c>s S ws=7
      s>c SA ws=7
      c>s A win=100`);
    const { seq } = lab.tracker.rstFor(1, 'client')!;
    expect(lab.tracker.judgeRst(1, 'client', seq + 100 * 128)?.verdict).toBe('challenge-ack');
    expect(lab.tracker.judgeRst(1, 'client', seq + 100 * 128 + 1)?.verdict).toBe('ignored');
  });

  it('reordered delivery: a FIN beyond a gap waits for the gap (out-of-order queue)', () => {
    const lab = new Lab().run(`${HANDSHAKE}
      c>s PA len=10 hold
      c>s FA`);
    expect(lab.tracker.get(1)!.serverEnd.state).toBe('ESTAB');
    lab.run('release');
    expect(lab.tracker.get(1)!.serverEnd.state).toBe('CLOSE-WAIT');
    expect(lab.tracker.get(1)!.serverEnd.rcvNxt).toBe(1000 + 1 + 10 + 1);
  });
});
