// Regular files are written on the thread pool while the tar is parsed on: later entries that touch a
// path still being written (same name again, a hardlink to it, a removal above it, a child of it) must
// see the earlier write done, never race it, and a setgid directory must not change a file's group.
// Each case runs twice: as on the main thread (writes on the pool), and `blocking` as on a layer worker
// (every file written at once on the calling thread).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { pack as tarPack } from 'tar-stream';
import { applyLayer } from '../../../src/layers/index.js';
import { tempDir } from '../../helpers/index.js';

type Entry = {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  body?: Buffer | string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
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
          mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644),
          uid: e.uid ?? 0,
          gid: e.gid ?? 0,
          mtime: new Date(1_000_000_000_000),
        },
        e.type === 'directory' || e.type === 'symlink' || e.type === 'link' ? '' : (e.body ?? ''),
        (err) => (err ? rej(err) : res()),
      ),
    );
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

async function apply(
  entries: Entry[],
  blocking: boolean,
): Promise<{ dest: string; root: string; cleanup(): void }> {
  const t = tempDir();
  const dest = join(t.path, 'layer');
  mkdirSync(dest);
  await applyLayer(Readable.from([await makeTar(entries)]), dest, { blocking });
  return { dest, root: t.path, cleanup: t.cleanup };
}

for (const blocking of [false, true]) {
  const mode = blocking ? ' (blocking writes)' : '';

  test(`many files of assorted sizes (some past the thread-pool limit) land with content, mode and time${mode}`, async () => {
    const files = Array.from({ length: 120 }, (_, i) => ({
      name: `d${i % 7}/f${i}`,
      body: randomBytes(i === 5 ? (5 << 20) + 3 : (i * 997) % 70_000),
      mode: i % 2 ? 0o755 : 0o640,
    }));
    const r = await apply(files, blocking);
    try {
      for (const f of files) {
        const p = join(r.dest, f.name);
        assert.ok(readFileSync(p).equals(f.body), f.name);
        const st = statSync(p);
        assert.equal(st.mode & 0o7777, f.mode, f.name);
        assert.equal(st.mtimeMs, 1_000_000_000_000, f.name);
      }
    } finally {
      r.cleanup();
    }
  });

  test(`the same name twice: the later entry wins, whatever its type${mode}`, async () => {
    const r = await apply(
      [
        { name: 'a', body: 'first' },
        { name: 'a', body: 'second' },
        { name: 'b', body: 'file' },
        { name: 'b', type: 'directory' },
        { name: 'b/inside', body: 'x' },
        { name: 'c', body: 'file' },
        { name: 'c', type: 'symlink', linkname: 'a' },
      ],
      blocking,
    );
    try {
      assert.equal(readFileSync(join(r.dest, 'a'), 'utf8'), 'second');
      assert.ok(lstatSync(join(r.dest, 'b')).isDirectory());
      assert.equal(readFileSync(join(r.dest, 'b/inside'), 'utf8'), 'x');
      assert.equal(readlinkSync(join(r.dest, 'c')), 'a');
    } finally {
      r.cleanup();
    }
  });

  test(`a hardlink to a file just written links the written file${mode}`, async () => {
    const r = await apply(
      [
        { name: 'big', body: randomBytes(300_000) },
        { name: 'hl', type: 'link', linkname: 'big' },
      ],
      blocking,
    );
    try {
      assert.equal(statSync(join(r.dest, 'hl')).ino, statSync(join(r.dest, 'big')).ino);
      assert.equal(statSync(join(r.dest, 'hl')).nlink, 2);
      assert.equal(statSync(join(r.dest, 'hl')).size, 300_000);
    } finally {
      r.cleanup();
    }
  });

  test(`a directory replaced by a symlink: pending writes below it never go through the symlink${mode}`, async () => {
    const t = tempDir();
    try {
      const outside = join(t.path, 'outside');
      mkdirSync(outside);
      const entries: Entry[] = [{ name: 'd', type: 'directory' }];
      for (let i = 0; i < 40; i++) entries.push({ name: `d/f${i}`, body: randomBytes(50_000) });
      entries.push({ name: 'd', type: 'symlink', linkname: outside });
      const dest = join(t.path, 'layer');
      mkdirSync(dest);
      await applyLayer(Readable.from([await makeTar(entries)]), dest, { blocking });
      assert.equal(readlinkSync(join(dest, 'd')), outside);
      assert.deepEqual(readdirSync(outside), []);
    } finally {
      t.cleanup();
    }
  });

  test(`a child of a file still being written is refused, naming the entry${mode}`, async () => {
    const t = tempDir();
    try {
      const dest = join(t.path, 'layer');
      mkdirSync(dest);
      const tar = await makeTar([
        { name: 'a', body: randomBytes(100_000) },
        { name: 'a/b', body: 'x' },
      ]);
      await assert.rejects(
        applyLayer(Readable.from([tar]), dest, { blocking }),
        (err: Error & { status?: number }) => {
          assert.equal(err.status, 400);
          assert.match(err.message, /"a\/b".*parent "a" is not a directory/);
          return true;
        },
      );
    } finally {
      t.cleanup();
    }
  });

  test(`a file in a setgid directory keeps the group its entry names${mode}`, async () => {
    const r = await apply(
      [
        { name: 'sg', type: 'directory', mode: 0o2775, gid: 4321 },
        { name: 'sg/root-file', body: 'x', uid: 0, gid: 0 },
        { name: 'sg/other', body: 'y', uid: 1000, gid: 1001 },
        { name: 'plain', body: 'z', uid: 0, gid: 0 },
      ],
      blocking,
    );
    try {
      assert.equal(statSync(join(r.dest, 'sg')).gid, 4321);
      assert.equal(statSync(join(r.dest, 'sg/root-file')).gid, 0);
      assert.deepEqual(
        [statSync(join(r.dest, 'sg/other')).uid, statSync(join(r.dest, 'sg/other')).gid],
        [1000, 1001],
      );
      assert.equal(statSync(join(r.dest, 'plain')).gid, 0);
    } finally {
      r.cleanup();
    }
  });

  test(`a file that cannot be written fails the apply with the entry named${mode}`, async () => {
    const t = tempDir();
    try {
      const dest = join(t.path, 'layer');
      mkdirSync(dest);
      // A name longer than NAME_MAX fails open() (on the pool, or at once when blocking), not the parser.
      const long = 'n'.repeat(300);
      const tar = await makeTar([
        { name: long, body: 'x' },
        ...Array.from({ length: 50 }, (_, i) => ({ name: `after${i}`, body: 'y' })),
      ]);
      await assert.rejects(
        applyLayer(Readable.from([tar]), dest, { blocking }),
        (err: Error & { status?: number }) => {
          assert.equal(err.status, 400);
          assert.ok(err.message.includes(`"${long}"`), err.message);
          assert.match(err.message, /ENAMETOOLONG/);
          return true;
        },
      );
    } finally {
      t.cleanup();
    }
  });
}
