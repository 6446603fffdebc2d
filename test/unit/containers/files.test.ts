// Pure parts of the container file operations: Go path and mode helpers, tar entry renaming, the
// container path view, and extraction of hostile tars on the host side (no root needed).
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { pack as tarPack } from 'tar-stream';
import { splitCpArg } from '../../../src/cli/commands/container-files.js';
import { goFileMode } from '../../../src/containers/files.js';
import {
  ContainerFs,
  extractTar,
  goBase,
  packPath,
  preserveTrailing,
  rebaseName,
  splitPathDirEntry,
} from '../../../src/containers/index.js';
import { tempDir } from '../../helpers/index.js';

type Entry = {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  body?: string;
  linkname?: string;
};

async function tarOf(entries: Entry[]): Promise<Readable> {
  const p = tarPack();
  for (const { body, ...h } of entries)
    p.entry({ mode: 0o644, ...h, size: body ? body.length : 0 }, body ?? '');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Readable.from([Buffer.concat(chunks)]);
}

async function namesOf(stream: Readable): Promise<string[]> {
  const { extract } = await import('tar-stream');
  const ex = extract();
  stream.pipe(ex);
  const names: string[] = [];
  for await (const e of ex) {
    names.push(e.header.name);
    e.resume();
  }
  return names;
}

test('Go path helpers follow filepath semantics', () => {
  assert.equal(goBase('/'), '/');
  assert.equal(goBase('/a/b/'), 'b');
  assert.equal(goBase('/a/.'), '.');
  assert.equal(goBase(''), '.');
  assert.equal(preserveTrailing('/a', 'a/'), '/a/');
  assert.equal(preserveTrailing('/a', 'a/.'), '/a/.');
  assert.equal(preserveTrailing('/a', 'a/./'), '/a/./');
  assert.deepEqual(splitPathDirEntry('/x/dir/.'), { dir: '/x/dir', base: '.' });
  assert.deepEqual(splitPathDirEntry('/x/dir/'), { dir: '/x', base: 'dir' });
});

test('Go FileMode bits for a directory, a file and a symlink', () => {
  const t = tempDir();
  try {
    mkdirSync(join(t.path, 'd'), { mode: 0o750 });
    writeFileSync(join(t.path, 'f'), '', { mode: 0o640 });
    symlinkSync('f', join(t.path, 'l'));
    assert.equal(goFileMode(lstatSync(join(t.path, 'd'))), 2 ** 31 + 0o750);
    assert.equal(goFileMode(lstatSync(join(t.path, 'f'))), 0o640);
    assert.equal(goFileMode(lstatSync(join(t.path, 'l'))), 2 ** 27 + 0o777);
  } finally {
    t.cleanup();
  }
});

test('rebaseName renames the top entry only', () => {
  assert.equal(rebaseName('data/a', 'data', 'copy'), 'copy/a');
  assert.equal(rebaseName('data', 'data', 'copy'), 'copy');
  assert.equal(rebaseName('database/a', 'data', 'copy'), 'database/a');
  assert.equal(rebaseName('./a', '.', 'copy'), 'copy/a');
  assert.equal(rebaseName('/bin', '/', 'root'), 'root/bin');
});

test('splitCpArg: container:path unless absolute or starting with .', () => {
  assert.deepEqual(splitCpArg('c1:/etc'), { container: 'c1', path: '/etc' });
  assert.deepEqual(splitCpArg('/abs:x'), { container: '', path: '/abs:x' });
  assert.deepEqual(splitCpArg('./a:b'), { container: '', path: './a:b' });
  assert.deepEqual(splitCpArg('file'), { container: '', path: 'file' });
});

test('packPath names the top entry as asked, "." giving ./children', async () => {
  const t = tempDir();
  try {
    mkdirSync(join(t.path, 'dir/sub'), { recursive: true });
    writeFileSync(join(t.path, 'dir/sub/f'), 'x');
    assert.deepEqual(await namesOf(packPath(join(t.path, 'dir'), 'renamed')), [
      'renamed/',
      'renamed/sub/',
      'renamed/sub/f',
    ]);
    assert.deepEqual(await namesOf(packPath(join(t.path, 'dir'), '.')), ['./', './sub/', './sub/f']);
  } finally {
    t.cleanup();
  }
});

test('ContainerFs resolves symlinks inside the rootfs and through mounts', () => {
  const t = tempDir();
  try {
    const root = join(t.path, 'root');
    const vol = join(t.path, 'vol');
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(vol);
    symlinkSync('/', join(root, 'up'));
    symlinkSync('../../../../..', join(root, 'etc/dots'));
    symlinkSync('/etc', join(vol, 'back'));
    const fs = new ContainerFs(root, [{ dest: '/data', source: vol, rw: true }]);
    assert.equal(fs.resolve('/up/up/etc'), '/etc');
    assert.equal(fs.resolve('/etc/dots/tmp'), '/tmp');
    assert.equal(fs.host(fs.resolve('/etc/dots/tmp')), join(root, 'tmp'));
    assert.equal(fs.host('/data/x'), join(vol, 'x'));
    assert.equal(fs.resolve('/data/back/passwd'), '/etc/passwd');
    assert.equal(fs.host(fs.resolve('/data/back/passwd')), join(root, 'etc/passwd'));
  } finally {
    t.cleanup();
  }
});

test('host extraction refuses escapes and never writes through symlinks', async () => {
  const t = tempDir();
  try {
    const dest = join(t.path, 'dest');
    mkdirSync(dest);
    const outside = join(t.path, 'outside');
    mkdirSync(outside);
    const run = async (entries: Entry[]) =>
      extractTar(await tarOf(entries), '/', dest, { mode: 'host', noChown: true });
    await assert.rejects(run([{ name: '../outside/x', body: 'x' }]), /outside of/);
    await assert.rejects(run([{ name: 'l', type: 'symlink', linkname: '../outside' }]), /invalid symlink/);
    await assert.rejects(run([{ name: 'h', type: 'link', linkname: '../outside/x' }]), /invalid hardlink/);
    // An absolute symlink may be created, but nothing is written through it.
    await assert.rejects(
      run([
        { name: 'abs', type: 'symlink', linkname: outside },
        { name: 'abs/x', body: 'x' },
      ]),
      /passes through the symlink/,
    );
    assert.equal(readlinkSync(join(dest, 'abs')), outside);
    await run([{ name: '/a/b.txt', body: 'ok' }]);
    assert.equal(readFileSync(join(dest, 'a/b.txt'), 'utf8'), 'ok');
    await assert.rejects(
      extractTar(Readable.from([Buffer.from('not a tar at all, just some text bytes')]), '/', dest, {
        mode: 'host',
      }),
      /tar/,
    );
  } finally {
    t.cleanup();
  }
});

test('container extraction follows symlinks inside the rootfs only', async () => {
  const t = tempDir();
  try {
    const root = join(t.path, 'root');
    mkdirSync(join(root, 'tmp'), { recursive: true });
    symlinkSync('/', join(root, 'rootlink'));
    await extractTar(
      await tarOf([
        { name: 'abs', type: 'symlink', linkname: '/tmp' },
        { name: 'abs/inside', body: 'in' },
      ]),
      root,
      '/rootlink',
      { mode: 'container', noChown: true },
    );
    assert.equal(readFileSync(join(root, 'tmp/inside'), 'utf8'), 'in');
  } finally {
    t.cleanup();
  }
});
