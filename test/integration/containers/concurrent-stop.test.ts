// Concurrent starts, stops and removals over the Engine API of a private daemon: the network's slow
// steps run outside its lock and a container's release runs after its exit is answered, so this checks
// what must still hold: distinct addresses, the right exit code per container, `rm` right after `stop`
// succeeding, a restart right after a stop, and nothing left (netns, veths, mounts, DNAT rules, files).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EngineClient } from '../../../src/client/index.js';
import { importBusybox, startTestDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { haveCommand, isRoot } from '../../helpers/index.js';

const skip =
  !isRoot() || !haveCommand('runc') || !haveCommand('conmon') ? 'needs root, runc, conmon' : undefined;

const COUNT = 8;

describe('concurrent start, stop and remove', { skip, concurrency: false }, () => {
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
  const ourNetns = () => readdirSync('/run/netns').filter((n) => n.startsWith(`${prefix}-`));
  const vethsOn = (br: string) =>
    execFileSync('ip', ['-o', 'link', 'show'])
      .toString()
      .split('\n')
      .filter((l) => l.includes(`master ${br} `));
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

  test(`${COUNT} containers started, stopped and removed at once leave nothing, each with its exit code`, async () => {
    const userNet = await c.networks.create({ Name: `${prefix}-conc`, Driver: 'bridge' });
    const userBridge = (await c.networks.inspect(userNet.Id!)).Options?.['com.docker.network.bridge.name'];
    type Body = Parameters<EngineClient['containers']['create']>[0];
    const specs = Array.from({ length: COUNT }, (_, i): { expected: number; body: Body } => {
      // Even ones exit on SIGTERM with their own code; odd ones ignore it (pid 1) and are killed: 137.
      const traps = i % 2 === 0;
      return {
        expected: traps ? 10 + i : 137,
        body: {
          Image: 'busybox',
          Cmd: traps
            ? ['sh', '-c', `trap 'exit ${10 + i}' TERM; while true; do sleep 0.1; done`]
            : ['sleep', '600'],
          ExposedPorts: { '80/tcp': {} },
          HostConfig: {
            NetworkMode: i % 4 < 2 ? 'bridge' : `${prefix}-conc`,
            // Every other one publishes a port: its DNAT rule must come and go with it.
            PortBindings: i % 3 === 0 ? { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } : {},
          },
        },
      };
    });
    const ids = await Promise.all(specs.map(async (s) => (await c.containers.create(s.body)).Id));
    try {
      await Promise.all(ids.map((id) => c.containers.start(id)));
      const infos = await Promise.all(ids.map((id) => c.containers.inspect(id)));
      const ips = infos.map((info) =>
        Object.values(info.NetworkSettings?.Networks ?? {})
          .map((n) => n.IPAddress)
          .join(','),
      );
      assert.equal(new Set(ips).size, COUNT, `distinct addresses: ${ips.join(' ')}`);
      for (const info of infos) assert.equal(info.State?.Running, true);
      assert.equal(dnatRules().length, specs.filter((_, i) => i % 3 === 0).length);
      // Give the traps time to be installed before the signal comes.
      await new Promise((r) => setTimeout(r, 300));

      // Stop (then inspect, then remove) all at once: rm right after stop must succeed.
      const codes = await Promise.all(
        ids.map(async (id) => {
          await c.containers.stop(id, { t: 2 });
          const info = await c.containers.inspect(id);
          assert.equal(info.State?.Running, false);
          assert.equal(info.State?.Status, 'exited');
          assert.ok(info.State?.FinishedAt && Date.parse(info.State.FinishedAt) > 0);
          await c.containers.remove(id);
          return info.State?.ExitCode;
        }),
      );
      assert.deepEqual(
        codes,
        specs.map((s) => s.expected),
      );
      // Removal awaited each container's release: nothing is left, without waiting further.
      for (const id of ids) {
        assert.equal(existsSync(netnsOf(id)), false, `netns of ${id}`);
        assert.deepEqual(mountsOf(id), [], `mounts of ${id}`);
        assert.equal(existsSync(containerDir(id)), false, `directory of ${id}`);
      }
      assert.deepEqual(ourNetns(), []);
      assert.deepEqual(vethsOn(bridge), []);
      assert.deepEqual(userBridge ? vethsOn(userBridge) : [], []);
      assert.deepEqual(dnatRules(), []);
      // The user network has no endpoints left: it can go at once.
      await c.networks.remove(userNet.Id!);
    } finally {
      await Promise.all(ids.map((id) => c.containers.remove(id, { force: true }).catch(() => {})));
      await c.networks.remove(userNet.Id!).catch(() => {});
    }
  });

  test('a start right after a stop waits for the release and runs again; rm -f of a running one', async () => {
    const { Id } = await c.containers.create({
      Image: 'busybox',
      Cmd: ['sh', '-c', "trap 'exit 3' TERM; while true; do sleep 0.1; done"],
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
    });
    try {
      await c.containers.start(Id);
      await new Promise((r) => setTimeout(r, 300));
      await c.containers.stop(Id, { t: 5 });
      assert.equal((await c.containers.inspect(Id)).State?.ExitCode, 3);
      await c.containers.start(Id);
      const info = await c.containers.inspect(Id);
      assert.equal(info.State?.Running, true);
      assert.ok(info.NetworkSettings?.Networks?.bridge?.IPAddress, 'connected again');
      assert.equal(existsSync(netnsOf(Id)), true);
      assert.equal(vethsOn(bridge).length, 1);
      assert.equal(dnatRules().length, 1);
      await c.containers.remove(Id, { force: true });
      assert.equal(existsSync(netnsOf(Id)), false);
      assert.deepEqual(vethsOn(bridge), []);
      assert.deepEqual(dnatRules(), []);
      assert.deepEqual(mountsOf(Id), []);
    } finally {
      await c.containers.remove(Id, { force: true }).catch(() => {});
    }
  });

  test('a bad network reference in a concurrent batch fails alone and leaves nothing', async () => {
    const good = await c.containers.create({ Image: 'busybox', Cmd: ['sleep', '600'] });
    const bad = await c.containers.create({
      Image: 'busybox',
      Cmd: ['sleep', '600'],
      HostConfig: { NetworkMode: `${prefix}-missing` },
    });
    try {
      const [g, b] = await Promise.allSettled([c.containers.start(good.Id), c.containers.start(bad.Id)]);
      assert.equal(g.status, 'fulfilled');
      assert.equal(b.status, 'rejected');
      assert.match(String((b as PromiseRejectedResult).reason), /missing|not found/i);
      assert.equal(existsSync(netnsOf(bad.Id)), false);
      await c.containers.remove(good.Id, { force: true });
      assert.deepEqual(ourNetns(), []);
    } finally {
      for (const id of [good.Id, bad.Id]) await c.containers.remove(id, { force: true }).catch(() => {});
    }
  });
});
