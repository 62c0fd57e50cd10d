import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPeerLine, parsePeerLine } from '../../src/lab/peers/format.js';
import { parseHostPort, parseKeepalive, parseOnEof, parseThen, formatSockAddr } from '../../src/lab/peers/options.js';
import { createVethPair, requireRoot, startPeer, uniqueLabId, until, type VethPair } from '../helpers/lab.js';

const root = requireRoot();
const events = (lines: Record<string, unknown>[]) => lines.map((l) => l.event);

describe('peer line format and options (pure)', () => {
  it('round-trips a line into endpoint, event and detail', () => {
    const line = formatPeerLine('client', 'connected', 12.345, { local: '198.18.0.1:40000', remote: '198.18.0.2:8080' });
    expect(line.endsWith('\n')).toBe(true);
    expect(parsePeerLine(line.trim())).toEqual({ endpoint: 'client', event: 'connected', t: 12.3, detail: '198.18.0.1:40000 → 198.18.0.2:8080' });
    expect(parsePeerLine('{"peer":"server","event":"ECONNRESET","t":5,"message":"read ECONNRESET"}')).toEqual({
      endpoint: 'server', event: 'ECONNRESET', t: 5, detail: 'read ECONNRESET',
    });
    expect(parsePeerLine('{"peer":"server","event":"data","t":1,"bytes":100}')?.detail).toBe('100 bytes');
    expect(parsePeerLine('{"peer":"server","event":"eof","t":1}')).toEqual({ endpoint: 'server', event: 'eof', t: 1 });
    for (const bad of ['', 'hello', '{"peer":"x","event":"eof","t":1}', '{"peer":"client","event":"","t":1}', '{"peer":"client","event":"eof"}', '[1]']) {
      expect(parsePeerLine(bad)).toBeUndefined();
    }
  });

  it('parses the close actions, keepalive and HOST:PORT, naming the bad token', () => {
    expect(parseOnEof('delay:300')).toEqual({ kind: 'delay', ms: 300 });
    expect(parseOnEof('linger0')).toEqual({ kind: 'linger0' });
    expect(parseThen('wait:50')).toEqual({ kind: 'wait', ms: 50 });
    expect(parseThen('kill')).toEqual({ kind: 'kill' });
    expect(() => parseOnEof('delay:x')).toThrow(/'delay:x'/);
    expect(() => parseThen('explode')).toThrow(/'explode' is not one of/);
    expect(parseKeepalive('2,1,3')).toEqual({ idleS: 2, intvlS: 1, probes: 3 });
    expect(() => parseKeepalive('2,0,3')).toThrow(/IDLE,INTVL,CNT/);
    expect(parseHostPort('[2001:2::2]:8080')).toEqual({ host: '2001:2::2', port: 8080 });
    expect(parseHostPort('198.18.0.2:80')).toEqual({ host: '198.18.0.2', port: 80 });
    expect(() => parseHostPort('198.18.0.2')).toThrow(/HOST:PORT/);
    expect(formatSockAddr('::ffff:198.18.0.1', 4000)).toBe('198.18.0.1:4000');
    expect(formatSockAddr('2001:2::1', 4000)).toBe('[2001:2::1]:4000');
  });
});

describe.skipIf(root.skip)('built-in peers over a direct veth pair (real namespaces)', () => {
  let pair: VethPair;
  let port = 8100;
  beforeAll(async () => {
    pair = await createVethPair(uniqueLabId('tl'));
  });
  afterAll(() => pair?.destroy());

  async function run(serverArgs: string[], clientArgs: string[]) {
    const p = String(port++);
    const server = startPeer(pair.ns.server, 'server', ['--port', p, '--host', '198.18.0.2', '--timeout', '15000', ...serverArgs]);
    await until(() => events(server.lines).includes('listening'));
    const client = startPeer(pair.ns.client, 'client', ['--connect', `198.18.0.2:${p}`, '--timeout', '15000', ...clientArgs]);
    const [s, c] = await Promise.all([server.done, client.done]);
    return { s, c };
  }

  it('default lab: request, answer, client closes, server closes 300 ms after EOF', async () => {
    const { s, c } = await run(['--send', '1000', '--on-eof', 'delay:300'], ['--send', '100', '--recv', '1000', '--then', 'close']);
    expect(events(c.lines)).toEqual(expect.arrayContaining(['connected', 'sent', 'data', 'close', 'closed', 'exit']));
    expect(c.lines.filter((l) => l.event === 'data').reduce((n, l) => n + (l.bytes as number), 0)).toBe(1000);
    expect(events(s.lines)).toEqual(['listening', 'connected', 'data', 'sent', 'eof', 'close', 'closed', 'exit']);
    const eof = s.lines.find((l) => l.event === 'eof')!.t as number;
    const close = s.lines.find((l) => l.event === 'close')!.t as number;
    expect(close - eof).toBeGreaterThanOrEqual(295);
    expect(c.code).toBe(0);
    expect(s.code).toBe(0);
    expect(s.lines.at(-1)).toMatchObject({ event: 'exit', code: 0 });
  });

  it('linger0: the client aborts, the server reads ECONNRESET', async () => {
    const { s, c } = await run(['--send', '10', '--on-eof', 'delay:300'], ['--send', '10', '--recv', '10', '--then', 'linger0']);
    expect(events(c.lines)).toContain('linger0');
    expect(events(s.lines)).toContain('ECONNRESET');
    expect(events(s.lines)).not.toContain('eof');
  });

  it('shutdown: a half-close still receives the data the server sends after the FIN', async () => {
    const { s, c } = await run(['--send', '5000', '--on-eof', 'delay:100'], ['--then', 'shutdown']);
    const ce = events(c.lines);
    expect(ce.indexOf('shutdown')).toBeGreaterThan(-1);
    expect(ce.indexOf('data')).toBeGreaterThan(ce.indexOf('shutdown'));
    expect(ce.indexOf('eof')).toBeGreaterThan(ce.indexOf('data'));
    expect(c.lines.filter((l) => l.event === 'data').reduce((n, l) => n + (l.bytes as number), 0)).toBe(5000);
    expect(events(s.lines).slice(1, 5)).toEqual(['connected', 'eof', 'sent', 'close']);
  });

  it('kill: the kernel sends the FIN for a killed client', async () => {
    const { s, c } = await run(['--on-eof', 'close'], ['--send', '10', '--then', 'kill']);
    expect(c.signal).toBe('SIGKILL');
    expect(events(c.lines).at(-1)).toBe('kill');
    expect(events(s.lines)).toEqual(['listening', 'connected', 'data', 'eof', 'close', 'closed', 'exit']);
  });

  it('keepalive: probes cross an idle connection about once per idle second', async () => {
    const p = String(port++);
    const dump = spawn('ip', ['netns', 'exec', pair.ns.server, 'tcpdump', '-l', '-n', '-tt', '-i', 's0', `tcp and src host 198.18.0.1 and port ${p}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let dumped = '';
    let dumpErr = '';
    dump.stdout!.on('data', (d: Buffer) => (dumped += d.toString()));
    dump.stderr!.on('data', (d: Buffer) => (dumpErr += d.toString()));
    try {
      await until(() => dumpErr.includes('listening on'), 5000);
      const server = startPeer(pair.ns.server, 'server', ['--port', p, '--host', '198.18.0.2', '--timeout', '15000']);
      await until(() => events(server.lines).includes('listening'));
      const client = startPeer(pair.ns.client, 'client', ['--connect', `198.18.0.2:${p}`, '--keepalive', '1,1,10', '--then', 'wait:3600', '--timeout', '15000']);
      const c = await client.done;
      await server.done;
      expect(c.lines.find((l) => l.event === 'keepalive')).toMatchObject({ idle: 1, intvl: 1, probes: 10 });
      await new Promise((r) => setTimeout(r, 200));
      // Pure ACKs from the client after the handshake's: keepalive probes (seq = snd_nxt − 1, no data).
      const acks = dumped.split('\n').filter((l) => /Flags \[\.\], ack 1, win \d+, options .*length 0$/.test(l) && !/seq/.test(l));
      const probes = acks.slice(1);
      expect(probes.length).toBeGreaterThanOrEqual(2);
      const ts = probes.map((l) => Number(l.split(' ')[0]));
      for (let i = 1; i < ts.length; i++) expect(ts[i]! - ts[i - 1]!).toBeGreaterThan(0.9);
    } finally {
      dump.kill('SIGTERM');
    }
  });
});
