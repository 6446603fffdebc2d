// releaseContainer (a container's whole network teardown in one `ip` batch) and the rule-set cache:
// rules are rewritten when ports come and go, never skipped when they change.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { isRoot } from '../../helpers/index.js';
import { cid, type Fixture, freePort, makeFixture } from './harness.js';

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

function dnatRules(f: Fixture): string[] {
  return execFileSync('iptables', ['-w', '-t', 'nat', '-S', f.tag.toUpperCase()])
    .toString()
    .split('\n')
    .filter((l) => l.includes('DNAT'));
}

const hostLinks = () => execFileSync('ip', ['-o', 'link', 'show']).toString();

test('releaseContainer removes endpoint, veth, sandbox and port rules; is idempotent', { skip }, async () => {
  await withFixture(async (f) => {
    const id = cid();
    const netns = await f.svc.createSandbox(id, { loopback: false });
    assert.ok(existsSync(netns));
    const port = freePort();
    const ep = await f.svc.connect('bridge', {
      containerId: id,
      containerName: 'rel',
      netnsPath: netns,
      portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] },
    });
    // loopback came up in the connect's batch even though the sandbox was made without it
    const inside = execFileSync('ip', ['-n', netns.split('/').pop()!, '-o', 'link', 'show', 'lo']).toString();
    assert.match(inside, /UP/);
    assert.equal(dnatRules(f).length, 1);
    const veths = hostLinks()
      .split('\n')
      .filter((l) => l.includes(`master ${f.options.defaultBridge} `));
    assert.equal(veths.length, 1);

    await f.svc.releaseContainer(id);
    assert.equal(existsSync(netns), false, 'the sandbox is gone');
    assert.equal(hostLinks().includes(`master ${f.options.defaultBridge} `), false, 'the veth is gone');
    assert.deepEqual(dnatRules(f), [], 'the published port rule is gone');
    assert.deepEqual(f.svc.endpointsOf(id), {});
    // the address is free again
    const again = cid();
    const ep2 = await f.svc.connect('bridge', {
      containerId: again,
      containerName: 'rel2',
      netnsPath: await f.svc.createSandbox(again),
    });
    assert.equal(ep2.IPAddress, ep.IPAddress);
    // idempotent, and harmless for a container that never had a sandbox
    await f.svc.releaseContainer(id);
    await f.svc.releaseContainer(cid());
    await f.svc.releaseContainer(again);
    assert.deepEqual(dnatRules(f), []);
  });
});

test('rules follow published ports across connects without ports (the unchanged set is skipped)', {
  skip,
}, async () => {
  await withFixture(async (f) => {
    const plain = cid();
    await f.svc.connect('bridge', {
      containerId: plain,
      containerName: 'plain',
      netnsPath: await f.svc.createSandbox(plain),
    });
    assert.deepEqual(dnatRules(f), []);
    const pub = cid();
    const port = freePort();
    await f.svc.connect('bridge', {
      containerId: pub,
      containerName: 'pub',
      netnsPath: await f.svc.createSandbox(pub),
      portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] },
    });
    assert.equal(dnatRules(f).length, 1);
    await f.svc.releaseContainer(plain);
    assert.equal(dnatRules(f).length, 1, 'another container leaving keeps the rule');
    await f.svc.releaseContainer(pub);
    assert.deepEqual(dnatRules(f), []);
  });
});

test('bad input: releaseContainer and createSandbox refuse malformed ids, change nothing', {
  skip,
}, async () => {
  await withFixture(async (f) => {
    await assert.rejects(f.svc.createSandbox('../etc', { loopback: false }), /invalid container id/);
    // (only our own links are compared: other tests on this host add and remove theirs meanwhile)
    const ours = () =>
      hostLinks()
        .split('\n')
        .filter((l) => l.includes(f.tag) || l.includes(f.tag.toUpperCase()));
    const before = ours();
    await assert.rejects(f.svc.releaseContainer('not-hex'), /invalid container id "not-hex"/);
    await assert.rejects(f.svc.releaseContainer(''), /invalid container id/);
    assert.deepEqual(ours(), before);
  });
});
