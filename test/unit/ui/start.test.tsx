import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { ControlCommand } from '../../../src/engine/control.js';
import { FakeSource } from './fixtures/harness.js';
import { lastAckDropped } from './fixtures/closes.js';

// ink draws only its last frame when it believes it runs in CI (is-in-ci reads
// CI once, at import): this test watches frames, so load ink as on a desk.
process.env.CI = 'false';
const { startUi } = await import('../../../src/ui/start.js');

class TtyOut extends EventEmitter {
  columns = 80;
  rows = 24;
  isTTY = true;
  written = '';
  write = (s: string): boolean => {
    this.written += s;
    return true;
  };
}

class TtyIn extends EventEmitter {
  isTTY = true;
  private queue: string[] = [];
  write(s: string): void {
    this.queue.push(s);
    this.emit('readable');
  }
  read = (): string | null => this.queue.shift() ?? null;
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}

/** Polls `pred` every 5 ms, for at most 3 s. */
async function until(pred: () => boolean): Promise<void> {
  const end = Date.now() + 3000;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

describe('startUi', () => {
  it('mounts on a terminal, feeds from the subscription, hands q to onQuit and exits on unmount', async () => {
    const src = new FakeSource();
    const out = new TtyOut();
    const input = new TtyIn();
    const sent: ControlCommand[] = [];
    const quits: string[] = [];
    const ui = startUi({
      subscribe: src.subscribe,
      send: (c) => sent.push(c),
      onQuit: (how) => quits.push(how),
      labId: 'tm-ui',
      profileName: 'drop-last-ack',
      profileNames: ['drop-last-ack'],
      elapsed: () => 1.234,
      stdout: out as unknown as NodeJS.WriteStream,
      stderr: out as unknown as NodeJS.WriteStream,
      stdin: input as unknown as NodeJS.ReadStream,
      color: false,
      patchConsole: false,
    });
    expect(src.subscribers).toBe(1);
    src.emit(lastAckDropped);
    // Bounded waits, not fixed ones: under load ink renders and React runs effects later.
    await until(() => out.written.includes('dropped last-ack'));
    expect(out.written).toContain('lab tm-ui profile drop-last-ack');
    expect(out.written).toContain('dropped last-ack');
    // The server is CLOSED by now (its last ACK came through at last): r resets the client, in TIME-WAIT.
    input.write('r');
    await until(() => sent.length > 0);
    expect(sent).toEqual([{ kind: 'rst', conn: 1, to: 'client' }]);
    input.write('\u0003'); // Ctrl-C: ink must not exit by itself
    await until(() => quits.length > 0);
    expect(quits).toEqual(['interrupt']);
    expect(src.subscribers).toBe(1);
    ui.unmount();
    await ui.waitUntilExit();
    expect(src.subscribers).toBe(0);
  });
});
