import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startKernelProbe, type KernelObservation } from '../../src/io/kernel-probe.js';
import { TraceInstance, TRACEFS } from '../../src/io/kernel-probe-trace.js';
import { REPO, createVethPair, requireRoot, startPeer, uniqueLabId, until, type VethPair } from '../helpers/lab.js';
import { ensureBuilt } from '../helpers/run-lab.js';

const root = requireRoot();

/** The states one tuple went through, in order, starting with the first `from` (orphan notices are no change). */
function sequence(obs: KernelObservation[], ns: 'client' | 'server', local: string): string[] {
  const mine = obs.filter((o) => o.ns === ns && o.local === local && o.from !== o.to);
  return mine.length ? [mine[0]!.from, ...mine.map((o) => o.to)] : [];
}

function ssTan(ns: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'ss', '-tanH'], { encoding: 'utf8' });
}

describe.skipIf(root.skip)('kernel probe on a real close (direct veth pair)', () => {
  let pair: VethPair;
  let port = 8200;
  beforeAll(async () => {
    pair = await createVethPair(uniqueLabId('tl'));
  });
  afterAll(() => pair?.destroy());

  /**
   * `thread: 'worker'` runs the built dist/ (the worker is a compiled file);
   * the rest runs these sources on the test's own thread.
   */
  async function defaultClose(source: 'proc' | 'trace', then = 'close', thread: 'caller' | 'worker' = 'caller', traceFormat: 'raw' | 'text' = 'raw') {
    const obs: KernelObservation[] = [];
    let start = startKernelProbe;
    if (thread === 'worker') {
      ensureBuilt();
      start = ((await import(join(REPO, 'dist/io/kernel-probe.js'))) as { startKernelProbe: typeof startKernelProbe }).startKernelProbe;
    }
    const probe = await start({ source, labId: `${pair.ns.client.slice(0, -2)}`, pids: pair.pids, onChange: (o) => obs.push(o), periodMs: 5, thread, traceFormat });
    expect(probe.source).toBe(source);
    const p = String(port++);
    try {
      const server = startPeer(pair.ns.server, 'server', ['--port', p, '--host', '198.18.0.2', '--send', '1000', '--on-eof', 'delay:300', '--timeout', '10000']);
      await until(() => server.lines.some((l) => l.event === 'listening'));
      const client = startPeer(pair.ns.client, 'client', ['--connect', `198.18.0.2:${p}`, '--send', '100', '--recv', '1000', '--then', then, '--timeout', '10000']);
      const c = await client.done;
      await server.done;
      const local = c.lines.find((l) => l.event === 'connected')!.local as string;
      const serverLocal = `198.18.0.2:${p}`;
      await until(() => obs.some((o) => o.ns === 'client' && o.local === local && o.to === 'TIME-WAIT')
        && obs.some((o) => o.ns === 'server' && o.local === serverLocal && o.to === 'CLOSED'), 3000).catch((err: Error) => {
        throw new Error(`${err.message}; observed: ${JSON.stringify(obs)}`);
      });
      if (source === 'trace') {
        // The worker's figures come with its reads.
        await until(() => probe.stats().reads > 0, 3000);
        expect(probe.stats()).toMatchObject({ thread, format: traceFormat });
      }
      // What `ss -tan` shows now must be where the probe says each side is.
      const ssClient = ssTan(pair.ns.client);
      const ssServer = ssTan(pair.ns.server);
      expect(ssClient).toMatch(new RegExp(`^TIME-WAIT\\s+0\\s+0\\s+${local.replace(/\./g, '\\.')}\\s+198\\.18\\.0\\.2:${p}\\s*$`, 'm'));
      expect(ssServer).not.toContain(`198.18.0.2:${p} `);
      return {
        client: sequence(obs, 'client', local),
        server: sequence(obs.filter((o) => o.remote === local), 'server', serverLocal),
        clientOrphaned: obs.some((o) => o.ns === 'client' && o.local === local && o.orphan === true),
      };
    } finally {
      await probe.stop();
    }
  }

  it('proc source: the sequence of a normal four-way close in both namespaces', async () => {
    // The client holds the connection 50 ms so that ESTAB outlasts the poll period.
    const seq = await defaultClose('proc', 'wait:50');
    console.log(`proc probe saw (client waits 50 ms): client ${seq.client.join(' → ')}; server ${seq.server.join(' → ')}`);
    // A 5 ms poller cannot see sub-millisecond states (LAST-ACK lasts one RTT
    // on a veth): assert the states that last, in order.
    const lasting = (xs: string[], keep: string[]) => xs.filter((x) => keep.includes(x));
    expect(lasting(seq.client, ['CLOSED', 'ESTAB', 'FIN-WAIT-2', 'TIME-WAIT'])).toEqual(['CLOSED', 'ESTAB', 'FIN-WAIT-2', 'TIME-WAIT']);
    // An accepted socket starts from LISTEN (the listener was seen on its port), as with the tracepoint.
    expect(lasting(seq.server, ['LISTEN', 'CLOSED', 'ESTAB', 'CLOSE-WAIT'])).toEqual(['LISTEN', 'ESTAB', 'CLOSE-WAIT', 'CLOSED']);
    // Every observation chains: each from is the previous to.
    for (let i = 2; i < seq.client.length; i++) expect(seq.client[i]).not.toBe(seq.client[i - 1]);

    const fast = await defaultClose('proc');
    console.log(`proc probe saw (default lab): client ${fast.client.join(' → ')}; server ${fast.server.join(' → ')}`);
    expect(lasting(fast.client, ['FIN-WAIT-2', 'TIME-WAIT'])).toEqual(['FIN-WAIT-2', 'TIME-WAIT']);
    expect(lasting(fast.server, ['CLOSE-WAIT', 'CLOSED']).slice(-2)).toEqual(['CLOSE-WAIT', 'CLOSED']);
  });

  const traceOk = (() => {
    try {
      return existsSync(`${TRACEFS}/events/sock/inet_sock_set_state`) || existsSync('/sys/kernel/debug');
    } catch {
      return false;
    }
  })();
  // Binary pages wherever this kernel's formats are the ones tcpmitm decodes (Linux 6.x), else text.
  it.skipIf(!traceOk).each([
    ['caller', 'raw'],
    ['worker', 'raw'],
    ['caller', 'text'],
  ] as const)('trace source read on the %s thread, %s: every transition, TIME-WAIT mapped from "→ CLOSE", instance removed on stop', async (thread, format) => {
    const seq = await defaultClose('trace', 'close', thread, format);
    console.log(`trace probe saw: client ${seq.client.join(' → ')}; server ${seq.server.join(' → ')}`);
    expect(seq.client).toEqual(['CLOSED', 'SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
    // An accepted socket leaves LISTEN, as the tracepoint says.
    expect(seq.server).toEqual(['LISTEN', 'SYN-RECV', 'ESTAB', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    // The client close()d: its FIN-WAIT-2 is an orphan's timewait mini-socket (tcp_fin_timeout runs).
    expect(seq.clientOrphaned).toBe(true);
    expect(existsSync(TraceInstance.instanceDir(pair.ns.client.slice(0, -2)))).toBe(false);
  });
});
