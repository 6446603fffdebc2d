// Real-root tests of NetworkService: bridges, veths, NAT, isolation, published ports and DNS,
// using namespaces made with `ip netns add` and busybox inside them.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { NetworkService, parsePortSpecs } from '../../../src/network/index.js';
import { isRoot } from '../../helpers/index.js';
import { cid, execAsync, type Fixture, freePort, hostMainIp, makeFixture, waitFor } from './harness.js';

const skip = !isRoot() ? 'needs root' : false;

async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const f = await makeFixture();
  try {
    await fn(f);
  } finally {
    const left = await f.teardown();
    assert.deepEqual(left, [], 'nothing of ours may remain after the test');
  }
}

function startHttpd(f: Fixture, ns: string, body: string): void {
  const root = join(f.dir, `www-${ns}`);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'index.html'), body);
  f.spawnIn(ns, ['busybox', 'httpd', '-f', '-p', '80', '-h', root]);
}

/** busybox wget (its -T segfaults in Debian's 1.35, so the exec timeout bounds it) inside a test netns, or on the host when `ns` is null. */
function wget(f: Fixture, ns: string | null, url: string): Promise<{ code: number; out: string }> {
  const args = ['wget', '-q', '-O', '-', url];
  return ns ? f.exec(ns, ['busybox', ...args]) : execAsync('busybox', args);
}

test('two containers on a user network reach each other by name, alias and short id', { skip }, async () => {
  await withFixture(async (f) => {
    const net = `${f.tag}-app`;
    await f.svc.create({ Name: net });
    const idA = cid();
    const idB = cid();
    const a = await f.svc.connect(net, {
      containerId: idA,
      containerName: '/web',
      netnsPath: f.netns('a'),
      aliases: ['www'],
    });
    const b = await f.svc.connect(net, {
      containerId: idB,
      containerName: 'client',
      netnsPath: f.netns('b'),
    });
    assert.equal(a.Gateway, b.Gateway);
    assert.notEqual(a.IPAddress, b.IPAddress);
    assert.equal(a.NetworkID, f.svc.inspect(net).Id);
    assert.deepEqual(a.DNSNames, ['web', 'www', idA.slice(0, 12)]);
    const conf = f.svc.resolvConfFor([b]);
    assert.match(conf, new RegExp(`^nameserver ${b.Gateway.replaceAll('.', '\\.')}$`, 'm'));
    f.setResolvConf('b', conf);

    for (const name of ['web', 'www', idA.slice(0, 12), `web.${net}`]) {
      const r = await f.exec('b', ['busybox', 'nslookup', name]);
      assert.equal(r.code, 0, `nslookup ${name}: ${r.out}`);
      assert.ok(r.out.includes(a.IPAddress), `nslookup ${name} gives ${a.IPAddress}: ${r.out}`);
    }
    const ping = await f.exec('b', ['busybox', 'ping', '-c1', '-W3', 'web']);
    assert.equal(ping.code, 0, ping.out);
    startHttpd(f, 'a', 'hello from a');
    await waitFor(
      async () => (await wget(f, 'b', 'http://www/')).out.includes('hello from a'),
      'httpd in a by alias',
    );

    // Reverse lookup gives the container's name on the network.
    const ptr = await f.exec('b', ['busybox', 'nslookup', a.IPAddress]);
    assert.ok(ptr.out.includes(`web.${net}`), ptr.out);

    // An external name is forwarded upstream, and the mirror is reachable through NAT.
    const ext = await f.exec('b', ['busybox', 'nslookup', 'deb.debian.org']);
    assert.equal(ext.code, 0, ext.out);
    const apt = await f.exec('b', [
      'busybox',
      'wget',
      '-q',
      '-O',
      '/dev/null',
      'http://deb.debian.org/debian/',
    ]);
    assert.equal(apt.code, 0, `outbound HTTP through NAT: ${apt.out}`);

    // Inspect shows both containers in Docker's shape.
    const info = f.svc.inspect(net);
    assert.equal(info.Containers[idA]?.Name, 'web');
    assert.equal(info.Containers[idA]?.IPv4Address, `${a.IPAddress}/24`);
    assert.equal(Object.keys(info.Containers).length, 2);

    // Disconnect releases the address and the veth.
    await f.svc.disconnect(net, idA);
    assert.equal((await f.exec('a', ['ip', 'link', 'show', 'eth0'])).code, 1, 'eth0 is gone from a');
    assert.equal(Object.keys(f.svc.inspect(net).Containers).length, 1);
    await assert.rejects(f.svc.disconnect(net, idA), { status: 404 });
    await f.svc.disconnectAll(idB);
  });
});

test('published ports serve on 127.0.0.1 and on the host address; -p ctr picks an ephemeral port', {
  skip,
}, async () => {
  await withFixture(async (f) => {
    const net = `${f.tag}-pub`;
    await f.svc.create({ Name: net });
    const id = cid();
    const port = freePort();
    await f.svc.connect(net, {
      containerId: id,
      containerName: 'srv',
      netnsPath: f.netns('srv'),
      portBindings: {
        '80/tcp': [
          { HostIp: '', HostPort: String(port) },
          { HostIp: '', HostPort: '' },
        ],
      },
    });
    startHttpd(f, 'srv', 'published');
    const ports = f.svc.portsOf(id, { '80/tcp': {}, '443/tcp': {} });
    assert.equal(ports['443/tcp'], null);
    const bound = ports['80/tcp'];
    assert.ok(bound && bound.length === 2);
    assert.deepEqual(bound[0], { HostIp: '0.0.0.0', HostPort: String(port) });
    const eph = Number(bound[1]!.HostPort);
    assert.ok(eph >= 1024 && eph !== port, `ephemeral port ${eph}`);

    await waitFor(
      async () => (await wget(f, null, `http://127.0.0.1:${port}/`)).out.includes('published'),
      'loopback',
    );
    assert.ok(
      (await wget(f, null, `http://${hostMainIp()}:${port}/`)).out.includes('published'),
      'host address',
    );
    assert.ok((await wget(f, null, `http://127.0.0.1:${eph}/`)).out.includes('published'), 'ephemeral port');

    // The same host port for another container is refused before anything is made.
    const other = cid();
    await assert.rejects(
      f.svc.connect(net, {
        containerId: other,
        containerName: 'srv2',
        netnsPath: f.netns('srv2'),
        portBindings: { '80/tcp': [{ HostIp: '', HostPort: String(port) }] },
      }),
      { status: 409, message: `Bind for 0.0.0.0:${port} failed: port is already allocated` },
    );
    assert.equal(
      (await f.exec('srv2', ['ip', 'link', 'show', 'eth0'])).code,
      1,
      'no eth0 in the refused netns',
    );
    assert.equal(f.svc.inspect(net).Containers[other], undefined);

    // A container on the same network reaches the published port through the host (hairpin).
    const c = await f.svc.connect(net, {
      containerId: other,
      containerName: 'cli',
      netnsPath: f.nsPathOf('srv2'),
    });
    assert.ok(c.IPAddress);
    const hair = await wget(f, 'srv2', `http://${hostMainIp()}:${port}/`);
    assert.ok(hair.out.includes('published'), `hairpin: ${hair.out}`);
  });
});

test('a host port taken by another process is refused before the container is plumbed', {
  skip,
}, async () => {
  await withFixture(async (f) => {
    const net = `${f.tag}-busy`;
    await f.svc.create({ Name: net });
    const server = createServer();
    const port = await new Promise<number>((resolve) => {
      server.listen(0, '0.0.0.0', () => resolve((server.address() as { port: number }).port));
    });
    try {
      const before = JSON.stringify(f.svc.inspect(net).Containers);
      await assert.rejects(
        f.svc.connect(net, {
          containerId: cid(),
          containerName: 'x',
          netnsPath: f.netns('x'),
          portBindings: { '80/tcp': [{ HostIp: '', HostPort: String(port) }] },
        }),
        { status: 409, message: `Bind for 0.0.0.0:${port} failed: port is already allocated` },
      );
      assert.equal(JSON.stringify(f.svc.inspect(net).Containers), before);
      assert.equal((await f.exec('x', ['ip', 'link', 'show', 'eth0'])).code, 1);
      const rules = execFileSync('iptables-save', ['-t', 'nat']).toString();
      assert.ok(!rules.includes(`--dport ${port} `), 'no DNAT rule for the refused port');
    } finally {
      server.close();
    }
  });
});

test('network errors: duplicates, overlaps, in use, missing, predefined', { skip }, async () => {
  await withFixture(async (f) => {
    const n1 = `${f.tag}-one`;
    const { Id } = await f.svc.create({ Name: n1, IPAM: { Config: [{ Subnet: '10.231.7.0/24' }] } });
    assert.equal(Id.length, 64);
    await assert.rejects(f.svc.create({ Name: n1 }), {
      status: 409,
      message: `network with name ${n1} already exists`,
    });
    await assert.rejects(
      f.svc.create({ Name: `${f.tag}-two`, IPAM: { Config: [{ Subnet: '10.231.7.128/25' }] } }),
      { status: 403, message: 'Pool overlaps with other one on this address space' },
    );
    await assert.rejects(f.svc.create({ Name: 'bad name!' }), { status: 400 });
    await assert.rejects(
      f.svc.create({ Name: `${f.tag}-x`, IPAM: { Config: [{ Subnet: '10.1.2.3/99' }] } }),
      {
        status: 400,
      },
    );
    await assert.rejects(f.svc.create({ Name: `${f.tag}-y`, Driver: 'overlay' }), { status: 404 });
    await assert.rejects(
      f.svc.connect(`${f.tag}-missing`, { containerId: cid(), containerName: 'c', netnsPath: f.netns('m') }),
      { status: 404, message: `network ${f.tag}-missing not found` },
    );
    assert.throws(() => f.svc.inspect('nope-not-here'), {
      status: 404,
      message: 'network nope-not-here not found',
    });
    assert.equal(f.svc.inspect(Id.slice(0, 10)).Name, n1, 'id prefix lookup');

    const id = cid();
    const ep = await f.svc.connect(n1, {
      containerId: id,
      containerName: 'c',
      netnsPath: f.nsPathOf('m'),
      ipv4Address: '10.231.7.50',
    });
    assert.equal(ep.IPAddress, '10.231.7.50');
    await assert.rejects(
      f.svc.connect(n1, {
        containerId: cid(),
        containerName: 'd',
        netnsPath: f.netns('d'),
        ipv4Address: '10.231.7.50',
      }),
      { status: 409 },
    );
    await assert.rejects(f.svc.remove(n1), {
      status: 409,
      message: `error while removing network: network ${n1} id ${Id} has active endpoints`,
    });
    await assert.rejects(f.svc.remove('bridge'), { status: 403 });
    await assert.rejects(f.svc.remove('host'), { status: 403 });
    await assert.rejects(f.svc.create({ Name: 'default' }), { status: 403 });
    assert.equal(f.svc.inspect('default').Name, 'bridge', 'NetworkMode default is the bridge network');

    // Connecting twice is idempotent.
    const again = await f.svc.connect(n1, {
      containerId: id,
      containerName: 'c',
      netnsPath: f.nsPathOf('m'),
    });
    assert.equal(again.EndpointID, ep.EndpointID);

    await f.svc.disconnect(n1, id);
    await f.svc.remove(n1);
    assert.throws(() => f.svc.inspect(n1), { status: 404 });

    // Filters and prune.
    await f.svc.create({ Name: `${f.tag}-l1`, Labels: { team: 'a' } });
    await f.svc.create({ Name: `${f.tag}-l2`, Labels: { team: 'b' } });
    assert.deepEqual(
      f.svc.list({ label: ['team=a'] }).map((n) => n.Name),
      [`${f.tag}-l1`],
    );
    assert.deepEqual(
      f.svc.list({ type: ['builtin'] }).map((n) => n.Name),
      ['bridge', 'host', 'none'],
    );
    assert.throws(() => f.svc.list({ bogus: ['x'] }), { status: 400 });
    assert.deepEqual(f.svc.list({ name: [`${f.tag}-l1`] })[0]?.Containers, {});
    assert.throws(() => f.svc.list({ type: ['weird'] }), { status: 400 });
    const pruned = await f.svc.prune({ label: ['team=b'] });
    assert.deepEqual(pruned.NetworksDeleted, [`${f.tag}-l2`]);
  });
});

test('an --internal network has no route out; different networks are isolated', { skip }, async () => {
  await withFixture(async (f) => {
    const internalNet = `${f.tag}-int`;
    const other = `${f.tag}-oth`;
    await f.svc.create({ Name: internalNet, Internal: true });
    await f.svc.create({ Name: other });
    const a = await f.svc.connect(internalNet, {
      containerId: cid(),
      containerName: 'a',
      netnsPath: f.netns('a'),
    });
    const routes = (await f.exec('a', ['ip', 'route', 'show'])).out;
    assert.ok(!routes.includes('default'), `no default route: ${routes}`);
    const out = await f.exec('a', ['busybox', 'wget', '-q', '-O', '/dev/null', 'http://203.0.113.80/']);
    assert.notEqual(out.code, 0, 'internal network cannot reach outside');
    f.setResolvConf('a', f.svc.resolvConfFor([a]));
    const ext = await f.exec('a', ['busybox', 'nslookup', 'deb.debian.org']);
    assert.notEqual(ext.code, 0, `an internal network's DNS does not forward: ${ext.out}`);
    assert.equal((await f.exec('a', ['busybox', 'nslookup', 'a'])).code, 0, 'but answers its own names');

    await f.svc.connect(other, { containerId: cid(), containerName: 'b', netnsPath: f.netns('b') });
    const c = await f.svc.connect(other, { containerId: cid(), containerName: 'c', netnsPath: f.netns('c') });
    assert.equal(
      (await f.exec('b', ['busybox', 'ping', '-c1', '-W2', c.IPAddress])).code,
      0,
      'same network reachable',
    );
    assert.notEqual(
      (await f.exec('b', ['busybox', 'ping', '-c1', '-W2', a.IPAddress])).code,
      0,
      'other network isolated',
    );
  });
});

test('none mode sandbox has only loopback; recovery keeps live endpoints and releases dead ones', {
  skip,
}, async () => {
  await withFixture(async (f) => {
    const noneId = cid();
    const path = await f.svc.createSandbox(noneId);
    assert.ok(existsSync(path));
    const links = execFileSync('ip', [
      'netns',
      'exec',
      path.split('/').pop()!,
      'ip',
      '-o',
      'link',
    ]).toString();
    assert.deepEqual(
      links
        .trim()
        .split('\n')
        .map((l) => l.split(':')[1]!.trim()),
      ['lo'],
    );

    const net = `${f.tag}-rec`;
    await f.svc.create({ Name: net });
    const live = cid();
    const dead = cid();
    const livePath = await f.svc.createSandbox(live);
    const port = freePort();
    const liveEp = await f.svc.connect(net, {
      containerId: live,
      containerName: 'live',
      netnsPath: livePath,
      portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] },
    });
    await f.svc.connect(net, { containerId: dead, containerName: 'dead', netnsPath: f.netns('dead') });

    // A daemon restart: a fresh service over the same data root, with `isAlive` for the live one.
    await f.svc.close();
    const svc2 = new NetworkService(f.options);
    await svc2.init({ isAlive: (id) => id === live || id === noneId });
    const info = svc2.inspect(net);
    assert.deepEqual(Object.keys(info.Containers), [live]);
    assert.equal(svc2.endpointsOf(live)[net]?.IPAddress, liveEp.IPAddress);
    assert.equal((await f.exec('dead', ['ip', 'link', 'show', 'eth0'])).code, 1, 'dead endpoint released');
    assert.ok(existsSync(path), 'sandbox of a live container kept');
    // The port is still published and DNS answers again.
    await svc2.create({ Name: `${f.tag}-new` });
    assert.deepEqual(svc2.portsOf(live)['80/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    await svc2.close();
    // The original fixture's service cleans up (same prefix, same data root).
    await f.svc.init();
  });
});

test('a container on two networks gets eth0 and eth1, resolves names on both, keeps a route out', {
  skip,
}, async () => {
  await withFixture(async (f) => {
    const n1 = `${f.tag}-front`;
    const n2 = `${f.tag}-back`;
    await f.svc.create({ Name: n1 });
    await f.svc.create({ Name: n2 });
    const app = cid();
    const db = cid();
    const appNs = f.netns('app');
    const e1 = await f.svc.connect(n1, { containerId: app, containerName: 'app', netnsPath: appNs });
    const e2 = await f.svc.connect(n2, {
      containerId: app,
      containerName: 'app',
      netnsPath: appNs,
      aliases: ['api'],
    });
    const d = await f.svc.connect(n2, { containerId: db, containerName: 'db', netnsPath: f.netns('db') });
    assert.deepEqual(Object.keys(f.svc.endpointsOf(app)).sort(), [n2, n1].sort());
    const addrs = (await f.exec('app', ['ip', '-o', '-4', 'addr'])).out;
    assert.ok(addrs.includes(`eth0    inet ${e1.IPAddress}/24`), addrs);
    assert.ok(addrs.includes(`eth1    inet ${e2.IPAddress}/24`), addrs);
    f.setResolvConf('app', f.svc.resolvConfFor([e1, e2]));
    f.setResolvConf('db', f.svc.resolvConfFor([d]));
    // app asks n1's DNS for db, which only n2 knows: answered because app is on n2 as well.
    const r = await f.exec('app', ['busybox', 'nslookup', 'db']);
    assert.ok(r.out.includes(d.IPAddress), r.out);
    // db resolves app's alias on n2 to app's n2 address, not its n1 one.
    const r2 = await f.exec('db', ['busybox', 'nslookup', 'api']);
    assert.ok(r2.out.includes(e2.IPAddress) && !r2.out.includes(e1.IPAddress), r2.out);
    // A name on no shared network is not ours: forwarded upstream, which does not know it.
    assert.notEqual((await f.exec('db', ['busybox', 'nslookup', `nosuch-${f.tag}.invalid`])).code, 0);

    assert.match(
      (await f.exec('app', ['ip', 'route'])).out,
      new RegExp(`default via ${e1.Gateway} dev eth0`),
    );
    await f.svc.disconnect(n1, app);
    assert.match(
      (await f.exec('app', ['ip', 'route'])).out,
      new RegExp(`default via ${e2.Gateway} dev eth1`),
    );
  });
});

test('ranges, -P, UDP and a 127.0.0.1-only binding are published as asked', { skip }, async () => {
  await withFixture(async (f) => {
    const net = `${f.tag}-ports`;
    await f.svc.create({ Name: net });
    const base = freePort();
    const { portBindings, exposedPorts } = parsePortSpecs([
      `${base}-${base + 1}:80-81`,
      `127.0.0.1:${base + 2}:82`,
      `${base + 3}:9999/udp`,
    ]);
    const id = cid();
    await f.svc.connect(net, {
      containerId: id,
      containerName: 'multi',
      netnsPath: f.netns('multi'),
      portBindings,
      exposedPorts: { ...exposedPorts, '8443/tcp': {} },
      publishAll: true,
    });
    const ports = f.svc.portsOf(id, exposedPorts);
    assert.deepEqual(ports['80/tcp'], [{ HostIp: '0.0.0.0', HostPort: String(base) }]);
    assert.deepEqual(ports['81/tcp'], [{ HostIp: '0.0.0.0', HostPort: String(base + 1) }]);
    assert.deepEqual(ports['82/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(base + 2) }]);
    assert.deepEqual(ports['9999/udp'], [{ HostIp: '0.0.0.0', HostPort: String(base + 3) }]);
    assert.ok(Number(ports['8443/tcp']?.[0]?.HostPort) > 0, '-P gave the exposed port an ephemeral one');

    startHttpd(f, 'multi', 'multi');
    // httpd listens on 80 only: base maps to it; 82 is not served but its rule must be loopback-only.
    await waitFor(
      async () => (await wget(f, null, `http://127.0.0.1:${base}/`)).out.includes('multi'),
      'range',
    );
    const nat = execFileSync('iptables-save', ['-t', 'nat']).toString();
    assert.match(nat, new RegExp(`-d 127\\.0\\.0\\.1/32 -p tcp -m tcp --dport ${base + 2} -j DNAT`));

    // UDP: a datagram sent to the host port arrives in the container (busybox nc has no -u: node listens).
    const got = join(f.dir, 'udp.out');
    const listener = `require('dgram').createSocket('udp4').on('message', (m) => require('fs').writeFileSync(${JSON.stringify(got)}, m)).bind(9999)`;
    f.spawnIn('multi', [process.execPath, '-e', listener]);
    const sender = createSocket('udp4');
    try {
      await waitFor(async () => {
        sender.send('hello-udp', base + 3, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 100));
        return existsSync(got) && readFileSync(got, 'utf8') === 'hello-udp';
      }, 'UDP datagram through the published port');
    } finally {
      sender.close();
    }
  });
});

test('sandboxFor: host, none, container: and network modes; stray links are removed at start', {
  skip,
}, async () => {
  await withFixture(async (f) => {
    const a = cid();
    assert.deepEqual(await f.svc.sandboxFor('host', a), { mode: 'host', netnsPath: null });
    const none = await f.svc.sandboxFor('none', a);
    assert.equal(none.mode, 'none');
    assert.equal(none.netnsPath, f.svc.sandboxPath(a));
    const joined = await f.svc.sandboxFor(`container:${a.slice(0, 12)}`, cid(), (ref) =>
      a.startsWith(ref) ? a : undefined,
    );
    assert.deepEqual(joined, { mode: 'container', netnsPath: f.svc.sandboxPath(a) });
    await assert.rejects(
      f.svc.sandboxFor('container:nope', cid(), () => undefined),
      { status: 404 },
    );
    await assert.rejects(f.svc.sandboxFor(`${f.tag}-missing`, cid()), { status: 404 });
    const b = cid();
    const viaDefault = await f.svc.sandboxFor('default', b);
    assert.deepEqual(viaDefault, { mode: 'network', netnsPath: f.svc.sandboxPath(b), network: 'bridge' });
    const ep = await f.svc.connect('bridge', {
      containerId: b,
      containerName: 'b',
      netnsPath: viaDefault.netnsPath!,
    });
    assert.equal(ep.DNSNames, null, 'no embedded DNS on the default bridge');
    assert.equal(ep.Gateway, f.svc.hostGateway());
    const settings = f.svc.networkSettings(b, { '80/tcp': {} });
    assert.equal(settings.IPAddress, ep.IPAddress, 'legacy top-level fields come from the default bridge');
    assert.equal(settings.SandboxKey, viaDefault.netnsPath);
    assert.deepEqual(settings.Ports, { '80/tcp': null });
    assert.deepEqual(Object.keys(settings.Networks), ['bridge']);
    assert.ok(!f.svc.resolvConfFor([ep]).includes(ep.Gateway), 'default bridge uses the host resolvers');
    await f.svc.disconnectAll(b);
    await f.svc.destroySandbox(b);
    assert.ok(!existsSync(viaDefault.netnsPath!));

    // A veth carrying our mark but in no record (a crash mid-connect) is removed by init.
    const stray = `${f.tag}v`;
    execFileSync('ip', ['link', 'add', stray, 'type', 'veth', 'peer', 'name', `${f.tag}p`]);
    execFileSync('ip', ['link', 'set', 'dev', stray, 'alias', `${f.tag.toUpperCase()}:ep:000000000000`]);
    await f.svc.init();
    assert.equal(spawnSync('ip', ['link', 'show', stray]).status, 1, 'stray veth removed');
  });
});

test('after a restart, DNS answers again and the published port still serves', { skip }, async () => {
  await withFixture(async (f) => {
    const net = `${f.tag}-again`;
    await f.svc.create({ Name: net });
    const web = cid();
    const cli = cid();
    const port = freePort();
    const w = await f.svc.connect(net, {
      containerId: web,
      containerName: 'web',
      netnsPath: f.netns('web'),
      portBindings: { '80/tcp': [{ HostIp: '', HostPort: String(port) }] },
    });
    const c = await f.svc.connect(net, { containerId: cli, containerName: 'cli', netnsPath: f.netns('cli') });
    f.setResolvConf('cli', f.svc.resolvConfFor([c]));
    startHttpd(f, 'web', 'still here');
    await f.svc.close();
    // Simulate a crash that also lost the rules: flush our chains.
    execFileSync('iptables', ['-t', 'nat', '-F', f.tag.toUpperCase()]);
    const svc2 = new NetworkService(f.options);
    await svc2.init({ isAlive: () => true });
    try {
      const r = await f.exec('cli', ['busybox', 'nslookup', 'web']);
      assert.ok(r.out.includes(w.IPAddress), r.out);
      await waitFor(
        async () => (await wget(f, null, `http://127.0.0.1:${port}/`)).out.includes('still here'),
        'port',
      );
      // The held port still refuses another user.
      await assert.rejects(
        svc2.connect(net, {
          containerId: cid(),
          containerName: 'x',
          netnsPath: f.netns('x'),
          portBindings: { '80/tcp': [{ HostIp: '', HostPort: String(port) }] },
        }),
        { status: 409 },
      );
    } finally {
      await svc2.close();
    }
  });
});

test('auto-allocated subnets avoid subnets already routed on the host (another daemon, another network)', {
  skip,
}, async () => {
  await withFixture(async (f) => {
    const g = await makeFixture();
    try {
      await f.svc.create({ Name: `${f.tag}-auto` });
      await g.svc.create({ Name: `${g.tag}-auto` });
      const a = f.svc.inspect(`${f.tag}-auto`).IPAM.Config[0]!.Subnet!;
      const b = g.svc.inspect(`${g.tag}-auto`).IPAM.Config[0]!.Subnet!;
      assert.notEqual(a, b, 'the second service sees the first one bridge route');
      assert.match(a, /^10\.20[23]\.\d+\.0\/24$/);
      // A bridge name already present on the host is refused, and nothing is left of the attempt.
      await assert.rejects(
        g.svc.create({ Name: `${g.tag}-dup`, Options: { 'com.docker.network.bridge.name': `${f.tag}0` } }),
        { status: 409 },
      );
      assert.throws(() => g.svc.inspect(`${g.tag}-dup`), { status: 404 });
    } finally {
      assert.deepEqual(await g.teardown(), []);
    }
  });
});
