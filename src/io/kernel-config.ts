// Reads the running kernel's CONFIG_HZ, which sets the timer-wheel slack the
// kernel view allows at the end of TIME-WAIT and of an orphan's FIN-WAIT-2:
// from /proc/config.gz (CONFIG_IKCONFIG_PROC) or /boot/config-<release>.

import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';

/** CONFIG_HZ from a kernel config's text (pure); undefined when absent. */
export function parseConfigHz(config: string): number | undefined {
  const m = /^CONFIG_HZ=(\d+)$/m.exec(config);
  return m ? Number(m[1]) : undefined;
}

/** The running kernel's CONFIG_HZ, or undefined when no config can be read. */
export function readKernelHz(): number | undefined {
  const sources: (() => string)[] = [
    () => gunzipSync(readFileSync('/proc/config.gz')).toString('latin1'),
    () => readFileSync(`/boot/config-${release()}`, 'latin1'),
  ];
  for (const read of sources) {
    try {
      const hz = parseConfigHz(read());
      if (hz !== undefined) return hz;
    } catch {
      // Not available here: try the next.
    }
  }
  return undefined;
}
