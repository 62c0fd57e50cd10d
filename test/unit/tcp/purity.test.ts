// src/tcp is pure (STYLE.md): no node:* I/O, no clock, no randomness. A
// textual check over its modules, so a stray import fails the build.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, '../../../src/tcp');
const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

describe('src/tcp purity', () => {
  it('has modules to check', () => {
    expect(files).toContain('tracker.ts');
  });
  it.each(files)('%s imports no I/O and reads no clock or rng', (f) => {
    const text = readFileSync(join(dir, f), 'utf8');
    const imports = [...text.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]!);
    for (const spec of imports) {
      expect(spec.startsWith('node:') ? spec === 'node:buffer' : spec.startsWith('.'), `${f} imports ${spec}`).toBe(true);
    }
    expect(text).not.toMatch(/\bDate\.now\(|Math\.random\(|performance\.now\(|process\./);
  });
});
