import { describe, expect, it } from 'vitest';
import { KERNEL_STATES_KEPT, TextLogFormatter } from '../../../src/io/text-log.js';

describe('TextLogFormatter: the kernel view', () => {
  const f = new TextLogFormatter({ segments: false });

  it('prints a lag with its reason, and which view was first', () => {
    expect(f.format({ type: 'lag', t: 0.931, conn: 1, endpoint: 'client', state: 'FIN-WAIT-1', kernelT: 0.874, inferredT: 0.931, ms: 57, reason: 'close() queued the FIN behind unsent data' })).toBe(
      '+0.931s  #1 client  LAG FIN-WAIT-1: kernel 57 ms before the wire (close() queued the FIN behind unsent data)',
    );
    expect(f.format({ type: 'lag', t: 62.5, conn: 1, endpoint: 'client', state: 'CLOSED', kernelT: 62.5, inferredT: 60.9, ms: 1600, reason: 'kernel timer wheel slack' })).toMatch(/LAG CLOSED: kernel 1600 ms after the wire/);
  });

  it('prints a disagreement', () => {
    expect(f.format({ type: 'disagreement', t: 2.1, conn: 1, endpoint: 'server', inferred: 'CLOSED', kernel: 'LAST-ACK', forMs: 51 })).toBe(
      '+2.100s  #1 server  DISAGREEMENT inferred CLOSED, kernel LAST-ACK (for 51 ms)',
    );
  });
});

describe('TextLogFormatter: bounded memory', () => {
  it('remembers the kernel states of the most recently reported endpoints only', () => {
    const f = new TextLogFormatter({ segments: false });
    const kernel = (conn: number) => f.format({ type: 'state', t: 1, conn, endpoint: 'client', from: 'SYN-SENT', to: 'ESTAB', source: 'kernel' });
    const inferred = (conn: number) => f.format({ type: 'state', t: 2, conn, endpoint: 'client', from: 'ESTAB', to: 'FIN-WAIT-1', source: 'inferred' })!;
    kernel(1);
    for (let conn = 2; conn <= KERNEL_STATES_KEPT; conn++) kernel(conn);
    kernel(1); // reported again: now the most recent
    kernel(KERNEL_STATES_KEPT + 1); // one too many: the least recent (conn 2) is dropped
    expect(inferred(1)).toMatch(/kernel: ESTAB$/);
    expect(inferred(3)).toMatch(/kernel: ESTAB$/);
    expect(inferred(2)).not.toMatch(/kernel:/);
  });
});

describe('TextLogFormatter: segments as tcpdump spells them, each decision once', () => {
  const seg = (over: Partial<Record<string, unknown>>) =>
    ({ type: 'segment', t: 1.304, conn: 1, dir: 'c2s', from: 'client', flags: 'A', seq: 102, ack: 2, len: 0, win: 63, role: 'last-ack', verdict: 'pass', ...over }) as never;

  it('flags as tcpdump prints them, and no ack field without the ACK flag', () => {
    const f = new TextLogFormatter({ segments: true });
    expect(f.format(seg({ flags: 'S', seq: 0, ack: 0, win: 64240, role: 'syn' }))).toBe('+1.304s  #1 c→s  [S] seq=0 len=0 win=64240  syn');
    expect(f.format(seg({ flags: 'SA', dir: 's2c', seq: 0, ack: 1, role: 'syn-ack' }))).toBe('+1.304s  #1 s→c  [S.] seq=0 ack=1 len=0 win=63  syn-ack');
    expect(f.format(seg({ flags: 'PA', len: 100, role: 'data' }))).toMatch(/ \[P\.\] seq=102 ack=2 len=100 /);
    expect(f.format(seg({ flags: 'FA', role: 'fin' }))).toMatch(/ \[F\.\] seq=102 ack=2 /);
    expect(f.format(seg({ flags: 'R', seq: 6, ack: 0, win: 0, role: 'rst' }))).toBe('+1.304s  #1 c→s  [R] seq=6 len=0 win=0  rst');
    expect(f.format(seg({ flags: 'RA', role: 'rst' }))).toMatch(/ \[R\.\] seq=102 ack=2 /);
  });

  it('a rule drop is one line: the segment says DROP, its action event adds nothing', () => {
    const f = new TextLogFormatter({ segments: false });
    expect(f.format(seg({ verdict: 'drop', rule: 1 }))).toBe('+1.304s  #1 c→s  [.] seq=102 ack=2 len=0 win=63  last-ack  DROP (rule 1)');
    expect(f.format({ type: 'action', t: 1.304, conn: 1, rule: 1, action: 'drop', detail: 'dropped last-ack from client' })).toBeUndefined();
    // Not the same decision: another connection, another time, another kind.
    expect(f.format({ type: 'action', t: 1.304, conn: 2, rule: 1, action: 'drop', detail: 'dropped last-ack from client' })).toMatch(/#2 DROP/);
    expect(f.format({ type: 'action', t: 1.5, conn: 1, rule: 1, action: 'drop', detail: 'dropped held fin from server' })).toMatch(/#1 DROP {2}dropped held fin/);
    expect(f.format({ type: 'action', t: 1.304, conn: 1, rule: 1, action: 'rst', detail: 'forged RST to server seq=1' })).toMatch(/#1 RST/);
  });

  it('prints no check: the report on stderr says each once', () => {
    const f = new TextLogFormatter({ segments: false });
    expect(f.format({ type: 'expectation', t: 6.7, status: 'met', ok: true, subject: 'client exit', expected: 'exit 0', observed: 'exit 0' })).toBeUndefined();
  });
});

describe('TextLogFormatter: TCP options on request', () => {
  it('prints them after the window, as tcpdump does, only when the event has them', () => {
    const f = new TextLogFormatter({ segments: true });
    const syn = { type: 'segment', t: 0.5, conn: 1, dir: 'c2s', from: 'client', flags: 'S', seq: 0, ack: 0, len: 0, win: 64240, role: 'syn', verdict: 'pass' } as const;
    expect(f.format({ ...syn, options: 'mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7' })).toBe('+0.500s  #1 c→s  [S] seq=0 len=0 win=64240 options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7]  syn');
    expect(f.format(syn)).toBe('+0.500s  #1 c→s  [S] seq=0 len=0 win=64240  syn');
  });
});
