// commit({ layer: { upperDir, adopt: true } }): the directory is moved into the layer store instead of
// being unpacked again from its tar; the result must be the image an ordinary commit makes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ImageService } from '../../../src/images/index.js';
import { isRoot, tempDir } from '../../helpers/index.js';

const skip = !isRoot() && 'needs root';
let t: { path: string; cleanup: () => void };
let svc: ImageService;

before(async () => {
  t = tempDir('berth-img-adopt-');
  svc = new ImageService(join(t.path, 'root'));
  await svc.init();
});
after(() => t.cleanup());

/** A layer directory like the builder's: files, modes, a symlink, a hard link and a whiteout. */
function makeLayer(dir: string): void {
  mkdirSync(join(dir, 'app/sub'), { recursive: true });
  writeFileSync(join(dir, 'app/a.txt'), 'alpha\n');
  writeFileSync(join(dir, 'app/sub/run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(dir, 'app/sub/run.sh'), 0o750);
  symlinkSync('a.txt', join(dir, 'app/link'));
  linkSync(join(dir, 'app/a.txt'), join(dir, 'app/hard'));
  execFileSync('mknod', [join(dir, 'app/removed'), 'c', '0', '0']);
  // Same times in both directories, so the same content archives to the same diffID.
  execFileSync('find', [dir, '-mindepth', '1', '-exec', 'touch', '-h', '-d', '@1700000000', '{}', '+']);
}

test('an adopted directory yields the same image as an unpacked one, and moves into the store', {
  skip,
}, async () => {
  const plain = join(t.path, 'plain');
  const adopted = join(svc.tempDir(), 'layer');
  makeLayer(plain);
  makeLayer(adopted);
  const base = await svc.commit({ parent: null, layer: null, config: { Cmd: ['sh'] }, tag: 'adopt-base:1' });
  const a = await svc.commit({ parent: base.id, layer: { upperDir: plain }, createdBy: 'x' });
  // Drop the first image's layer so the second commit has to adopt rather than find the chain.
  const layerOf = (id: string) => svc.layers.get(svc.resolve(id).topChainId!);
  const first = layerOf(a.id);
  await svc.remove(a.id, { force: true });
  assert.equal(svc.layers.has(first.chainId), false, 'the first layer is gone');
  const b = await svc.commit({
    parent: base.id,
    layer: { upperDir: adopted, adopt: true, xattrs: false },
    createdBy: 'x',
  });
  const info = layerOf(b.id);
  assert.equal(info.diffId, first.diffId, 'same content, same diffID');
  assert.equal(info.size, first.size);
  assert.equal(info.tarSize, first.tarSize);
  assert.equal(existsSync(adopted), false, 'the directory was moved into the store');
  const d = info.diffDir;
  assert.equal(readFileSync(join(d, 'app/a.txt'), 'utf8'), 'alpha\n');
  assert.equal(lstatSync(join(d, 'app/sub/run.sh')).mode & 0o777, 0o750);
  assert.equal(readlinkSync(join(d, 'app/link')), 'a.txt');
  assert.equal(lstatSync(join(d, 'app/hard')).ino, lstatSync(join(d, 'app/a.txt')).ino);
  assert.ok(lstatSync(join(d, 'app/removed')).isCharacterDevice(), 'the whiteout stays an overlay whiteout');

  // A second commit of the same content on the same parent finds the chain: the directory stays put.
  const again = join(svc.tempDir(), 'layer');
  makeLayer(again);
  await svc.commit({
    parent: base.id,
    layer: { upperDir: again, adopt: true, xattrs: false },
    createdBy: 'y',
  });
  assert.equal(existsSync(again), true);

  // The store reads the adopted layer back after a restart.
  const reopened = new ImageService(join(t.path, 'root'));
  await reopened.init();
  assert.equal(reopened.layers.get(info.chainId).diffId, info.diffId);
});
