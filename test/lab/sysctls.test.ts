// Per-lab sysctls on real namespaces: what the run's header says was set is
// what a program in that namespace reads from the kernel, the host keeps its
// own values, and a sysctl the namespace lacks stops the run before it
// starts. Then the profile built on them: a RST into TIME-WAIT with the
// client's net.ipv4.tcp_rfc1337 at 0 and at 1 (net/ipv4/tcp_minisocks.c,
// tcp_timewait_state_process: "TIME_WAIT assassination").

import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { labDown, leftovers, readEvents, runCli, type LabEvent } from '../helpers/run-lab.js';
import { TMP, runProfile, segments, seq } from '../helpers/profile-lab.js';

const root = requireRoot();
const ids: string[] = [];
const id = (): string => {
  const x = uniqueLabId('sy');
  ids.push(x);
  return x;
};

const hostValue = (name: string): string => readFileSync(`/proc/sys/${name.replaceAll('.', '/')}`, 'utf8').trim();
const appLines = (evs: readonly LabEvent[], endpoint: string) => evs.filter((e) => e.type === 'app' && e.endpoint === endpoint && e.event === 'output').map((e) => String(e.detail));

describe.skipIf(root.skip)('per-lab sysctls (real namespaces)', () => {
  afterAll(() => ids.forEach(labDown));

  it('--sysctl sets them in the end namespaces before the programs start; the header and the start event say so; the host is untouched', async () => {
    const lab = id();
    const json = `${TMP}/${lab}.jsonl`;
    const before = [hostValue('net.ipv4.tcp_fin_timeout'), hostValue('net.ipv4.tcp_rfc1337')];
    const run = await runCli(
      [
        'lab', '--id', lab, '--no-ui', '--json', json, '--kernel-probe', 'off',
        '--sysctl', 'server:net.ipv4.tcp_fin_timeout=7', '--sysctl', 'net.ipv4.tcp_rfc1337=1',
        '--server', 'cat /proc/sys/net/ipv4/tcp_fin_timeout /proc/sys/net/ipv4/tcp_rfc1337; exec python3 -m http.server 8080 --bind 198.18.0.2',
        '--client', 'cat /proc/sys/net/ipv4/tcp_fin_timeout /proc/sys/net/ipv4/tcp_rfc1337; curl -s -o /dev/null http://198.18.0.2:8080/',
      ],
      30_000,
    );
    expect(run.code, run.stderr).toBe(0);
    const evs = readEvents(json);
    expect(evs[0]).toMatchObject({ type: 'start', sysctls: { client: { 'net.ipv4.tcp_rfc1337': '1' }, server: { 'net.ipv4.tcp_fin_timeout': '7', 'net.ipv4.tcp_rfc1337': '1' } } });
    expect(run.stdout).toMatch(/sysctls: net\.ipv4\.tcp_rfc1337=1 \(both\); net\.ipv4\.tcp_fin_timeout=7 \(server\)/);
    // What the programs themselves read from their namespace's kernel.
    expect(appLines(evs, 'server').slice(0, 2)).toEqual(['7', '1']);
    // The client's fin_timeout is its namespace's default, not the server's.
    expect(appLines(evs, 'client')[0]).not.toBe('7');
    expect(appLines(evs, 'client')[1]).toBe('1');
    expect([hostValue('net.ipv4.tcp_fin_timeout'), hostValue('net.ipv4.tcp_rfc1337')]).toEqual(before);
    expect(leftovers(lab)).toEqual([]);
  });

  it('a sysctl the namespace lacks, or a value the kernel refuses, stops the run before it starts (exit 2), and nothing is left', async () => {
    for (const [flag, msg] of [
      ['net.ipv4.tcp_no_such_knob=1', /sysctl net\.ipv4\.tcp_no_such_knob: the client's network namespace has no such sysctl/],
      ['server:net.ipv4.tcp_rfc1337=banana', /sysctl net\.ipv4\.tcp_rfc1337=banana in the server's namespace: the kernel refused it/],
    ] as const) {
      const lab = id();
      const run = await runCli(['lab', '--id', lab, '--no-ui', '--kernel-probe', 'off', '--sysctl', flag], 30_000);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(msg);
      expect(run.stderr).toMatch(/\[E_SYSCTL\]/);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(leftovers(lab)).toEqual([]);
    }
    // Not a namespace's sysctl at all: refused by the flag's parser.
    const r = await runCli(['lab', '--id', id(), '--no-ui', '--sysctl', 'kernel.pid_max=4096'], 10_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/'kernel\.pid_max' is not a network namespace's sysctl/);
  });

  describe('time-wait-assassination: a RST into the client\'s TIME-WAIT', () => {
    /** The server's FINs after the one replaced by a RST (the first retransmission), and what answered the next. */
    const after = (evs: LabEvent[]) => {
      const all = segments(evs);
      const forged = all.findIndex((e) => e.verdict === 'forged' && e.from === 'server' && String(e.flags).includes('R'));
      const nextFin = all.findIndex((e, i) => i > forged && e.from === 'server' && String(e.flags).includes('F'));
      const answer = nextFin < 0 ? undefined : all.slice(nextFin + 1).find((e) => e.from === 'client');
      return { forged, nextFin, answer };
    };

    it('tcp_rfc1337=0 (the default): TIME-WAIT ends at once, and the server\'s next FIN draws a RST', async () => {
      const run = await runProfile(id(), 'time-wait-assassination', { args: ['--until-closed'] });
      expect(run.code, run.stderr).toBe(0);
      const evs = run.events;
      expect(evs[0]).toMatchObject({ sysctls: { client: { 'net.ipv4.tcp_rfc1337': '0' } } });
      const k = seq(evs, 'client', 'kernel');
      expect(k.slice(-2), `client kernel: ${k.join(' → ')}`).toEqual(['TIME-WAIT', 'CLOSED']);
      expect(seq(evs, 'client', 'inferred').slice(-2)).toEqual(['TIME-WAIT', 'CLOSED']);
      const a = after(evs);
      expect(a.forged, 'a forged RST to the client').toBeGreaterThanOrEqual(0);
      expect(a.nextFin, "the server's next FIN").toBeGreaterThan(a.forged);
      expect(String(a.answer?.flags)).toContain('R');
      expect(seq(evs, 'server', 'kernel').slice(-2)).toEqual(['LAST-ACK', 'CLOSED']);
      // The client's TIME-WAIT lasted until the RST, not 60 s.
      const tw = evs.find((e) => e.type === 'state' && e.source === 'kernel' && e.endpoint === 'client' && e.to === 'TIME-WAIT')!;
      const closed = evs.find((e) => e.type === 'state' && e.source === 'kernel' && e.endpoint === 'client' && e.to === 'CLOSED')!;
      expect(closed.t - tw.t).toBeLessThan(5);
    });

    it('tcp_rfc1337=1: TIME-WAIT ignores the RST, re-ACKs the next FIN, and the server closes cleanly', async () => {
      const run = await runProfile(id(), 'time-wait-assassination', { args: ['--until-closed', '--set', 'rfc1337=1'] });
      expect(run.code, run.stderr).toBe(0);
      const evs = run.events;
      expect(evs[0]).toMatchObject({ sysctls: { client: { 'net.ipv4.tcp_rfc1337': '1' } } });
      const k = seq(evs, 'client', 'kernel');
      expect(k.at(-1), `client kernel: ${k.join(' → ')}`).toBe('TIME-WAIT');
      // The inference knows the client's tcp_rfc1337 too: no CLOSED on the RST.
      expect(seq(evs, 'client', 'inferred').at(-1)).toBe('TIME-WAIT');
      const a = after(evs);
      expect(a.nextFin).toBeGreaterThan(a.forged);
      expect(a.answer).toMatchObject({ role: 'last-ack', verdict: 'pass' });
      expect(String(a.answer?.flags)).not.toContain('R');
      expect(seq(evs, 'server', 'kernel').slice(-2)).toEqual(['LAST-ACK', 'CLOSED']);
    });
  });
});
