// Loads the hex fixtures of test/fixtures/packet (real Linux frames, see the
// README there): each frame is a "# tcpdump summary" line and a hex line.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Fixture {
  readonly file: string;
  readonly index: number;
  readonly summary: string;
  readonly bytes: Buffer;
}

export const FIXTURE_DIR = join(import.meta.dirname, '../../fixtures/packet');

export function loadFixtures(): Fixture[] {
  const out: Fixture[] = [];
  for (const file of readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.hex')).sort()) {
    const lines = readFileSync(join(FIXTURE_DIR, file), 'utf8').split('\n');
    let summary = '';
    let index = 0;
    for (const line of lines) {
      if (line.startsWith('#')) summary = line.slice(2);
      else if (line.trim()) out.push({ file, index: index++, summary, bytes: Buffer.from(line.trim(), 'hex') });
    }
  }
  return out;
}
