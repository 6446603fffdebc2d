import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { parsePortKey, parsePortSpecs, portsForInspect } from '../../../src/network/index.js';
import { reservePorts, wantedPorts } from '../../../src/network/ports.js';

test('parsePortSpecs: Docker forms', () => {
  const r = parsePortSpecs([
    '8080:80',
    '127.0.0.1:5353:53/udp',
    '9000',
    '8000-8001:90-91',
    '[::1]:7000:70',
    '1.2.3.4::88',
  ]);
  assert.deepEqual(r.portBindings, {
    '80/tcp': [{ HostIp: '', HostPort: '8080' }],
    '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
    '9000/tcp': [{ HostIp: '', HostPort: '' }],
    '90/tcp': [{ HostIp: '', HostPort: '8000' }],
    '91/tcp': [{ HostIp: '', HostPort: '8001' }],
    '70/tcp': [{ HostIp: '::1', HostPort: '7000' }],
    '88/tcp': [{ HostIp: '1.2.3.4', HostPort: '' }],
  });
  assert.deepEqual(Object.keys(r.exposedPorts).sort(), [
    '53/udp',
    '70/tcp',
    '80/tcp',
    '88/tcp',
    '90/tcp',
    '9000/tcp',
    '91/tcp',
  ]);
  // A host range with one container port is the range to allocate from.
  assert.deepEqual(parsePortSpecs(['8000-8010:80']).portBindings, {
    '80/tcp': [{ HostIp: '', HostPort: '8000-8010' }],
  });
  // Two bindings of one container port accumulate.
  assert.deepEqual(parsePortSpecs(['1:80', '2:80']).portBindings['80/tcp']?.length, 2);
  assert.deepEqual(parsePortSpecs(['80/TCP']).portBindings, { '80/tcp': [{ HostIp: '', HostPort: '' }] });
});

test('parsePortSpecs: Docker errors', () => {
  const cases: [string, string][] = [
    ['8080:http', 'invalid containerPort: http'],
    ['x:80', 'invalid hostPort: x'],
    ['80/icmp', 'invalid proto: icmp'],
    ['300.1.1.1:80:80', 'Invalid ip address: 300.1.1.1'],
    ['8000-8002:80-81', 'invalid ranges specified for container and host Ports: 80-81 and 8000-8002'],
    ['0:80', 'invalid hostPort: 0'],
    ['80:70000', 'invalid containerPort: 70000'],
    ['90-80', 'invalid containerPort: 90-80'],
    ['', 'no port specified: <empty>'],
    ['[::1:80:80', 'Invalid ip address: [::1'],
  ];
  for (const [spec, message] of cases) {
    assert.throws(() => parsePortSpecs([spec]), { status: 400, message }, spec);
  }
});

test('parsePortKey and portsForInspect', () => {
  assert.deepEqual(parsePortKey('80/udp'), { port: 80, proto: 'udp' });
  assert.deepEqual(parsePortKey('443'), { port: 443, proto: 'tcp' });
  assert.throws(() => parsePortKey('80/xyz'), { status: 400 });
  assert.throws(() => parsePortKey('abc'), { status: 400 });
  assert.deepEqual(
    portsForInspect([{ proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 }], {
      '80/tcp': {},
      '22/tcp': {},
    }),
    { '22/tcp': null, '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] },
  );
});

test('wantedPorts: -P publishes every exposed port on an ephemeral port; bad bindings are refused', () => {
  const w = wantedPorts({}, { '80/tcp': {}, '53/udp': {} }, true);
  assert.deepEqual(
    w.map((x) => [x.containerPort, x.proto, x.hostIp, x.explicit]),
    [
      [53, 'udp', '0.0.0.0', false],
      [80, 'tcp', '0.0.0.0', false],
    ],
  );
  assert.deepEqual(wantedPorts({}, { '80/tcp': {} }, false), []);
  assert.throws(() => wantedPorts({ '80/tcp': [{ HostIp: 'nope', HostPort: '1' }] }), { status: 400 });
  assert.throws(() => wantedPorts({ '80/tcp': [{ HostIp: '', HostPort: 'abc' }] }), { status: 400 });
  assert.throws(() => wantedPorts({ 'http/tcp': [] }), { status: 400 });
  assert.throws(() => wantedPorts({ '80/tcp': 'x' as never }), { status: 400 });
  assert.throws(() => wantedPorts({ '80/tcp': [null as never] }), { status: 400 });
});

test('reservePorts: a port held by another process is a 409 and nothing stays reserved', async () => {
  const server = createServer();
  const port = await new Promise<number>((r) =>
    server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)),
  );
  try {
    const free = wantedPorts({ '81/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    const taken = wantedPorts({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
    await assert.rejects(reservePorts([...free, ...taken], []), {
      status: 409,
      message: `Bind for 127.0.0.1:${port} failed: port is already allocated`,
    });
    // A port another endpoint of ours holds is refused as well, without touching the socket.
    const ours = [{ proto: 'tcp' as const, containerPort: 80, hostIp: '0.0.0.0', hostPort: port + 1 }];
    await assert.rejects(
      reservePorts(wantedPorts({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port + 1) }] }), ours),
      { status: 409 },
    );
    const ok = await reservePorts(free, []);
    assert.equal(ok.ports.length, 1);
    assert.ok(ok.ports[0]!.hostPort > 0);
    for (const r of ok.reservations) r.close();
  } finally {
    server.close();
  }
});
