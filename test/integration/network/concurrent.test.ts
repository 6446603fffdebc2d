// Concurrent container operations on one NetworkService: sandboxes, veths and link deletion run outside
// the service's lock (serialised per container) and iptables rewrites coalesce, so this checks what must
// still hold: distinct addresses and host ports, every port's DNAT rule present after the connects, none
// after the releases, nothing left in the kernel, and a failing connect that leaves nothing behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { isRoot } from '../../helpers/index.js';
import { cid, type Fixture, makeFixture } from './harness.js';

const skip = !isRoot() ? 'needs root' : false;
const COUNT = 8;

async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const f = await makeFixture();
  try {
    await fn(f);
  } finally {
    const left = await f.teardown();
    assert.deepEqual(left, [], 'nothing of ours may remain after the test');
  }
}

const dnatRules = (f: Fixture): string[] =>
  execFileSync('iptables', ['-w', '-t', 'nat', '-S', f.tag.toUpperCase()])
    .toString()
    .split('\n')
    .filter((l) => l.includes('DNAT'));

const vethsOn = (bridge: string) =>
  execFileSync('ip', ['-o', 'link', 'show'])
    .toString()
    .split('\n')
    .filter((l) => l.includes(`master ${bridge} `));

test(`${COUNT} containers sandboxed, connected and released at once`, { skip }, async () => {
  await withFixture(async (f) => {
    await f.svc.create({ Name: `${f.tag}-user`, Driver: 'bridge' });
    const ids = Array.from({ length: COUNT }, () => cid());
    const settings = await Promise.all(
      ids.map(async (id, i) => {
        const netns = await f.svc.createSandbox(id, { loopback: false });
        // Half on the default bridge, half on the user network; every one publishes an ephemeral port.
        return f.svc.connect(i % 2 === 0 ? 'bridge' : `${f.tag}-user`, {
          containerId: id,
          containerName: `c${i}`,
          netnsPath: netns,
          portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
          resolvConfPath: null,
        });
      }),
    );
    const ips = settings.map((s) => s.IPAddress);
    assert.equal(new Set(ips).size, COUNT, `distinct addresses: ${ips.join(' ')}`);
    const ports = ids.map((id) => f.svc.portsOf(id)['80/tcp']?.[0]?.HostPort);
    assert.equal(new Set(ports).size, COUNT, `distinct host ports: ${ports.join(' ')}`);
    // The coalesced rewrites ended with every connect's rule in place.
    const rules = dnatRules(f);
    assert.equal(rules.length, COUNT);
    for (const ip of ips)
      assert.ok(
        rules.some((r) => r.includes(`${ip}:80`)),
        `DNAT to ${ip}`,
      );
    assert.equal(vethsOn(f.options.defaultBridge!).length, COUNT / 2);

    // A connect that fails (namespace gone) in the middle of concurrent releases leaves nothing.
    const ghost = cid();
    const released = Promise.all(ids.map((id) => f.svc.releaseContainer(id)));
    await assert.rejects(
      f.svc.connect('bridge', {
        containerId: ghost,
        containerName: 'ghost',
        netnsPath: `/run/netns/${f.tag}-does-not-exist`,
      }),
      /does not exist/,
    );
    // A network removal waits for the releases of its endpoints under way.
    await f.svc.remove(`${f.tag}-user`);
    await released;
    assert.deepEqual(dnatRules(f), []);
    assert.deepEqual(vethsOn(f.options.defaultBridge!), []);
    for (const id of ids) {
      assert.equal(existsSync(f.svc.sandboxPath(id)), false);
      assert.deepEqual(f.svc.endpointsOf(id), {});
    }
    assert.deepEqual(f.svc.endpointsOf(ghost), {});
    // Released addresses are free again.
    const again = cid();
    const ns = await f.svc.createSandbox(again, { loopback: false });
    const ep = await f.svc.connect('bridge', { containerId: again, containerName: 'again', netnsPath: ns });
    assert.ok(ips.includes(ep.IPAddress), `${ep.IPAddress} reuses a released address`);
    await f.svc.releaseContainer(again);
  });
});
