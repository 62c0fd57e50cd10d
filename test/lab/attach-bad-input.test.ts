// attach over what real networks hand it (issue 12 §5), in namespaces this
// file makes (bi<hex>-c ⇄ -m ⇄ -s, two veth pairs): a default route in a
// policy-routing table is refused like main's; QinQ (802.1ad outer + 802.1Q
// inner tag) TCP is tracked, and a drop-all profile drops it; a far end with
// offloads on (checksums left to a device) or links with different MTUs make
// frames that cannot cross, and tcpmitm says so once, with the command to run,
// and counts them; the largest profile `profiles check` accepts runs in attach,
// tap and lab. Real programs at the ends (python3: sockets, AF_PACKET).

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO, netnsList, requireRoot, uniqueLabId, until } from '../helpers/lab.js';
import { type LabEvent, type RunningCli, leftovers, readEvents, runCli, stopRunsAndLabs } from '../helpers/run-lab.js';
import { PROFILE_MAX_BYTES } from '../../src/rules/load.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const id = uniqueLabId('bi');
const NS = { c: `${id}-c`, m: `${id}-m`, s: `${id}-s` } as const;
const BIN = join(REPO, 'bin/tcpmitm.js');
const tmp = tempDir('bi-attach-');
const children: ChildProcess[] = [];
const labRuns: RunningCli[] = [];
const labIds: string[] = [];

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
function inNs(ns: string, ...cmd: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const OFFLOADS = ['tx', 'tso', 'gso', 'gro'];
function offloads(ns: string, dev: string, on: boolean): void {
  inNs(ns, 'ethtool', '-K', dev, ...OFFLOADS.flatMap((f) => [f, on ? 'on' : 'off']));
}
function teardown(): void {
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns]);
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function track(child: ChildProcess): ChildProcess {
  children.push(child);
  child.on('close', () => children.splice(children.indexOf(child), 1));
  return child;
}

function collect(child: ChildProcess): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((res) => child.on('close', (code) => res({ code, stdout, stderr })));
}

/** `tcpmitm attach --a m0 --b m1 …` in the middle namespace. */
function attach(args: string[]): { child: ChildProcess; done: Promise<Run> } {
  const child = track(spawn('ip', ['netns', 'exec', NS.m, process.execPath, BIN, 'attach', '--a', 'm0', '--b', 'm1', '--no-ui', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  return { child, done: collect(child) };
}

/** A python3 server on addr:8080 that reads to EOF, prints the byte count and exits. */
function server(addr: string, family: 4 | 6 = 4): Promise<Run> {
  const py = `import socket
s = socket.socket(socket.AF_INET${family === 6 ? '6' : ''})
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('${addr}', 8080)); s.listen(); s.settimeout(15)
c, _ = s.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
print(n)`;
  return collect(track(spawn('ip', ['netns', 'exec', NS.s, 'python3', '-c', py], { stdio: ['ignore', 'pipe', 'pipe'] })));
}

/** A python3 client that sends `bytes` to addr:8080 and closes; exit 0 when it all went, else 1 with the error. */
function client(addr: string, bytes: number, timeoutS = 10): Promise<Run> {
  const py = `import socket, sys
try:
    s = socket.create_connection(('${addr}', 8080), timeout=${timeoutS})
    s.sendall(b'x' * ${bytes}); s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
except OSError as e:
    print(type(e).__name__, e, file=sys.stderr); sys.exit(1)`;
  return collect(track(spawn('ip', ['netns', 'exec', NS.c, 'python3', '-c', py], { stdio: ['ignore', 'pipe', 'pipe'] })));
}

function listening(): boolean {
  return inNs(NS.s, 'ss', '-Htln').includes(':8080');
}

function lastStats(evs: readonly LabEvent[]): LabEvent {
  const s = evs.filter((e) => e.type === 'stats').at(-1);
  if (!s) throw new Error('no stats event');
  return s;
}

describe.skipIf(root.skip)('attach and bad input from the network (real namespaces)', () => {
  beforeAll(() => {
    teardown();
    for (const ns of Object.values(NS)) ip('netns', 'add', ns);
    ip('-n', NS.c, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 'm0', 'netns', NS.m);
    ip('-n', NS.s, 'link', 'add', 's0', 'type', 'veth', 'peer', 'name', 'm1', 'netns', NS.m);
    ip('-n', NS.c, 'addr', 'add', '198.18.70.1/24', 'dev', 'c0');
    ip('-n', NS.s, 'addr', 'add', '198.18.70.2/24', 'dev', 's0');
    for (const [ns, devs] of [[NS.c, ['lo', 'c0']], [NS.m, ['lo', 'm0', 'm1']], [NS.s, ['lo', 's0']]] as const) {
      for (const d of devs) ip('-n', ns, 'link', 'set', d, 'up');
    }
    for (const [ns, dev] of [[NS.c, 'c0'], [NS.m, 'm0'], [NS.m, 'm1'], [NS.s, 's0']] as const) offloads(ns, dev, false);
  });
  afterEach(() => {
    for (const c of [...children]) c.kill('SIGKILL');
    stopRunsAndLabs(labRuns, labIds);
  });
  afterAll(() => {
    teardown();
    rmSync(tmp, { recursive: true, force: true });
    expect(netnsList().filter((n) => n.startsWith(id))).toEqual([]);
  });

  it('refuses an interface that a default route in a policy table goes through (v4 and v6), naming table and rule; --force overrides', async () => {
    ip('-n', NS.m, 'addr', 'add', '198.19.70.1/24', 'dev', 'm1');
    ip('-n', NS.m, 'route', 'add', 'default', 'via', '198.19.70.254', 'dev', 'm1', 'table', '100');
    ip('-n', NS.m, 'rule', 'add', 'from', '198.19.80.0/24', 'lookup', '100', 'pref', '1000');
    try {
      const r = await attach(['--duration', '0.3']).done;
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(
        "interface 'm1' carries a default route in routing table 100 (IPv4, used by ip rule 1000: from 198.19.80.0/24 lookup 100): attaching to it would cut this machine's own connections",
      );
      expect(r.stderr).toContain('[E_DEFAULT_ROUTE]');
      expect(r.stderr).toContain('ip -4 route show table 100 default');
      expect((await attach(['--duration', '0.3', '--force']).done).code).toBe(0);

      // A table no rule looks up routes nothing: accepted without --force.
      ip('-n', NS.m, 'rule', 'del', 'pref', '1000');
      const unused = await attach(['--duration', '0.3']).done;
      expect(unused.code, unused.stderr).toBe(0);

      // IPv6: a default via m0 in table 200, looked up for fwmark 7.
      ip('-n', NS.m, '-6', 'addr', 'add', '2001:2::70:1/64', 'dev', 'm0', 'nodad');
      ip('-n', NS.m, '-6', 'route', 'add', 'default', 'via', '2001:2::70:fe', 'dev', 'm0', 'table', '200');
      ip('-n', NS.m, '-6', 'rule', 'add', 'fwmark', '7', 'lookup', '200', 'pref', '2000');
      const v6 = await attach(['--duration', '0.3']).done;
      expect(v6.code).toBe(2);
      expect(v6.stderr).toContain("interface 'm0' carries a default route in routing table 200 (IPv6, used by ip rule 2000: from all fwmark 0x7 lookup 200)");
    } finally {
      spawnSync('ip', ['-n', NS.m, 'rule', 'del', 'pref', '1000']);
      spawnSync('ip', ['-n', NS.m, '-6', 'rule', 'del', 'pref', '2000']);
      spawnSync('ip', ['-n', NS.m, 'route', 'flush', 'table', '100']);
      spawnSync('ip', ['-n', NS.m, '-6', 'route', 'flush', 'table', '200']);
      spawnSync('ip', ['-n', NS.m, 'addr', 'flush', 'dev', 'm1']);
      spawnSync('ip', ['-n', NS.m, '-6', 'addr', 'flush', 'dev', 'm0']);
    }
  }, 60_000);

  it('the largest profile `profiles check` accepts (just under 1 MiB, ~11 000 rules) runs in attach, tap and lab', async () => {
    const head = 'name: bi-largest\ndescription: pass rules that never match here\nrules:\n';
    const rule = (i: number) => `  - id: never-${i}\n    match: {role: window-probe, from: server, port: ${10001 + (i % 50000)}}\n    action: pass\n`;
    let text = head;
    for (let i = 0; text.length + rule(i).length <= PROFILE_MAX_BYTES; i++) text += rule(i);
    const file = join(tmp, 'largest.yaml');
    writeFileSync(file, text);
    const rules = text.split('  - id: ').length - 1;
    expect(rules).toBeGreaterThan(10_000);
    const check = await runCli(['profiles', 'check', file], 60_000);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain(`${rules} rule(s)`);

    const modes: [string, string[]][] = [
      ['attach', ['attach', '--a', 'm0', '--b', 'm1']],
      ['tap', ['tap', '--iface', 'm0']],
    ];
    for (const [mode, args] of modes) {
      const json = join(tmp, `largest-${mode}.jsonl`);
      const r = await collect(track(spawn('ip', ['netns', 'exec', NS.m, process.execPath, BIN, ...args, '--no-ui', '--profile', file, '--json', json, '--duration', '0.5'], { stdio: ['ignore', 'pipe', 'pipe'] })));
      expect(r.code, `${mode}: ${r.stderr}`).toBe(0);
      expect(readEvents(json)[0]).toMatchObject({ type: 'start', mode, profile: 'bi-largest' });
    }
    const lab = uniqueLabId('bi');
    labIds.push(lab);
    const json = join(tmp, 'largest-lab.jsonl');
    const run = await runCli(['lab', '--no-ui', '--id', lab, '--profile', file, '--json', json], 120_000);
    expect(run.code, run.stderr.slice(0, 2000)).toBe(0);
    const evs = readEvents(json);
    expect(evs[0]).toMatchObject({ type: 'start', mode: 'lab', profile: 'bi-largest' });
    expect(evs.at(-1)).toMatchObject({ type: 'end', exitCode: 0 });
    expect(leftovers(lab)).toEqual([]);
  }, 240_000);

  it('tracks TCP in QinQ frames (802.1ad outer, 802.1Q inner tag), both tags and TPIDs kept across; a drop-all profile drops it', async () => {
    // This kernel may have no VLAN devices (CONFIG_VLAN_8021Q): the ends are
    // python3 on AF_PACKET sockets, sending and receiving the tagged frames
    // themselves. On the way in, each veth's receive path moves the outer tag
    // into the packet's metadata (skb_vlan_untag), so what tcpmitm forwards
    // carries it again only if its addon re-inserts it with the right TPID.
    const macOf = (ns: string, dev: string) => (JSON.parse(inNs(ns, 'ip', '-j', 'link', 'show', 'dev', dev)) as { address: string }[])[0]!.address;
    const [cmac, smac] = [macOf(NS.c, 'c0'), macOf(NS.s, 's0')];
    /** A qinq_peer.py; resolves once its socket is bound, with the promise of its end and frames. */
    const peer = async (ns: string, role: string, dev: string, mine: string, theirs: string, myIp: string, theirIp: string) => {
      const child = track(spawn('ip', ['netns', 'exec', ns, 'python3', join(REPO, 'test/helpers/qinq_peer.py'), role, dev, mine, theirs, myIp, theirIp], { stdio: ['ignore', 'pipe', 'pipe'] }));
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const done = collect(child).then((r) => ({
        ...r,
        frames: r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((f) => !('ready' in f)),
      }));
      await until(() => out.includes('"ready"') || child.exitCode !== null, 10_000);
      return { done };
    };
    const QINQ = [[0x88a8, 100], [0x8100, 200]];

    const json = join(tmp, 'qinq.jsonl');
    const run = attach(['--json', json, '--duration', '30']);
    await until(() => readEvents(json).some((e) => e.type === 'start'), 10_000);
    const srv = await peer(NS.s, 'server', 's0', smac, cmac, '198.18.71.2', '198.18.71.1');
    const cli = await (await peer(NS.c, 'client', 'c0', cmac, smac, '198.18.71.1', '198.18.71.2')).done;
    const got = await srv.done;
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(got.code, got.stdout + got.stderr).toBe(0);
    // Each end got the other's segments with both tags as sent: outer 802.1ad id 100, inner 802.1Q id 200.
    expect(got.frames.map((f) => f.flags ?? 'marker')).toEqual(['S', 'A', 'AP', 'AF', 'A', 'marker']);
    expect(cli.frames.map((f) => f.flags)).toEqual(['SA', 'A', 'AF']);
    for (const f of [...got.frames, ...cli.frames]) expect(f.tags).toEqual(QINQ);
    // The receiving veth had moved the outer tag into the metadata, as it does on m0 and m1 for tcpmitm.
    expect(got.frames.every((f) => f.outerFromAux === true)).toBe(true);
    await until(() => readEvents(json).some((e) => e.type === 'state' && e.endpoint === 'server' && e.to === 'CLOSED'), 10_000);
    run.child.kill('SIGINT');
    await run.done;
    const evs = readEvents(json);
    expect(evs.filter((e) => e.type === 'connection')).toMatchObject([{ client: '198.18.71.1:43210', server: '198.18.71.2:8080', pickedUp: false }]);
    const seq = (who: string) => evs.filter((e) => e.type === 'state' && e.endpoint === who && e.source === 'inferred').map((e) => e.to);
    expect(seq('client')).toEqual(['SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'TIME-WAIT']);
    expect(seq('server')).toEqual(['SYN-RECV', 'ESTAB', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    expect(evs.filter((e) => e.type === 'segment').map((e) => e.flags)).toEqual(['S', 'SA', 'A', 'PA', 'A', 'FA', 'FA', 'A']);
    expect(lastStats(evs)).toMatchObject({ malformed: 0, unsent: 0, badChecksum: 0 });

    // Drop-all: the SYN is dropped; the marker frame sent after it (not TCP) passes, and it is all the server sees.
    const dropAll = join(tmp, 'drop-all.yaml');
    writeFileSync(dropAll, 'name: bi-drop-all\ndescription: drops every TCP segment\nrules:\n  - action: drop\n');
    const json2 = join(tmp, 'qinq-drop.jsonl');
    const dropping = attach(['--profile', dropAll, '--json', json2, '--duration', '30']);
    await until(() => readEvents(json2).some((e) => e.type === 'start'), 10_000);
    const srv2 = await peer(NS.s, 'server', 's0', smac, cmac, '198.18.71.2', '198.18.71.1');
    expect((await (await peer(NS.c, 'syn-only', 'c0', cmac, smac, '198.18.71.1', '198.18.71.2')).done).code).toBe(0);
    const got2 = await srv2.done;
    expect(got2.code).toBe(0);
    expect(got2.frames).toEqual([{ tags: QINQ, ethertype: 0x88b5, outerFromAux: true }]);
    await until(() => readEvents(json2).some((e) => e.type === 'segment'), 10_000);
    dropping.child.kill('SIGINT');
    await dropping.done;
    const evs2 = readEvents(json2);
    expect(evs2.filter((e) => e.type === 'segment').map((e) => [e.flags, e.verdict])).toEqual([['S', 'drop']]);
    expect(lastStats(evs2)).toMatchObject({ dropped: 1 });
  }, 90_000);

  it("a far end with checksum offload on: the SYN's checksum is left to a device, said once with the far end's ethtool command, counted", async () => {
    offloads(NS.c, 'c0', true);
    try {
      const json = join(tmp, 'csum.jsonl');
      const run = attach(['--json', json, '--duration', '30']);
      await until(() => readEvents(json).some((e) => e.type === 'start'), 10_000);
      const srv = server('198.18.70.2');
      await until(listening, 5000);
      // The SYN crosses with the checksum the client's kernel left unfinished; the server drops it, the connect times out.
      const cli = await client('198.18.70.2', 10, 3);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/TimeoutError|timed out/);
      run.child.kill('SIGINT');
      const r = await run.done;
      void srv;
      const command = `ip netns exec ${NS.c} ethtool -K c0 tx off tso off gso off gro off`;
      const warnings = readEvents(json).filter((e) => e.type === 'warning').map((e) => e.message as string);
      expect(warnings.filter((m) => m.includes('checksums that do not verify'))).toEqual([
        `TCP segments arriving on m0 have checksums that do not verify: the sender's checksum offload is on at the far end of m0 and left them for hardware that never filled them in (a veth), ` +
          `so the receiver drops them as tcpmitm forwards them. Turn the offloads off on c0 (in netns ${NS.c}): ${command} (counted as badChecksum in stats; said once)`,
      ]);
      // On screen (the text log) once too, with the command.
      expect(r.stdout.split(command).length - 1).toBe(1);
      const syns = readEvents(json).filter((e) => e.type === 'segment' && e.flags === 'S').length;
      expect(syns).toBeGreaterThan(1); // the client retried
      expect(lastStats(readEvents(json))).toMatchObject({ badChecksum: syns, unsent: 0 });
    } finally {
      offloads(NS.c, 'c0', false);
    }
  }, 60_000);

  it('links with different MTUs: the frames m1 cannot send are said once (EMSGSIZE, both MTUs, the fix) and counted as unsent', async () => {
    // The ends agree on 9000 (MSS 8960); m1 between them takes 1500 only.
    for (const [ns, dev] of [[NS.c, 'c0'], [NS.m, 'm0'], [NS.s, 's0']] as const) ip('-n', ns, 'link', 'set', dev, 'mtu', '9000');
    try {
      const json = join(tmp, 'mtu.jsonl');
      const run = attach(['--json', json, '--duration', '30']);
      await until(() => readEvents(json).some((e) => e.type === 'start'), 10_000);
      const srv = server('198.18.70.2');
      await until(listening, 5000);
      const cli = await client('198.18.70.2', 100_000, 3);
      expect(cli.code).toBe(1); // the data never crosses
      run.child.kill('SIGINT');
      const r = await run.done;
      void srv;
      const evs = readEvents(json);
      const said = evs.filter((e) => e.type === 'warning' && String(e.message).includes('cannot be forwarded')).map((e) => e.message as string);
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(/^a \d+-byte frame arrived on m0 and cannot be forwarded: m1 refuses frames larger than its MTU \(Message too long\)/);
      expect(said[0]).toContain("m0's MTU is 9000 and m1's 1500: give both links the same MTU (ip link set m1 mtu 9000, and its far end too)");
      expect(r.stdout.split('cannot be forwarded').length - 1).toBe(1);
      const stats = lastStats(evs);
      expect(stats.unsent as number).toBeGreaterThan(0);
      expect(stats.badChecksum).toBe(0);
    } finally {
      for (const [ns, dev] of [[NS.c, 'c0'], [NS.m, 'm0'], [NS.s, 's0']] as const) ip('-n', ns, 'link', 'set', dev, 'mtu', '1500');
    }
  }, 60_000);
});
