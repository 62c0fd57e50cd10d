// The header's second line shows the connection table — records held,
// evictions and segments passed untracked — only once it has been under
// pressure, after the expectations' count, which an 80-column line must keep.

import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import Header from '../../../src/ui/components/Header.js';

afterEach(() => cleanup());

const base = {
  lab: 'tb1',
  profile: 'passthrough',
  elapsedMs: 1000,
  framesPerSec: 0,
  bytesPerSec: 0,
  frames: 10,
  counters: { dropped: 0, delayed: 0, forged: 0, coalesced: 0, duplicated: 0, replayed: 0, held: 0 },
  heldNow: 0,
  holdOn: false,
  expectOk: 0,
  expectFailed: 0,
  status: undefined,
  color: false,
};

describe('Header: the connection table', () => {
  it('shows the records held, evictions and untracked segments once there are some, after the expectations', () => {
    const quiet = render(<Header {...base} expectOk={8} table={{ tracked: 3, evicted: 0, untracked: 0 }} />);
    expect(quiet.lastFrame()).toMatch(/expect ✓8 ✗0/);
    expect(quiet.lastFrame()).not.toMatch(/table|evicted|untracked/);
    const full = render(<Header {...base} expectOk={2} expectFailed={1} table={{ tracked: 5, evicted: 7, untracked: 2 }} />);
    expect(full.lastFrame()).toMatch(/expect ✓2 ✗1 {2}table 5 {2}evicted 7/);
    const untracked = render(<Header {...base} table={{ tracked: 5, evicted: 0, untracked: 2 }} />);
    expect(untracked.lastFrame()).toMatch(/held 0 {2}table 5 {2}untracked 2/);
  });

  it('keeps the expectations within 80 columns on a quiet table (the tmux drop-last-ack run)', () => {
    const r = render(<Header {...base} frames={31} counters={{ ...base.counters, dropped: 6 }} expectOk={8} table={{ tracked: 1, evicted: 0, untracked: 0 }} />);
    const second = r.lastFrame()!.split('\n')[1]!;
    expect(second).toMatch(/expect ✓8 ✗0$/);
    expect(second.length).toBeLessThanOrEqual(80);
  });
});
