// The lab session's node flags: no memory reducer (delay precision), and a
// ceiling on V8's old space sized from the connection table's bound.

import { describe, expect, it } from 'vitest';
import { sessionNodeFlags } from '../../../src/session/node-flags.js';
import { DEFAULT_MAX_CONNECTIONS } from '../../../src/tcp/tracker.js';

describe('sessionNodeFlags', () => {
  it('caps the old space at 96 MiB + 2 KiB per connection of the table', () => {
    expect(sessionNodeFlags(DEFAULT_MAX_CONNECTIONS)).toEqual(['--no-memory-reducer', '--max-old-space-size=160']);
    expect(sessionNodeFlags(1)).toEqual(['--no-memory-reducer', '--max-old-space-size=97']);
    expect(sessionNodeFlags(1_000_000)).toEqual(['--no-memory-reducer', '--max-old-space-size=2050']);
  });
});
