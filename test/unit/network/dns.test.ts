// The embedded DNS server over real UDP and TCP sockets on 127.0.0.1 (high ports), with an
// upstream that is another EmbeddedDns, so forwarding is exercised without the internet.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import { EmbeddedDns, ptrToIp } from '../../../src/network/index.js';

function udpQuery(port: number, name: string, type: dnsPacket.RecordType): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('no answer'));
    }, 5000);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(dnsPacket.decode(msg));
    });
    sock.send(
      dnsPacket.encode({
        type: 'query',
        id: 7,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type, name }],
      }),
      port,
      '127.0.0.1',
    );
  });
}

function tcpQuery(port: number, name: string, type: dnsPacket.RecordType): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('connect', () =>
      sock.write(dnsPacket.streamEncode({ type: 'query', id: 9, questions: [{ type, name }] })),
    );
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        sock.destroy();
        resolve(dnsPacket.streamDecode(buf) as dnsPacket.DecodedPacket);
      }
    });
  });
}

test('embedded DNS answers our names over UDP and TCP and forwards the rest', async () => {
  const upstreamPort = 20000 + Math.floor(Math.random() * 10000);
  // The "upstream" knows example.org only; its own forwarding goes nowhere (NXDOMAIN-like failure).
  const upstream = new EmbeddedDns(
    '127.0.0.1',
    {
      lookup: (n) => (n === 'example.org' ? ['192.0.2.77'] : undefined),
      reverse: () => undefined,
      upstreams: () => [],
    },
    upstreamPort,
  );
  await upstream.start();
  const port = upstreamPort + 1;
  const server = new EmbeddedDns(
    '127.0.0.1',
    {
      lookup: (n) => (n === 'web' || n === 'www' ? ['10.202.0.2'] : undefined),
      reverse: (ip) => (ip === '10.202.0.2' ? 'web.mynet' : undefined),
      upstreams: () => ['127.0.0.1'],
    },
    port,
    upstreamPort,
  );
  await server.start();
  try {
    const a = await udpQuery(port, 'web', 'A');
    assert.equal(a.id, 7);
    assert.equal(a.flag_qr, true);
    assert.deepEqual(
      a.answers?.map((x) => ('data' in x ? x.data : undefined)),
      ['10.202.0.2'],
    );
    const aaaa = await udpQuery(port, 'www', 'AAAA');
    assert.equal(aaaa.answers?.length, 0, 'AAAA for a container name is an empty answer');
    assert.equal((aaaa.flags ?? 0) & 0xf, 0);
    const ptr = await udpQuery(port, '2.0.202.10.in-addr.arpa', 'PTR');
    assert.deepEqual(
      ptr.answers?.map((x) => ('data' in x ? x.data : undefined)),
      ['web.mynet'],
    );
    const tcp = await tcpQuery(port, 'WEB.', 'A');
    assert.deepEqual(
      tcp.answers?.map((x) => ('data' in x ? x.data : undefined)),
      ['10.202.0.2'],
    );
    // Other names are forwarded upstream, over UDP and over TCP.
    const fwd = await udpQuery(port, 'example.org', 'A');
    assert.deepEqual(
      fwd.answers?.map((x) => ('data' in x ? x.data : undefined)),
      ['192.0.2.77'],
    );
    const fwdTcp = await tcpQuery(port, 'example.org', 'A');
    assert.equal(fwdTcp.answers?.length, 1);
    // The upstream has no upstream of its own: an unknown name is NXDOMAIN there, relayed as is.
    const unknown = await udpQuery(port, 'nowhere.invalid', 'A');
    assert.equal((unknown.flags ?? 0) & 0xf, 3);
    // Garbage is dropped without taking the server down.
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.send(Buffer.from('garbage'), port, '127.0.0.1', () => r()));
    s.close();
    assert.equal((await udpQuery(port, 'web', 'A')).answers?.length, 1, 'still serving after garbage');
    assert.ok(server.running);
  } finally {
    await server.stop();
    await upstream.stop();
  }
  assert.equal(server.running, false);
});

test('ptrToIp', () => {
  assert.equal(ptrToIp('4.3.2.1.in-addr.arpa'), '1.2.3.4');
  assert.equal(ptrToIp('example.com'), undefined);
});
