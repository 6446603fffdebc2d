// The kept build-context directories: a context tar brought into a reused directory (unchanged files not
// rewritten, stale entries removed), content digests for COPY, and bad tars refused without side effects.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { ContextPool } from '../../../src/build/index.js';
import { BerthError } from '../../../src/util/index.js';
import { tempDir } from '../../helpers/index.js';

interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  body?: string;
  linkname?: string;
  mode?: number;
}

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const out = buffer(p);
  for (const e of entries) {
    const type = e.type ?? 'file';
    const mode = e.mode ?? (type === 'directory' ? 0o755 : 0o644);
    const header = { name: e.name, type, mode, mtime: new Date(1_700_000_000_000), uid: 0, gid: 0 };
    if (type === 'file') p.entry(header, e.body ?? '');
    else p.entry({ ...header, linkname: e.linkname });
  }
  p.finalize();
  return out;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

test('a context is extracted, digests are known, and a second tar updates the same directory', async () => {
  const tmp = tempDir('berth-ctx-sync-');
  try {
    const pool = new ContextPool(join(tmp.path, 'pool'));
    const first = await pool.receive(
      Readable.from(
        await tarOf([
          { name: 'Dockerfile', body: 'FROM scratch\n' },
          { name: 'src/', type: 'directory' },
          { name: 'src/a.txt', body: 'alpha' },
          { name: 'src/b.txt', body: 'beta', mode: 0o600 },
          { name: 'src/link', type: 'symlink', linkname: 'a.txt' },
          { name: 'src/hard', type: 'link', linkname: 'src/a.txt' },
          { name: 'gone/x', body: 'x' },
          { name: 'kind', body: 'a file first' },
        ]),
      ),
      'k',
    );
    const dir = first.dir;
    assert.equal(readFileSync(join(dir, 'src/a.txt'), 'utf8'), 'alpha');
    assert.equal(lstatSync(join(dir, 'src/b.txt')).mode & 0o777, 0o600);
    assert.equal(readlinkSync(join(dir, 'src/link')), 'a.txt');
    assert.equal(lstatSync(join(dir, 'src/hard')).ino, lstatSync(join(dir, 'src/a.txt')).ino);
    assert.equal(lstatSync(join(dir, 'src/a.txt')).mtimeMs, 1_700_000_000_000);
    assert.equal(first.digestOf('src/b.txt', lstatSync(join(dir, 'src/b.txt'))), sha('beta'));
    assert.equal(first.digestOf('src/a.txt', lstatSync(join(dir, 'src/a.txt'))), sha('alpha'));
    // A file changed behind the pool's back is not vouched for.
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\n');
    assert.equal(first.digestOf('Dockerfile', lstatSync(join(dir, 'Dockerfile'))), undefined);
    const inoB = lstatSync(join(dir, 'src/b.txt')).ino;
    await first.release();

    const second = await pool.receive(
      Readable.from(
        gzipSync(
          await tarOf([
            { name: 'Dockerfile', body: 'FROM scratch\n' },
            { name: 'src/', type: 'directory' },
            { name: 'src/a.txt', body: 'ALPHA!' },
            { name: 'src/b.txt', body: 'beta', mode: 0o640 },
            { name: 'src/new.txt', body: 'new' },
            { name: 'kind/', type: 'directory' },
            { name: 'kind/inner', body: 'now a directory' },
          ]),
        ),
      ),
      'k',
    );
    assert.equal(second.dir, dir, 'the same key reuses the directory');
    assert.equal(
      readFileSync(join(dir, 'Dockerfile'), 'utf8'),
      'FROM scratch\n',
      'a tampered file is rewritten',
    );
    assert.equal(readFileSync(join(dir, 'src/a.txt'), 'utf8'), 'ALPHA!');
    assert.equal(lstatSync(join(dir, 'src/b.txt')).ino, inoB, 'an unchanged file is not rewritten');
    assert.equal(lstatSync(join(dir, 'src/b.txt')).mode & 0o777, 0o640, 'but its mode follows the tar');
    assert.equal(readFileSync(join(dir, 'src/new.txt'), 'utf8'), 'new');
    assert.equal(readFileSync(join(dir, 'kind/inner'), 'utf8'), 'now a directory');
    for (const stale of ['src/link', 'src/hard', 'gone'])
      assert.equal(existsSync(join(dir, stale)), false, `${stale} is removed`);
    assert.equal(second.digestOf('src/a.txt', lstatSync(join(dir, 'src/a.txt'))), sha('ALPHA!'));
    assert.equal(second.digestOf('src/b.txt', lstatSync(join(dir, 'src/b.txt'))), sha('beta'));
    assert.equal(second.digestOf('src', lstatSync(join(dir, 'src'))), undefined, 'directories have none');
    await second.release();
  } finally {
    tmp.cleanup();
  }
});

test('concurrent builds get their own directories; a tainted one is not reused', async () => {
  const tmp = tempDir('berth-ctx-sync-');
  try {
    const pool = new ContextPool(join(tmp.path, 'pool'), 1);
    const tar = await tarOf([{ name: 'f', body: '1' }]);
    const a = await pool.receive(Readable.from(tar), 'k');
    const b = await pool.receive(Readable.from(tar), 'k');
    assert.notEqual(a.dir, b.dir);
    a.taint();
    await a.release();
    assert.equal(existsSync(a.dir), false, 'a tainted directory is removed');
    await b.release();
    const c = await pool.receive(Readable.from(tar), 'other key');
    assert.equal(c.dir, b.dir, 'a full pool reuses its least recently used directory');
    await c.release();
    // A context bigger than the pool keeps is removed after its build.
    const small = new ContextPool(join(tmp.path, 'pool2'), 4, 4);
    const big = await small.receive(Readable.from(await tarOf([{ name: 'big', body: '12345' }])), 'k');
    await big.release();
    assert.equal(existsSync(big.dir), false);
  } finally {
    tmp.cleanup();
  }
});

test('bad context tars are refused with 400 and write nothing outside', async () => {
  const tmp = tempDir('berth-ctx-sync-');
  try {
    const pool = new ContextPool(join(tmp.path, 'pool'));
    const outside = join(tmp.path, 'outside');
    mkdirSync(outside);
    const cases: [string, Entry[]][] = [
      ['escaping name', [{ name: '../escape', body: 'x' }]],
      ['absolute name', [{ name: '/etc/escape', body: 'x' }]],
      [
        'write through a symlink of the tar',
        [
          { name: 'l', type: 'symlink', linkname: outside },
          { name: 'l/planted', body: 'x' },
        ],
      ],
      ['hard link to a missing file', [{ name: 'h', type: 'link', linkname: 'nope' }]],
      ['hard link outside', [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]],
    ];
    for (const [what, entries] of cases) {
      await assert.rejects(
        pool.receive(Readable.from(await tarOf(entries)), 'k'),
        (err: unknown) =>
          err instanceof BerthError && err.status === 400 && /invalid build context/.test(err.message),
        what,
      );
    }
    await assert.rejects(pool.receive(Readable.from(Buffer.from('not a tar at all, just text')), 'k'), {
      status: 400,
    });
    assert.equal(existsSync(join(outside, 'planted')), false);
    assert.equal(existsSync(join(tmp.path, 'escape')), false);
  } finally {
    tmp.cleanup();
  }
});
