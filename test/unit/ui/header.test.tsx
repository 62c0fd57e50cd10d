// The header's second line shows the connection table: records held, and —
// only once there are any — evictions and segments passed untracked.

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
  counters: { dropped: 0, delayed: 0, forged: 0, coalesced: 0, duplicated: 0, held: 0 },
  heldNow: 0,
  holdOn: false,
  expectOk: 0,
  expectFailed: 0,
  status: undefined,
  color: false,
};

describe('Header: the connection table', () => {
  it('shows the records held, and evictions and untracked segments once there are some', () => {
    const quiet = render(<Header {...base} table={{ tracked: 3, evicted: 0, untracked: 0 }} />);
    expect(quiet.lastFrame()).toMatch(/conns 3/);
    expect(quiet.lastFrame()).not.toMatch(/evicted|untracked/);
    const full = render(<Header {...base} table={{ tracked: 5, evicted: 7, untracked: 2 }} />);
    expect(full.lastFrame()).toMatch(/conns 5 {2}evicted 7 {2}untracked 2/);
  });
});
