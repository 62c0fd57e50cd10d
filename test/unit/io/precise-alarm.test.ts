// The timerfd alarm of tcpmitm's native addon, in process (no privileges
// needed): it fires, never before its time, can be re-armed and cancelled,
// and, like a timeout, keeps the process alive only while armed.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { preciseAlarm } from '../../../src/io/precise-alarm.js';

const REPO = join(import.meta.dirname, '../../..');

function fireAfter(arm: (alarm: ReturnType<typeof preciseAlarm>) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error('the alarm did not fire within 2 s')), 2000);
    const alarm = preciseAlarm(() => {
      clearTimeout(guard);
      alarm.close();
      resolve(performance.now());
    });
    arm(alarm);
  });
}

/** Waits `ms`, then through one more poll phase (setImmediate runs after it), so a due timerfd has been read. */
async function pastPoll(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  await new Promise((r) => setImmediate(r));
}

describe('precise alarm (timerfd)', () => {
  it('fires, and not before the time it was armed for', async () => {
    for (const ms of [0.3, 2, 7.5]) {
      const t0 = performance.now();
      const fired = await fireAfter((a) => a.arm(ms));
      expect(fired - t0).toBeGreaterThanOrEqual(ms);
    }
  });

  it('a new arming replaces the earlier one; a cancelled alarm stays silent', async () => {
    let n = 0;
    const a = preciseAlarm(() => n++);
    a.arm(1);
    a.arm(3);
    // Bounded, not fixed: on a loaded machine the timer phase that ends a fixed
    // wait can run before the poll phase that reads the timerfd.
    for (let i = 0; i < 400 && n === 0; i++) await new Promise((r) => setTimeout(r, 5));
    await pastPoll(20);
    expect(n).toBe(1);
    a.arm(2);
    a.cancel();
    await pastPoll(20);
    expect(n).toBe(1);
    a.close();
  });

  it('keeps the process alive while armed, and only then', () => {
    // The built module (npm test builds first): plain node cannot load TypeScript on Node 20.
    const mod = join(REPO, 'dist/io/precise-alarm.js');
    const script = (armed: boolean) =>
      `const { preciseAlarm } = await import(${JSON.stringify(mod)});
       const a = preciseAlarm(() => { console.log('fired'); a.close(); });
       ${armed ? 'a.arm(300);' : ''}`;
    const run = (armed: boolean) =>
      spawnSync(process.execPath, ['--input-type=module', '-e', script(armed)], { encoding: 'utf8', timeout: 10_000 });
    const armed = run(true);
    expect(armed.stderr).toBe('');
    expect(armed.stdout.trim()).toBe('fired');
    const idle = run(false);
    expect(idle.status).toBe(0);
    expect(idle.stdout).toBe('');
  });
});
