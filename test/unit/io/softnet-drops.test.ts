import { describe, expect, it } from 'vitest';
import { parseSoftnetDrops, readSoftnetDrops } from '../../../src/io/softnet-drops.js';

describe('softnet_stat drops', () => {
  it('sums the second column (hexadecimal) over every CPU', () => {
    const text = ['0004d2a1 00000000 00000003 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000',
      '00031f07 000005a3 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000000', ''].join('\n');
    expect(parseSoftnetDrops(text)).toBe(0x5a3);
    expect(parseSoftnetDrops('')).toBe(0);
  });

  it("reads this machine's counter", () => {
    expect(readSoftnetDrops()).toBeGreaterThanOrEqual(0);
  });
});
