// attach's refusal of an interface the host routes default traffic through
// (issue 12 §5): in any table some `ip rule` looks up, not only main. Fixtures
// are `ip -j rule show` / `ip -j route show table all` output as iproute2 6.x prints it.

import { describe, expect, it } from 'vitest';
import { defaultRouteUses, formatRule } from '../../../src/attach/checks.js';

const RULES = JSON.stringify([
  { priority: 0, src: 'all', table: 'local' },
  { priority: 1000, src: '198.18.60.0', srclen: 24, table: '100' },
  { priority: 32766, src: 'all', table: 'main' },
  { priority: 32767, src: 'all', table: 'default' },
]);
const ROUTES = JSON.stringify([
  { dst: 'default', gateway: '198.18.50.2', dev: 'bi0', table: '100', flags: [] },
  { dst: '198.18.50.0/24', dev: 'bi0', protocol: 'kernel', scope: 'link', prefsrc: '198.18.50.1', flags: [] },
  { type: 'local', dst: '198.18.50.1', dev: 'bi0', table: 'local', protocol: 'kernel', scope: 'host', flags: [] },
  { dst: 'default', gateway: '198.18.51.2', dev: 'bi9', table: '300', flags: [] }, // no rule looks table 300 up
  { type: 'unreachable', dst: 'default', table: 'default', flags: [] },
]);

describe('defaultRouteUses', () => {
  it('finds a default route in a policy table, with the rule that leads there', () => {
    expect(defaultRouteUses(['bi0', 'bi1'], 4, RULES, ROUTES)).toEqual([
      { dev: 'bi0', family: 4, table: '100', rule: '1000: from 198.18.60.0/24 lookup 100' },
    ]);
  });
  it('ignores a table no rule looks up, and defaults through no device', () => {
    expect(defaultRouteUses(['bi9'], 4, RULES, ROUTES)).toEqual([]);
  });
  it('takes a route without a table as main, multipath nexthops included', () => {
    const routes = JSON.stringify([{ dst: 'default', flags: [], nexthops: [{ gateway: '198.18.0.1', dev: 'eth1' }, { gateway: '198.18.0.2', dev: 'eth2' }] }]);
    expect(defaultRouteUses(['eth2'], 4, RULES, routes)).toEqual([{ dev: 'eth2', family: 4, table: 'main', rule: '32766: from all lookup main' }]);
  });
  it('names the first rule (by priority) of a table, whatever it selects', () => {
    const rules = JSON.stringify([
      { priority: 32766, src: 'all', table: 'main' },
      { priority: 32765, src: 'all', fwmark: '0x7', iif: 'bi0', table: '200' },
      { priority: 90, src: 'all', dst: '2001:2::', dstlen: 48, table: '200' },
    ]);
    const routes = JSON.stringify([{ dst: 'default', gateway: '2001:2::50:2', dev: 'bi1', table: '200', metric: 1024, flags: [], pref: 'medium' }]);
    expect(defaultRouteUses(['bi1'], 6, rules, routes)).toEqual([{ dev: 'bi1', family: 6, table: '200', rule: '90: from all to 2001:2::/48 lookup 200' }]);
    expect(formatRule(JSON.parse(rules)[1])).toBe('32765: from all fwmark 0x7 iif bi0 lookup 200');
  });
  it('falls back to main when ip rule says nothing (no policy routing), and takes bad JSON as nothing', () => {
    const routes = JSON.stringify([{ dst: 'default', dev: 'eth0', flags: [] }]);
    expect(defaultRouteUses(['eth0'], 4, '', routes)).toEqual([{ dev: 'eth0', family: 4, table: 'main', rule: '32766: from all lookup main' }]);
    expect(defaultRouteUses(['eth0'], 4, RULES, 'not json')).toEqual([]);
  });
});
