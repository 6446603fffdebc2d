// The `run --rm` hot path over the Engine API of a private daemon: the "removed" wait answers before
// the background clean-up, which still removes the netns, veth, overlay mount and files; the name is
// free at once; a start that fails on the bridge leaves no netns, veth or port rule behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EngineClient } from '../../../src/client/index.js';
import { importBusybox, startTestDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { haveCommand, isRoot } from '../../helpers/index.js';

const skip =
  !isRoot() || !haveCommand('runc') || !haveCommand('conmon') ? 'needs root, runc, conmon' : undefined;

async function until(check: () => boolean, ms = 15_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('run --rm: answered early, cleaned up fully', { skip, concurrency: false }, () => {
  let d: TestDaemon;
  let c: EngineClient;
  let bridge = '';
  let prefix = '';
  before(async () => {
    d = await startTestDaemon();
    c = d.client;
    await importBusybox(d);
    const net = await c.networks.inspect('bridge');
    bridge = net.Options?.['com.docker.network.bridge.name'] ?? '';
    assert.match(bridge, /^bt[0-9a-f]+0$/);
    prefix = bridge.slice(0, -1);
  });
  after(async () => {
    await d?.stop();
  });

  const netnsOf = (id: string) => `/run/netns/${prefix}-${id.slice(0, 12)}`;
  const vethsOnBridge = () =>
    execFileSync('ip', ['-o', 'link', 'show'])
      .toString()
      .split('\n')
      .filter((l) => l.includes(`master ${bridge} `));
  const mountsOf = (id: string) =>
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(id));
  const dnatRules = () =>
    execFileSync('iptables', ['-w', '-t', 'nat', '-S', prefix.toUpperCase()])
      .toString()
      .split('\n')
      .filter((l) => l.includes('DNAT'));
  const containerDir = (id: string) => join(d.root, 'data', 'containers', id);

  test('the removed wait answers with the exit code; netns, veth, mount and files then go', async () => {
    const { Id } = await c.containers.create(
      { Image: 'busybox', Cmd: ['sh', '-c', 'exit 7'], HostConfig: { AutoRemove: true } },
      { name: 'rmfast' },
    );
    const removed = c.containers.wait(Id, { condition: 'removed' });
    await c.containers.start(Id);
    assert.equal((await removed).StatusCode, 7);
    // The record is gone at once: a 404, and the name can be taken again right away.
    const gone = await c.raw('GET', `/containers/${Id}/json`);
    assert.equal(gone.status, 404);
    await gone.text();
    const again = await c.containers.create({ Image: 'busybox', Cmd: ['true'] }, { name: 'rmfast' });
    assert.notEqual(again.Id, Id);
    await c.containers.remove(again.Id);
    // The kernel and disk state follow shortly (bounded wait, no timing assertion on how fast).
    assert.equal(await until(() => !existsSync(netnsOf(Id))), true, 'netns removed');
    assert.equal(await until(() => mountsOf(Id).length === 0), true, 'overlay unmounted');
    assert.equal(await until(() => !existsSync(containerDir(Id))), true, 'container directory removed');
    assert.equal(await until(() => vethsOnBridge().length === 0), true, 'veth removed');
  });

  test('the overlay of an AutoRemove container is volatile (no syncs); a kept one is not', async () => {
    const rootMountOf = async (autoRemove: boolean) => {
      const { Id } = await c.containers.create({
        Image: 'busybox',
        Cmd: ['sleep', '30'],
        HostConfig: { AutoRemove: autoRemove },
      });
      await c.containers.start(Id);
      const line = mountsOf(Id).find((l) => l.includes(' overlay ')) ?? '';
      await c.containers.remove(Id, { force: true });
      return line;
    };
    assert.match(await rootMountOf(true), /[,\s](volatile|fsync=volatile)(,|\s|$)/);
    const kept = await rootMountOf(false);
    assert.match(kept, / overlay /);
    assert.doesNotMatch(kept, /volatile/);
  });

  test('the container ran on the bridge with its address in /etc/hosts (plumbed during create)', async () => {
    const { Id } = await c.containers.create({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'ip -o -4 addr show eth0; cat /etc/hosts; ip route'],
      HostConfig: { AutoRemove: false },
    });
    await c.containers.start(Id);
    assert.equal((await c.containers.wait(Id)).StatusCode, 0);
    const info = await c.containers.inspect(Id);
    const ip = info.NetworkSettings?.Networks?.bridge?.IPAddress;
    const logs = await c.raw('GET', `/containers/${Id}/logs`, { query: { stdout: '1' } });
    const out = await logs.text();
    await c.containers.remove(Id);
    // the address of the run (inspect keeps the last one) is on eth0, in /etc/hosts, with a default route
    const addr = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
    assert.ok(addr, `eth0 had an address: ${out}`);
    assert.ok(ip === '' || ip === undefined || ip === addr);
    assert.match(out, new RegExp(`${addr!.replaceAll('.', '\\.')}\\s+${Id.slice(0, 12)}`));
    assert.match(out, /default via \d+\.\d+\.\d+\.\d+ dev eth0/);
  });

  test('a volume is free as soon as the removed wait answers', async () => {
    const name = `runrm-vol-${Date.now().toString(36)}`;
    await c.volumes.create({ Name: name });
    const { Id } = await c.containers.create({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'echo kept > /data/f'],
      HostConfig: { AutoRemove: true, Binds: [`${name}:/data`] },
    });
    const removed = c.containers.wait(Id, { condition: 'removed' });
    await c.containers.start(Id);
    assert.equal((await removed).StatusCode, 0);
    await c.volumes.remove(name); // a 409 "volume is in use" would throw
    assert.equal(await until(() => !existsSync(netnsOf(Id))), true, 'netns removed');
  });

  test('a published port already in use fails the start with the port error, not the runtime’s', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const { Id } = await c.containers.create({
        Image: 'busybox',
        Cmd: ['sleep', '30'],
        ExposedPorts: { '80/tcp': {} },
        HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } },
      });
      const started = await c.raw('POST', `/containers/${Id}/start`);
      assert.equal(started.status >= 400, true);
      const body = (await started.json()) as { message?: string };
      assert.match(body.message ?? '', /address already in use|port is already allocated/);
      assert.doesNotMatch(body.message ?? '', /no such file/i);
      assert.equal(existsSync(netnsOf(Id)), false, 'no netns');
      assert.deepEqual(vethsOnBridge(), [], 'no veth');
      assert.deepEqual(dnatRules(), [], 'no DNAT rule');
      assert.equal((await c.containers.inspect(Id)).State?.Running, false);
      await c.containers.remove(Id, { force: true });
    } finally {
      server.close();
    }
  });

  test('a start that fails on the bridge leaves no netns, veth or port rule behind', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const { Id } = await c.containers.create({
      Image: 'busybox',
      Cmd: ['/no/such/binary'],
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } },
    });
    const started = await c.raw('POST', `/containers/${Id}/start`);
    assert.equal(started.status >= 400, true);
    const body = (await started.json()) as { message?: string };
    assert.match(body.message ?? '', /no such file|not found/i);
    assert.equal(existsSync(netnsOf(Id)), false, 'no netns');
    assert.deepEqual(vethsOnBridge(), [], 'no veth');
    assert.deepEqual(dnatRules(), [], 'no DNAT rule');
    assert.deepEqual(mountsOf(Id), [], 'no mount');
    const info = await c.containers.inspect(Id);
    assert.equal(info.State?.Running, false);
    assert.equal(info.State?.ExitCode, 127);
    await c.containers.remove(Id);

    // The same with AutoRemove: the failed container is removed as well.
    const auto = await c.containers.create({
      Image: 'busybox',
      Cmd: ['/no/such/binary'],
      HostConfig: { AutoRemove: true },
    });
    const failed = await c.raw('POST', `/containers/${auto.Id}/start`);
    assert.equal(failed.status >= 400, true);
    await failed.text();
    const gone = await c.raw('GET', `/containers/${auto.Id}/json`);
    assert.equal(gone.status, 404);
    await gone.text();
    assert.equal(existsSync(netnsOf(auto.Id)), false);
    assert.deepEqual(vethsOnBridge(), []);
    assert.equal(existsSync(containerDir(auto.Id)), false);
  });
});
