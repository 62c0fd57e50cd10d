// uiFor: which outputs may take stdout. `--json -` or `--pcap -` turns the
// terminal UI off (the data owns stdout); both at once, or binary pcapng onto
// a terminal, is a usage error (exit 2) that says what to do.

import { afterEach, describe, expect, it } from 'vitest';
import { uiFor } from '../../../src/cli/common-options.js';
import { UsageError } from '../../../src/cli/errors.js';

const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
function stdoutIsTerminal(yes: boolean): void {
  Object.defineProperty(process.stdout, 'isTTY', { value: yes, configurable: true });
}

describe('uiFor', () => {
  afterEach(() => {
    if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
    else delete (process.stdout as { isTTY?: boolean }).isTTY;
  });

  it('the UI runs only on a terminal that no output has taken', () => {
    stdoutIsTerminal(true);
    expect(uiFor({ ui: true })).toBe(true);
    expect(uiFor({ ui: false })).toBe(false);
    expect(uiFor({ ui: true, json: '-' })).toBe(false);
    expect(uiFor({ ui: true, json: 'ev.jsonl', pcap: 'run.pcapng' })).toBe(true);
    stdoutIsTerminal(false);
    expect(uiFor({ ui: true })).toBe(false);
    expect(uiFor({ ui: true, pcap: '-' })).toBe(false);
  });

  it('refuses two outputs on stdout, and pcapng onto a terminal', () => {
    stdoutIsTerminal(false);
    expect(() => uiFor({ ui: false, json: '-', pcap: '-' })).toThrow(UsageError);
    expect(() => uiFor({ ui: false, json: '-', pcap: '-' })).toThrow('--json - and --pcap - both write to stdout; only one output can: give the other a file name');
    stdoutIsTerminal(true);
    let err: UsageError | undefined;
    try {
      uiFor({ ui: true, pcap: '-' });
    } catch (e) {
      err = e as UsageError;
    }
    expect(err?.exitCode).toBe(2);
    expect(err?.message).toBe('--pcap - writes binary pcapng to stdout, which is a terminal');
    expect(err?.hint).toContain('--pcap - | tshark -r -');
  });
});
