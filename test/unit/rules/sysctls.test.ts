import { describe, expect, it } from 'vitest';
import { formatSysctls, inferenceSettings, layerSysctls, parseSysctlFlag, resolveSysctls } from '../../../src/rules/sysctls.js';
import { parseProfile } from '../../../src/rules/parse.js';
import { TcpmitmError } from '../../../src/cli/errors.js';

describe('sysctls of a lab', () => {
  it('later layers win, and an end wins over both within a layer', () => {
    const r = resolveSysctls([
      { both: { 'net.ipv4.tcp_rfc1337': 1, 'net.ipv4.tcp_fin_timeout': 30 }, server: { 'net.ipv4.tcp_fin_timeout': 5 } },
      undefined,
      { client: { 'net.ipv4.tcp_rfc1337': '0' } },
    ]);
    expect(Object.fromEntries(r.client)).toEqual({ 'net.ipv4.tcp_rfc1337': '0', 'net.ipv4.tcp_fin_timeout': '30' });
    expect(Object.fromEntries(r.server)).toEqual({ 'net.ipv4.tcp_rfc1337': '1', 'net.ipv4.tcp_fin_timeout': '5' });
    expect(formatSysctls(r)).toBe('net.ipv4.tcp_rfc1337=0 (client); net.ipv4.tcp_rfc1337=1 (server); net.ipv4.tcp_fin_timeout=30 (client); net.ipv4.tcp_fin_timeout=5 (server)');
    expect(formatSysctls(resolveSysctls([{ both: { 'net.ipv4.tcp_timestamps': 0 } }]))).toBe('net.ipv4.tcp_timestamps=0 (both)');
  });

  it('an exercise layered over its profile keeps the order of both layers', () => {
    const one = layerSysctls({ client: { 'net.ipv4.tcp_rfc1337': 0 } }, { both: { 'net.ipv4.tcp_rfc1337': 1 } });
    expect(one).toEqual({ client: { 'net.ipv4.tcp_rfc1337': '1' }, server: { 'net.ipv4.tcp_rfc1337': '1' } });
    expect(layerSysctls(undefined, { server: { 'net.ipv4.tcp_fin_timeout': 5 } })).toEqual({ server: { 'net.ipv4.tcp_fin_timeout': 5 } });
  });

  it("the inference assumes each end's tcp_rfc1337 and tcp_fin_timeout as the lab set them, and the defaults elsewhere", () => {
    const s = resolveSysctls([{ client: { 'net.ipv4.tcp_rfc1337': 1 }, server: { 'net.ipv4.tcp_fin_timeout': 5 } }]);
    expect(inferenceSettings(s, { finTimeoutMs: 60_000 })).toEqual({
      rfc1337: { client: true, server: false },
      finTimeoutMs: { client: 60_000, server: 5_000 },
    });
  });

  it('--sysctl takes [end:]name=value and refuses what is not a namespace sysctl', () => {
    let s = parseSysctlFlag('net.ipv4.tcp_rfc1337=1');
    expect(s).toEqual({ both: { 'net.ipv4.tcp_rfc1337': '1' } });
    s = parseSysctlFlag('server:net.ipv4.tcp_rmem=4096 87380 6291456', s as object);
    expect(s).toEqual({ both: { 'net.ipv4.tcp_rfc1337': '1' }, server: { 'net.ipv4.tcp_rmem': '4096 87380 6291456' } });
    expect(parseSysctlFlag('kernel.pid_max=10')).toMatch(/not a network namespace's sysctl.*only those are per namespace/);
    expect(parseSysctlFlag('middle:net.ipv4.ip_forward=1')).toMatch(/not a network namespace's sysctl/);
    expect(parseSysctlFlag('net.ipv4.tcp_rfc1337')).toMatch(/expected \[client:\|server:\]name=value/);
    expect(parseSysctlFlag('net.ipv4.tcp_rfc1337=')).toMatch(/has no value/);
  });

  it("a profile's lab.sysctls is validated at its line and column", () => {
    const bad = ['name: x', 'description: y', 'lab:', '  sysctls:', '    client: {kernel.panic: 1}', ''].join('\n');
    let err: unknown;
    try {
      parseProfile(bad, 'x.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TcpmitmError);
    expect((err as Error).message).toMatch(/x\.yaml:5:\d+: lab\.sysctls\.client.*'kernel\.panic' is not a network namespace's sysctl/);
    const typo = ['name: x', 'description: y', 'lab:', '  sysctls:', '    clients: {net.ipv4.tcp_rfc1337: 1}', ''].join('\n');
    expect(() => parseProfile(typo, 'x.yaml')).toThrow(/x\.yaml:5:5: lab\.sysctls\.clients: unknown field 'clients' \(did you mean 'client'\?\); expected one of both, client, server/);
  });
});
