// The container service through the Engine API of a private daemon: create-body validation, wait
// conditions, restart-policy bookkeeping, AutoRemove, and state after kill/stop races.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EngineClient } from '../../../src/client/index.js';
import { startTestDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { haveCommand, isRoot, makeBusyboxRootfs, tempDir } from '../../helpers/index.js';

const skip =
  !isRoot() || !haveCommand('runc') || !haveCommand('conmon') ? 'needs root, runc, conmon' : undefined;

describe('ContainerService over the Engine API', { skip, concurrency: false }, () => {
  let d: TestDaemon;
  let c: EngineClient;
  let tmp: { path: string; cleanup: () => void };
  before(async () => {
    d = await startTestDaemon();
    c = d.client;
    tmp = tempDir('berth-svc-');
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    makeBusyboxRootfs(rootfs);
    const tar = join(tmp.path, 'bb.tar');
    execFileSync('tar', ['-C', rootfs, '-cf', tar, '.']);
    for await (const _ of c.images.import(createReadStream(tar), {
      repo: 'busybox',
      tag: 'latest',
      changes: ['CMD ["sh"]'],
    })) {
      // drain progress
    }
  });
  after(async () => {
    await d?.stop();
    tmp?.cleanup();
  });

  const create = async (body: Record<string, unknown>, name?: string) => {
    const r = await c.raw('POST', '/containers/create', { body, query: name ? { name } : undefined });
    return { status: r.status, body: (await r.json()) as { Id?: string; message?: string } };
  };

  test('bad create bodies are 400s naming the problem, and leave nothing behind', async () => {
    const before = (await c.containers.list({ all: true })).length;
    const noImage = await create({ Cmd: ['true'] });
    assert.equal(noImage.status, 400);
    assert.match(noImage.body.message ?? '', /image/i);
    const badPolicy = await create({
      Image: 'busybox',
      HostConfig: { RestartPolicy: { Name: 'sometimes' } },
    });
    assert.equal(badPolicy.status, 400);
    assert.match(badPolicy.body.message ?? '', /sometimes/);
    const rmAlways = await create({
      Image: 'busybox',
      HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } },
    });
    assert.equal(rmAlways.status, 400);
    assert.match(rmAlways.body.message ?? '', /AutoRemove.*restart policy/);
    const badName = await create({ Image: 'busybox' }, 'no spaces allowed');
    assert.equal(badName.status, 400);
    assert.match(badName.body.message ?? '', /Invalid container name/);
    const noSuchImage = await create({ Image: 'nosuch:tag' });
    assert.equal(noSuchImage.status, 404);
    assert.match(noSuchImage.body.message ?? '', /No such image: nosuch:tag/);
    const notJson = await c.raw('POST', '/containers/create', {
      body: '{"Image": ',
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(notJson.status, 400);
    await notJson.text();
    assert.equal((await c.containers.list({ all: true })).length, before);
  });

  test('a missing network is a 404 at start, the container stays created', async () => {
    const created = await create({
      Image: 'busybox',
      Cmd: ['true'],
      HostConfig: { NetworkMode: 'nosuchnet' },
    });
    assert.equal(created.status, 201);
    const id = created.body.Id!;
    const start = await c.raw('POST', `/containers/${id}/start`);
    assert.equal(start.status, 404);
    assert.match(((await start.json()) as { message: string }).message, /network nosuchnet not found/);
    assert.equal((await c.containers.inspect(id)).State?.Status, 'created');
    await c.containers.remove(id);
  });

  test('wait conditions: next-exit across a restart, removed for AutoRemove', async () => {
    const { Id } = await c.containers.create({ Image: 'busybox', Cmd: ['sleep', '300'] });
    await c.containers.start(Id);
    const nextExit = c.containers.wait(Id, { condition: 'next-exit' });
    await c.containers.kill(Id, { signal: 'KILL' });
    assert.equal((await nextExit).StatusCode, 137);
    // not-running on a stopped container answers at once with the last exit code
    assert.equal((await c.containers.wait(Id)).StatusCode, 137);
    await c.containers.remove(Id);

    const auto = await c.containers.create({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'exit 3'],
      HostConfig: { AutoRemove: true },
    });
    const removed = c.containers.wait(auto.Id, { condition: 'removed' });
    await c.containers.start(auto.Id);
    assert.equal((await removed).StatusCode, 3);
    const gone = await c.raw('GET', `/containers/${auto.Id}/json`);
    assert.equal(gone.status, 404);
    await gone.text();
    const badCond = await c.raw('POST', `/containers/${Id}/wait`, { query: { condition: 'whenever' } });
    assert.ok(badCond.status === 400 || badCond.status === 404);
    await badCond.text();
  });

  test('restart on-failure counts restarts; a user stop ends the policy', async () => {
    const { Id } = await c.containers.create({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'exit 2'],
      HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } },
    });
    await c.containers.start(Id);
    let info = await c.containers.inspect(Id);
    for (let i = 0; i < 100 && !(info.State?.Status === 'exited' && info.RestartCount === 2); i++) {
      await new Promise((r) => setTimeout(r, 200));
      info = await c.containers.inspect(Id);
    }
    assert.equal(info.RestartCount, 2);
    assert.equal(info.State?.ExitCode, 2);
    await c.containers.remove(Id);

    const always = await c.containers.create({
      Image: 'busybox',
      Cmd: ['sleep', '300'],
      HostConfig: { RestartPolicy: { Name: 'always' } },
    });
    await c.containers.start(always.Id);
    await c.containers.stop(always.Id, { t: 1 });
    await new Promise((r) => setTimeout(r, 800));
    const stopped = await c.containers.inspect(always.Id);
    assert.equal(stopped.State?.Status, 'exited');
    assert.equal(stopped.RestartCount, 0);
    await c.containers.remove(always.Id);
  });

  test('kill and remove racing a stop leave a consistent, removable record', async () => {
    const { Id } = await c.containers.create({ Image: 'busybox', Cmd: ['sleep', '300'] });
    await c.containers.start(Id);
    const results = await Promise.allSettled([
      c.containers.stop(Id, { t: 5 }),
      c.containers.kill(Id),
      c.containers.stop(Id, { t: 5 }),
    ]);
    assert.ok(results.some((r) => r.status === 'fulfilled'));
    const info = await c.containers.inspect(Id);
    assert.equal(info.State?.Status, 'exited');
    assert.equal(info.State?.Running, false);
    await c.containers.start(Id);
    await Promise.all([c.containers.remove(Id, { force: true }), c.containers.kill(Id).catch(() => {})]);
    const gone = await c.raw('GET', `/containers/${Id}/json`);
    assert.equal(gone.status, 404);
    await gone.text();
  });
});
