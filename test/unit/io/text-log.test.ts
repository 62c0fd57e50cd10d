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
