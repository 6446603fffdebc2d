import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cidrContains,
  cidrOverlaps,
  cidrWithin,
  formatCidr,
  formatIpv4,
  parseCidr,
  parseIpv4,
} from '../../../src/network/ipv4.js';

test('IPv4 parsing and formatting', () => {
  assert.equal(parseIpv4('10.201.0.1'), 0x0ac90001);
  assert.equal(formatIpv4(0xffffffff), '255.255.255.255');
  for (const bad of ['1.2.3', '1.2.3.256', 'a.b.c.d', '1.2.3.4.5', '01234.1.1.1', '']) {
    assert.equal(parseIpv4(bad), undefined, bad);
  }
});

test('CIDR parsing normalises the base and refuses garbage with a 400', () => {
  assert.equal(formatCidr(parseCidr('10.1.2.3/16')), '10.1.0.0/16');
  assert.equal(formatCidr(parseCidr('0.0.0.0/0')), '0.0.0.0/0');
  for (const bad of ['10.1.2.3', '10.1.2.3/33', '10.1.2.3/x', 'x/8', '1.2.3.4/8/9']) {
    assert.throws(() => parseCidr(bad, 'Subnet'), { status: 400 }, bad);
  }
});

test('overlap and containment', () => {
  const a = parseCidr('10.0.0.0/16');
  assert.ok(cidrOverlaps(a, parseCidr('10.0.5.0/24')));
  assert.ok(cidrOverlaps(parseCidr('10.0.5.0/24'), a));
  assert.ok(!cidrOverlaps(a, parseCidr('10.1.0.0/24')));
  assert.ok(cidrWithin(parseCidr('10.0.5.0/24'), a));
  assert.ok(!cidrWithin(a, parseCidr('10.0.5.0/24')));
  assert.ok(cidrContains(a, parseIpv4('10.0.255.255')!));
  assert.ok(!cidrContains(a, parseIpv4('10.1.0.0')!));
});
