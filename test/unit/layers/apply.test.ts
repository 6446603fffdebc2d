import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { applyLayer, chainId, chainIds, tarDirectory } from '../../../src/layers/index.js';
import { sha256 } from '../../../src/util/index.js';
import { tempDir } from '../../helpers/index.js';

type Entry = {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device';
  body?: string;
  linkname?: string;
  mtime?: Date;
};

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const p = tarPack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    await new Promise<void>((res, rej) =>
      p.entry(
        {
          name: e.name,
          type: e.type ?? 'file',
          linkname: e.linkname,
          mode: 0o644,
          ...(e.mtime ? { mtime: e.mtime } : {}),
        },
        e.body ?? '',
        (err) => (err ? rej(err) : res()),
      ),
    );
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** A layer dir and an "outside" dir next to it; asserts the outside is untouched. */
async function hostile(entries: Entry[], expectEntry: string): Promise<void> {
  const t = tempDir();
  try {
    const dest = join(t.path, 'layer');
    const outside = join(t.path, 'outside');
    mkdirSync(dest);
    mkdirSync(outside);
    writeFileSync(join(outside, 'victim'), 'original');
    const tar = await makeTar(
      entries.map((e) => ({ ...e, linkname: e.linkname?.replace('OUTSIDE', outside), name: e.name })),
    );
    await assert.rejects(applyLayer(Readable.from([tar]), dest), (err: Error & { status: number }) => {
      assert.equal(err.status, 400);
      assert.ok(err.message.includes(`"${expectEntry}"`), `error should name ${expectEntry}: ${err.message}`);
      return true;
    });
    assert.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'original');
    assert.deepEqual(execFileSync('ls', ['-A', outside]).toString().trim().split('\n'), ['victim']);
    assert.equal(existsSync(join(t.path, 'evil')), false);
  } finally {
    t.cleanup();
  }
}

test('safe extraction: ".." entries are rejected', async () => {
  await hostile([{ name: '../evil', body: 'x' }], '../evil');
  await hostile([{ name: 'a/../../outside/victim', body: 'x' }], 'a/../../outside/victim');
});

test('safe extraction: absolute paths are rejected', async () => {
  await hostile([{ name: '/tmp/evil-abs', body: 'x' }], '/tmp/evil-abs');
});

test('safe extraction: no write through a symlink planted by an earlier entry', async () => {
  await hostile(
    [
      { name: 'link', type: 'symlink', linkname: 'OUTSIDE' },
      { name: 'link/victim', body: 'pwned' },
    ],
    'link/victim',
  );
  await hostile(
    [
      { name: 'up', type: 'symlink', linkname: '..' },
      { name: 'up/outside/victim', body: 'pwned' },
    ],
    'up/outside/victim',
  );
});

test('safe extraction: a file entry replaces a symlink instead of writing through it', async () => {
  const t = tempDir();
  try {
    const dest = join(t.path, 'layer');
    mkdirSync(dest);
    writeFileSync(join(t.path, 'victim'), 'original');
    const tar = await makeTar([
      { name: 'f', type: 'symlink', linkname: join(t.path, 'victim') },
      { name: 'f', body: 'new content' },
    ]);
    await applyLayer(Readable.from([tar]), dest);
    assert.equal(readFileSync(join(t.path, 'victim'), 'utf8'), 'original');
    assert.ok(lstatSync(join(dest, 'f')).isFile());
    assert.equal(readFileSync(join(dest, 'f'), 'utf8'), 'new content');
  } finally {
    t.cleanup();
  }
});

test('safe extraction: hardlinks to outside or absolute paths are rejected', async () => {
  await hostile([{ name: 'h', type: 'link', linkname: '../outside/victim' }], 'h');
  await hostile([{ name: 'h', type: 'link', linkname: 'OUTSIDE/victim' }], 'h');
  await hostile(
    [
      { name: 'l', type: 'symlink', linkname: 'OUTSIDE' },
      { name: 'h', type: 'link', linkname: 'l/victim' },
    ],
    'h',
  );
});

test('whiteouts become overlay char devices and opaque xattrs; diff converts them back', async () => {
  const t = tempDir();
  try {
    const dest = join(t.path, 'layer');
    mkdirSync(dest);
    const tar = await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.gone', body: '' },
      { name: 'opq/', type: 'directory' },
      { name: 'opq/.wh..wh..opq', body: '' },
      { name: 'opq/kept', body: 'k' },
      { name: 'etc/hosts', body: 'h' },
      { name: 'etc/hl', type: 'link', linkname: 'etc/hosts' },
    ]);
    const res = await applyLayer(Readable.from([gzipSync(tar)]), dest);
    assert.equal(res.compression, 'gzip');
    assert.equal(res.diffId, sha256(tar));
    const wh = lstatSync(join(dest, 'etc/gone'));
    assert.ok(wh.isCharacterDevice());
    assert.equal(wh.rdev, 0);
    assert.equal(
      execFileSync('getfattr', [
        '--only-values',
        '-n',
        'trusted.overlay.opaque',
        join(dest, 'opq'),
      ]).toString(),
      'y',
    );
    assert.equal(lstatSync(join(dest, 'etc/hl')).ino, lstatSync(join(dest, 'etc/hosts')).ino);

    const { stream, done } = tarDirectory(dest, { overlay: true, gzipLevel: 0, mtime: new Date(0) });
    const names: string[] = [];
    const { extract } = await import('tar-stream');
    const ex = extract();
    stream.pipe(ex as unknown as NodeJS.WritableStream);
    for await (const e of ex) {
      names.push(`${e.header.type}:${e.header.name}`);
      e.resume();
    }
    const r = await done;
    assert.equal(r.digest, r.diffId);
    assert.deepEqual(names, [
      'directory:etc/',
      'file:etc/.wh.gone',
      'file:etc/hl',
      'link:etc/hosts',
      'directory:opq/',
      'file:opq/.wh..wh..opq',
      'file:opq/kept',
    ]);
  } finally {
    t.cleanup();
  }
});

test('diff of a tree round-trips through apply with the same diffID, reproducibly', async () => {
  const t = tempDir();
  try {
    const src = join(t.path, 'src');
    mkdirSync(join(src, 'a/b'), { recursive: true });
    writeFileSync(join(src, 'a/b/file'), 'data'.repeat(1000));
    execFileSync('ln', ['-s', '../x', join(src, 'a/sym')]);
    execFileSync('mkfifo', [join(src, 'fifo')]);
    execFileSync('chown', ['1234:5678', join(src, 'a/b/file')]);
    execFileSync('chmod', ['4755', join(src, 'a/b/file')]);
    const run = async () => {
      const { stream, done } = tarDirectory(src, { mtime: new Date(1000), gzipLevel: 6 });
      const out: Buffer[] = [];
      for await (const c of stream) out.push(c as Buffer);
      return { bytes: Buffer.concat(out), res: await done };
    };
    const first = await run();
    const second = await run();
    assert.equal(first.res.digest, second.res.digest);
    assert.equal(first.res.digest, sha256(first.bytes));
    assert.notEqual(first.res.digest, first.res.diffId);
    const dest = join(t.path, 'dest');
    mkdirSync(dest);
    const applied = await applyLayer(Readable.from([first.bytes]), dest);
    assert.equal(applied.diffId, first.res.diffId);
    const st = lstatSync(join(dest, 'a/b/file'));
    assert.equal(st.uid, 1234);
    assert.equal(st.gid, 5678);
    assert.equal(st.mode & 0o7777, 0o4755);
    assert.equal(st.mtimeMs, 1000);
    assert.equal(readlinkSync(join(dest, 'a/sym')), '../x');
    assert.ok(lstatSync(join(dest, 'fifo')).isFIFO());
  } finally {
    t.cleanup();
  }
});

test('zstd layers are decompressed through the zstd binary', async () => {
  const t = tempDir();
  try {
    const tar = await makeTar([{ name: 'z', body: 'zzz' }]);
    const zst = execFileSync('zstd', ['-c', '-q'], { input: tar });
    const dest = join(t.path, 'd');
    mkdirSync(dest);
    const res = await applyLayer(Readable.from([zst]), dest);
    assert.equal(res.compression, 'zstd');
    assert.equal(res.diffId, sha256(tar));
    assert.equal(readFileSync(join(dest, 'z'), 'utf8'), 'zzz');
  } finally {
    t.cleanup();
  }
});

test('garbage and truncated input are rejected with 400', async () => {
  const t = tempDir();
  try {
    const tar = await makeTar([{ name: 'big', body: 'x'.repeat(10000) }]);
    for (const [i, bad] of [
      Buffer.from('this is not a tar at all, just text. '.repeat(20)),
      tar.subarray(0, 1024),
      gzipSync(tar).subarray(0, 100),
    ].entries()) {
      const dest = join(t.path, `d${i}`);
      mkdirSync(dest);
      await assert.rejects(applyLayer(Readable.from([bad]), dest), { status: 400 }, `case ${i}`);
    }
  } finally {
    t.cleanup();
  }
});

test('chain IDs follow the OCI spec', () => {
  const a = sha256('a');
  const b = sha256('b');
  assert.equal(chainId(null, a), a);
  assert.equal(chainId(a, b), sha256(`${a} ${b}`));
  assert.deepEqual(chainIds([a, b]), [a, sha256(`${a} ${b}`)]);
});

test('binary xattr values survive apply and diff byte for byte', async () => {
  const t = tempDir();
  try {
    const src = join(t.path, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'bin'), 'x');
    // security.capability-like bytes, including ones above 0x7f that UTF-8 decoding would corrupt.
    const value = '0x01000002c0200080ff000000000000000000000000';
    execFileSync('setfattr', ['-n', 'user.binary', '-v', value, join(src, 'bin')]);
    execFileSync('setfattr', ['-n', 'user.text', '-v', 'héllo', join(src, 'bin')]);
    const tarred = join(t.path, 'gnu.tar');
    execFileSync('tar', ['--xattrs', '--xattrs-include=user.*', '-cf', tarred, '-C', src, '.']);
    const read = (dir: string) =>
      execFileSync('getfattr', ['-d', '-e', 'hex', '-m', 'user\\.', join(dir, 'bin')])
        .toString()
        .split('\n')
        .slice(1)
        .join('\n');
    // GNU tar → berth apply.
    const a = join(t.path, 'a');
    mkdirSync(a);
    await applyLayer(Readable.from([readFileSync(tarred)]), a);
    assert.equal(read(a), read(src));
    assert.match(read(a), new RegExp(`user.binary=${value}`));
    // berth diff → berth apply, and → GNU tar.
    const { stream } = tarDirectory(a, { gzipLevel: 0 });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const b = join(t.path, 'b');
    mkdirSync(b);
    await applyLayer(Readable.from([Buffer.concat(chunks)]), b);
    assert.equal(read(b), read(src));
    const c = join(t.path, 'c');
    mkdirSync(c);
    writeFileSync(join(t.path, 'berth.tar'), Buffer.concat(chunks));
    execFileSync('tar', ['--xattrs', '--xattrs-include=user.*', '-xf', join(t.path, 'berth.tar'), '-C', c]);
    assert.equal(read(c), read(src));
  } finally {
    t.cleanup();
  }
});

test('safe extraction: deferred nodes, xattrs and times never follow a directory later replaced by a symlink', async () => {
  const t = tempDir();
  try {
    const dest = join(t.path, 'layer');
    const outside = join(t.path, 'outside');
    mkdirSync(dest);
    mkdirSync(outside);
    writeFileSync(join(outside, 'victim'), 'original');
    const before = lstatSync(outside);
    const tar = await makeTar([
      { name: 'a/', type: 'directory', mtime: new Date(0) },
      { name: 'a/fifo', type: 'fifo' },
      { name: 'a/dev', type: 'character-device' },
      { name: 'a/.wh..wh..opq' },
      { name: 'a', type: 'symlink', linkname: outside },
    ]);
    await applyLayer(Readable.from([tar]), dest);
    assert.ok(lstatSync(join(dest, 'a')).isSymbolicLink());
    assert.deepEqual(execFileSync('ls', ['-A', outside]).toString().trim().split('\n'), ['victim']);
    const after = lstatSync(outside);
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(execFileSync('getfattr', ['-d', '-m', '-', outside]).toString(), '');
  } finally {
    t.cleanup();
  }
});
