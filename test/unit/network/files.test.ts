import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  hostsFileFor,
  parseResolvConf,
  renderResolvConf,
  upstreamResolvers,
} from '../../../src/network/index.js';

const HOST = parseResolvConf(
  '# comment\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example.com corp\noptions edns0\n',
);

test('parseResolvConf and upstreamResolvers drop loopback resolvers', () => {
  assert.deepEqual(HOST, {
    nameservers: ['127.0.0.53', '10.0.0.2'],
    search: ['example.com', 'corp'],
    options: ['edns0'],
  });
  assert.deepEqual(upstreamResolvers(HOST), ['10.0.0.2']);
  assert.deepEqual(upstreamResolvers(parseResolvConf('nameserver 127.0.0.53\n')), ['8.8.8.8', '8.8.4.4']);
});

test('renderResolvConf: embedded DNS on user networks, host resolvers on the default bridge', () => {
  assert.equal(
    renderResolvConf('10.202.0.1', {}, HOST),
    'search example.com corp\nnameserver 10.202.0.1\noptions edns0 ndots:0\n',
  );
  assert.equal(
    renderResolvConf(undefined, {}, HOST),
    'search example.com corp\nnameserver 10.0.0.2\noptions edns0\n',
  );
  assert.equal(
    renderResolvConf(undefined, { dns: ['1.1.1.1'], dnsSearch: ['.'], dnsOptions: ['ndots:2'] }, HOST),
    'nameserver 1.1.1.1\noptions ndots:2\n',
  );
  assert.equal(renderResolvConf('10.202.0.1', { dnsOptions: ['ndots:3'] }, HOST).includes('ndots:0'), false);
  assert.throws(() => renderResolvConf(undefined, { dns: ['not-an-ip'] }, HOST), { status: 400 });
  assert.throws(() => renderResolvConf(undefined, { dnsOptions: ['a b'] }, HOST), { status: 400 });
  assert.throws(() => renderResolvConf(undefined, { dnsSearch: ['bad domain'] }, HOST), { status: 400 });
});

test('hostsFileFor: Docker layout, --add-host and host-gateway', () => {
  const text = hostsFileFor({
    hostname: 'abc123',
    domainname: 'example.com',
    ip: '10.201.0.5',
    extraHosts: ['db:10.0.0.9', 'gw:host-gateway', 'v6=::1', 'br:[fe80::1]'],
    hostGateway: '10.201.0.1',
  });
  assert.equal(
    text,
    [
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      'fe00::0\tip6-localnet',
      'ff00::0\tip6-mcastprefix',
      'ff02::1\tip6-allnodes',
      'ff02::2\tip6-allrouters',
      '10.0.0.9\tdb',
      '10.201.0.1\tgw',
      '::1\tv6',
      'fe80::1\tbr',
      '10.201.0.5\tabc123.example.com abc123',
      '',
    ].join('\n'),
  );
  assert.ok(!hostsFileFor({ hostname: 'h' }).includes('\th\n'), 'no own line without an address');
  assert.throws(() => hostsFileFor({ hostname: 'h', extraHosts: ['noip'] }), { status: 400 });
  assert.throws(() => hostsFileFor({ hostname: 'h', extraHosts: ['x:999.1.1.1'] }), { status: 400 });
  assert.throws(() => hostsFileFor({ hostname: 'h', extraHosts: ['x:host-gateway'] }), { status: 400 });
});
