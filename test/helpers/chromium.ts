// Headless Chromium (Debian's `chromium`, installed by scripts/bootstrap.sh
// --test) for tests that check what a browser makes of tcpmitm's pictures:
// a screenshot to PNG, and the DOM after a page's scripts ran.

import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tempDir } from './temp.js';

export const CHROMIUM = 'chromium';

/** Runs chromium headless on `file` with `extra` flags and its own throw-away profile; returns stdout. */
function runChromium(file: string, extra: readonly string[]): string {
  const profile = tempDir('tcpmitm-chromium-');
  try {
    return execFileSync(
      CHROMIUM,
      [
        '--headless',
        // Root in the lab: Chromium's sandbox refuses to run as root without this.
        '--no-sandbox',
        '--disable-gpu',
        '--hide-scrollbars',
        '--no-first-run',
        '--disable-extensions',
        `--user-data-dir=${profile}`,
        ...extra,
        pathToFileURL(file).href,
      ],
      // Generous: a loaded 2-core machine starts a browser slowly; this is a hang guard, not a speed check.
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

export function screenshot(file: string, png: string, width: number, height: number): void {
  runChromium(file, [`--screenshot=${png}`, `--window-size=${width},${height}`]);
}

export function dumpDom(file: string): string {
  return runChromium(file, ['--dump-dom']);
}
