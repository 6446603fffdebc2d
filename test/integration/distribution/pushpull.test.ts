// Push an image, remove it, pull it back: same image ID and repo digest, against berth's registry and
// Debian's docker-registry. Also by digest, all tags, up-to-date pulls, cross-repository mounts and
// chunked uploads.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Distribution } from '../../../src/distribution/index.js';
import { haveCommand } from '../../helpers/index.js';
import {
  berthRegistry,
  distributionRegistry,
  imageStore,
  makeImage,
  type TestRegistry,
  type TestStore,
} from './helpers.js';

const kinds: ('berth' | 'distribution')[] = ['berth'];
if (haveCommand('docker-registry') || haveCommand('/usr/bin/docker-registry')) kinds.push('distribution');

for (const kind of kinds) {
  describe(`push and pull against ${kind}'s registry`, () => {
    let reg: TestRegistry;
    let src: TestStore;
    let dst: TestStore;
    before(async () => {
      reg = kind === 'berth' ? await berthRegistry() : await distributionRegistry();
      src = await imageStore();
      dst = await imageStore();
    });
    after(async () => {
      await reg?.close();
      src?.cleanup();
      dst?.cleanup();
    });

    test('round trip keeps image ID and digest; second pull is up to date; by digest', async () => {
      const ref = `${reg.host}/test/app:v1`;
      const rec = await makeImage(src.images, ref, { layers: 3 });
      const msgs: Record<string, unknown>[] = [];
      const pusher = new Distribution({ images: src.images, chunkSize: 8192 });
      const [pushed] = await pusher.push(`${reg.host}/test/app`, 'v1', {
        progress: (m) => msgs.push(m as never),
      });
      assert.ok(pushed);
      assert.match(pushed.digest, /^sha256:[a-f0-9]{64}$/);
      const statuses = msgs.map((m) => m.status);
      assert.equal(statuses[0], `The push refers to repository [${reg.host}/test/app]`);
      assert.ok(statuses.includes('Preparing'));
      assert.ok(statuses.includes('Pushed'));
      assert.ok(statuses.includes(`v1: digest: ${pushed.digest} size: ${pushed.size}`));
      assert.ok(src.images.resolve(ref).repoDigests.includes(`${reg.host}/test/app@${pushed.digest}`));

      // Pushing again: every layer already exists.
      const again: Record<string, unknown>[] = [];
      await pusher.push(ref, undefined, { progress: (m) => again.push(m as never) });
      assert.equal(again.filter((m) => m.status === 'Layer already exists').length, 3);

      const puller = new Distribution({ images: dst.images });
      const pmsgs: Record<string, unknown>[] = [];
      const [pulled] = await puller.pull(ref, { progress: (m) => pmsgs.push(m as never) });
      assert.equal(pulled!.id, rec.id);
      assert.equal(pulled!.digest, pushed.digest);
      const got = dst.images.resolve(ref);
      assert.equal(got.id, rec.id);
      assert.deepEqual(got.repoDigests, [`${reg.host}/test/app@${pushed.digest}`]);
      const ps = pmsgs.map((m) => m.status);
      assert.deepEqual(pmsgs[0], { status: 'Pulling from test/app', id: 'v1' });
      assert.equal(ps.filter((s) => s === 'Pull complete').length, 3);
      assert.ok(ps.includes('Download complete'));
      assert.ok(ps.includes(`Digest: ${pushed.digest}`));
      assert.equal(ps.at(-1), `Status: Downloaded newer image for ${ref}`);
      // Same layers, same chain as the source.
      assert.equal(got.topChainId, rec.topChainId);

      const up: Record<string, unknown>[] = [];
      const [second] = await puller.pull(ref, { progress: (m) => up.push(m as never) });
      assert.equal(second!.upToDate, true);
      assert.equal(up.at(-1)!.status, `Status: Image is up to date for ${ref}`);

      // By digest, into a third store: tagless, with the repo digest.
      const third = await imageStore();
      try {
        const byDigest = `${reg.host}/test/app@${pushed.digest}`;
        const d = new Distribution({ images: third.images });
        const [r] = await d.pull(byDigest);
        assert.equal(r!.id, rec.id);
        const img = third.images.resolve(byDigest);
        assert.deepEqual(img.repoTags, []);
        assert.deepEqual(img.repoDigests, [byDigest]);
      } finally {
        third.cleanup();
      }
    });

    test('removing and pulling back gives the same image; layers already present are skipped', async () => {
      const ref = `${reg.host}/test/again:latest`;
      const rec = await makeImage(src.images, ref, { layers: 2, seed: 'again' });
      const d = new Distribution({ images: src.images });
      const [pushed] = await d.push(ref, undefined);
      // The base image stays under a tag of its own, so its layer is here when the top comes back.
      await src.images.tag(rec.parent!, 'keep/again-base:1');
      await src.images.remove(ref);
      assert.equal(src.images.find(ref), undefined);
      assert.equal(src.images.find(rec.id), undefined);
      const msgs: Record<string, unknown>[] = [];
      await d.pull(`${reg.host}/test/again`, { progress: (m) => msgs.push(m as never) });
      const back = src.images.resolve(ref);
      assert.equal(back.id, rec.id);
      assert.ok(back.repoDigests.includes(`${reg.host}/test/again@${pushed!.digest}`));
      assert.ok(msgs.some((m) => m.status === 'Already exists'));
    });

    test('cross-repository mount and all tags', async () => {
      const ref = `${reg.host}/test/base:one`;
      await makeImage(src.images, ref, { layers: 2, seed: 'mount' });
      await src.images.tag(ref, `${reg.host}/test/base:two`);
      const d = new Distribution({ images: src.images });
      const results = await d.push(`${reg.host}/test/base`, undefined);
      assert.deepEqual(
        results.map((r) => r.tag),
        ['one', 'two'],
      );
      await src.images.tag(ref, `${reg.host}/other/copy:x`);
      const msgs: Record<string, unknown>[] = [];
      await d.push(`${reg.host}/other/copy:x`, undefined, { progress: (m) => msgs.push(m as never) });
      const mounted = msgs.filter((m) => typeof m.status === 'string' && m.status.startsWith('Mounted from'));
      assert.ok(mounted.length >= 1, JSON.stringify(msgs));
      assert.match(String(mounted[0]!.status), /^Mounted from (127\.0\.0\.1:\d+\/)?test\/(app|base|again)$/);

      const fresh = await imageStore();
      try {
        const p = new Distribution({ images: fresh.images });
        const all = await p.pull(`${reg.host}/test/base`, { allTags: true });
        assert.equal(all.length, 2);
        assert.ok(fresh.images.find(`${reg.host}/test/base:one`));
        assert.ok(fresh.images.find(`${reg.host}/test/base:two`));
        await assert.rejects(
          p.pull(`${reg.host}/test/base:one`, { allTags: true }),
          /can't be used with --all-tags/,
        );
      } finally {
        fresh.cleanup();
      }
    });
  });
}
