// COPY --parents, symbolic --chmod, ADD --checksum (local files and URLs) and ssh-agent mounts on real
// files, sockets and a local HTTP server.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { planCopy, writeCopy } from '../../../src/build/executor/copy.js';
import { bindMountSource } from '../../../src/build/executor/mounts.js';
import { downloadSource, verifyFileChecksum } from '../../../src/build/executor/remote.js';
import { parseSshSpecs, sshMountBind } from '../../../src/build/executor/ssh.js';
import { isRoot, tempDir } from '../../helpers/index.js';
import { writeContext } from './helpers.js';

const base = { excludes: [], unpack: false, keepOwner: false, rootName: 'build context', destIsDir: false };
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const mode = (p: string) => (lstatSync(p).mode & 0o7777).toString(8);
const where = { file: 'Dockerfile', line: 4 };

describe('COPY --parents', () => {
  test('keeps parent directories, honours the /./ pivot and **', async () => {
    const t = tempDir();
    try {
      writeContext(t.path, {
        'x/a.txt': 'xa',
        'y/a.txt': 'ya',
        'x/y/b.txt': 'b',
        'x/y/c.txt': 'c',
        'x/y/skip.md': 'm',
        'src/a.txt': '1',
        'src/x/b.txt': '2',
        'src/x/y/c.txt': '3',
        'src/x/y/d.go': '4',
        'conf/nginx/site/default.conf': 'd',
      });
      const dests = async (sources: string[], dest: string) =>
        (await planCopy({ ...base, root: t.path, sources, dest, parents: true })).ops.map((o) => o.dest);
      assert.deepEqual(await dests(['./x/a.txt', './y/a.txt'], '/parents/'), [
        '/parents/x',
        '/parents/x/a.txt',
        '/parents/y',
        '/parents/y/a.txt',
      ]);
      // Without --parents both land on the same name.
      const flat = await planCopy({ ...base, root: t.path, sources: ['x/a.txt', 'y/a.txt'], dest: '/flat/' });
      assert.deepEqual(
        flat.ops.map((o) => o.dest),
        ['/flat/a.txt', '/flat/a.txt'],
      );
      assert.deepEqual(await dests(['./x/./y/*.txt'], '/pivot/'), [
        '/pivot/y',
        '/pivot/y/b.txt',
        '/pivot/y/c.txt',
      ]);
      assert.deepEqual(await dests(['./src/**/*.txt'], '/p'), [
        '/p/src',
        '/p/src/a.txt',
        '/p/src/x',
        '/p/src/x/b.txt',
        '/p/src/x/y',
        '/p/src/x/y/c.txt',
      ]);
      // A directory source keeps its own path too; the pivot can sit deeper.
      assert.deepEqual(await dests(['conf/./nginx'], '/etc/'), [
        '/etc/nginx',
        '/etc/nginx/site',
        '/etc/nginx/site/default.conf',
      ]);
      // The cache checksum tells the layouts apart.
      const a = await planCopy({ ...base, root: t.path, sources: ['x/a.txt'], dest: '/d/', parents: true });
      const b = await planCopy({ ...base, root: t.path, sources: ['x/a.txt'], dest: '/d/' });
      assert.notEqual(a.checksum, b.checksum);
      // No match is the usual error.
      await assert.rejects(
        planCopy({ ...base, root: t.path, sources: ['./nope/./*.txt'], dest: '/d/', parents: true }),
        /COPY failed: file not found in build context: stat \.\/nope\/\.\/\*\.txt/,
      );
    } finally {
      t.cleanup();
    }
  });

  test('written layer: parents carry their source modes', { skip: !isRoot() && 'needs root' }, async () => {
    const t = tempDir();
    try {
      writeContext(t.path, { 'ctx/x/y/a.txt': 'a' });
      chmodSync(join(t.path, 'ctx/x'), 0o750);
      chmodSync(join(t.path, 'ctx/x/y'), 0o711);
      const plan = await planCopy({
        ...base,
        root: join(t.path, 'ctx'),
        sources: ['x/y/a.txt'],
        dest: '/out',
        parents: true,
      });
      const layer = join(t.path, 'layer');
      mkdirSync(layer);
      await writeCopy(plan, { layerDir: layer, parentRoot: undefined, keepOwner: false });
      assert.equal(readFileSync(join(layer, 'out/x/y/a.txt'), 'utf8'), 'a');
      assert.equal(mode(join(layer, 'out/x')), '750');
      assert.equal(mode(join(layer, 'out/x/y')), '711');
    } finally {
      t.cleanup();
    }
  });
});

describe('symbolic --chmod', { skip: !isRoot() && 'needs root (chown)' }, () => {
  test('applies to each file and directory from its own mode', async () => {
    const t = tempDir();
    try {
      writeContext(t.path, { 'ctx/run.sh': '#!/bin/sh\n', 'ctx/tree/a.txt': 'a', 'ctx/tree/bin/tool': 't' });
      chmodSync(join(t.path, 'ctx/run.sh'), 0o644);
      chmodSync(join(t.path, 'ctx/tree/a.txt'), 0o600);
      chmodSync(join(t.path, 'ctx/tree/bin/tool'), 0o700);
      chmodSync(join(t.path, 'ctx/tree/bin'), 0o700);
      const root = join(t.path, 'ctx');
      const layer = join(t.path, 'layer');
      mkdirSync(layer);
      let plan = await planCopy({ ...base, root, sources: ['run.sh'], dest: '/usr/local/bin/run.sh' });
      await writeCopy(plan, {
        layerDir: layer,
        parentRoot: undefined,
        keepOwner: false,
        chmod: { symbolic: 'u=rwx,g=rx,o=' },
      });
      assert.equal(mode(join(layer, 'usr/local/bin/run.sh')), '750');
      plan = await planCopy({ ...base, root, sources: ['tree'], dest: '/tree/' });
      await writeCopy(plan, {
        layerDir: layer,
        parentRoot: undefined,
        keepOwner: false,
        chmod: { symbolic: 'a=rX,u+w' },
      });
      assert.equal(mode(join(layer, 'tree/a.txt')), '644', 'no x before: no X');
      assert.equal(mode(join(layer, 'tree/bin/tool')), '755', 'x before: X');
      assert.equal(mode(join(layer, 'tree/bin')), '755', 'directories get X');
      plan = await planCopy({ ...base, root, sources: ['run.sh'], dest: '/x' });
      await assert.rejects(
        writeCopy(plan, {
          layerDir: layer,
          parentRoot: undefined,
          keepOwner: false,
          chmod: { symbolic: 'u+q' },
        }),
        (e: Error & { status?: number }) =>
          e.status === 400 && /invalid chmod parameter: u\+q/.test(e.message),
      );
    } finally {
      t.cleanup();
    }
  });
});

describe('ADD --checksum on local files', () => {
  test('a matching file passes; a mismatch names the line and both digests; dirs are refused', async () => {
    const t = tempDir();
    try {
      writeContext(t.path, { 'hello.txt': 'hello', 'dir/a': 'a', 'b.txt': 'b' });
      const ok = `sha256:${sha('hello')}`;
      const plan = await planCopy({
        ...base,
        root: t.path,
        sources: ['hello.txt'],
        dest: '/h',
        checksum: ok,
      });
      assert.equal(plan.ops.length, 1);
      const wrong = `sha256:${sha('other')}`;
      await assert.rejects(
        planCopy({
          ...base,
          root: t.path,
          sources: ['hello.txt'],
          dest: '/h',
          checksum: wrong,
          location: where,
        }),
        (e: Error & { status?: number }) => {
          assert.equal(e.status, 400);
          assert.equal(
            e.message,
            `Dockerfile:4: ADD --checksum: digest mismatch for hello.txt: expected ${wrong}, got sha256:${sha('hello')}`,
          );
          return true;
        },
      );
      await assert.rejects(
        planCopy({ ...base, root: t.path, sources: ['dir'], dest: '/d', checksum: ok, location: where }),
        /Dockerfile:4: ADD --checksum needs a single file source, but dir in build context is a directory/,
      );
      await assert.rejects(
        planCopy({ ...base, root: t.path, sources: ['*.txt'], dest: '/d/', checksum: ok }),
        /needs a single file source, but \*\.txt in build context is 2 entries/,
      );
      await verifyFileChecksum(join(t.path, 'hello.txt'), ok, 'hello.txt');
    } finally {
      t.cleanup();
    }
  });
});

describe('ADD of a URL with --checksum', () => {
  let server: Server;
  let url: string;
  const t = tempDir();
  before(async () => {
    server = createHttpServer((req, res) => {
      if (req.url === '/files/app.tar.gz') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        // Several chunks: the digest is computed over the stream.
        res.write('part one;');
        setImmediate(() => res.end('part two'));
      } else {
        res.writeHead(404);
        res.end('no');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    t.cleanup();
  });

  test('streams to a 0600 file and verifies the digest', async () => {
    const name = await downloadSource(`${url}/files/app.tar.gz`, t.path, {
      checksum: `sha256:${sha('part one;part two')}`,
      where,
    });
    assert.equal(name, 'app.tar.gz');
    assert.equal(readFileSync(join(t.path, name), 'utf8'), 'part one;part two');
    assert.equal(mode(join(t.path, name)), '600');
  });

  test('bad input: a mismatch leaves no file; HTTP errors and bad URLs are 400s naming the line', async () => {
    const dir = join(t.path, 'bad');
    mkdirSync(dir);
    const wrong = `sha256:${sha('something else')}`;
    await assert.rejects(
      downloadSource(`${url}/files/app.tar.gz`, dir, { checksum: wrong, where }),
      (e: Error & { status?: number }) => {
        assert.equal(e.status, 400);
        assert.equal(
          e.message,
          `Dockerfile:4: ADD --checksum: digest mismatch for ${url}/files/app.tar.gz: expected ${wrong}, got sha256:${sha('part one;part two')}`,
        );
        return true;
      },
    );
    assert.deepEqual(readdirSync(dir), []);
    await assert.rejects(
      downloadSource(`${url}/missing`, dir, { where }),
      /Dockerfile:4: ADD .*\/missing: HTTP 404/,
    );
    await assert.rejects(
      downloadSource('http://127.0.0.1:1/x', dir, { where }),
      (e: Error & { status?: number }) =>
        e.status === 400 && /Dockerfile:4: ADD http:\/\/127\.0\.0\.1:1\/x/.test(e.message),
    );
    await assert.rejects(
      downloadSource(`${url}/files/app.tar.gz`, dir, { checksum: 'sha256:abc', where }),
      /64 hex digits/,
    );
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe('RUN --mount=type=ssh', () => {
  let agent: NetServer;
  const t = tempDir();
  const sock = join(t.path, 'agent.sock');
  before(async () => {
    agent = createServer((c) => c.end());
    await new Promise<void>((r) => agent.listen(sock, r));
  });
  after(async () => {
    await new Promise((r) => agent.close(r));
    t.cleanup();
  });

  test('a forwarded agent is bound at the target; missing ones follow BuildKit', () => {
    const forwards = parseSshSpecs([`default=${sock}`, `gh=${sock}`]);
    assert.deepEqual(forwards, { default: sock, gh: sock });
    assert.deepEqual(parseSshSpecs(['default'], { SSH_AUTH_SOCK: sock }), { default: sock });
    const m = { type: 'ssh' as const, readonly: true, id: 'default', target: '/run/buildkit/ssh_agent.0' };
    assert.deepEqual(sshMountBind(m, m.target, forwards, where), {
      bind: `${sock}:/run/buildkit/ssh_agent.0`,
      target: '/run/buildkit/ssh_agent.0',
    });
    // Optional and not forwarded: left out.
    assert.deepEqual(sshMountBind({ ...m, id: 'other' }, m.target, forwards, where), { target: m.target });
    assert.deepEqual(sshMountBind(m, m.target, undefined, where), { target: m.target });
    assert.throws(
      () => sshMountBind({ ...m, required: true }, m.target, undefined, where),
      (e: Error & { status?: number }) =>
        e.status === 400 && /^Dockerfile:4: no SSH key "default" forwarded from the client/.test(e.message),
    );
    assert.throws(() => parseSshSpecs(['default=/x', `default=${sock}`]), /does not exist/);
    assert.throws(() => parseSshSpecs([`a=${sock}`, `a=${sock}`]), /given twice/);
    assert.ok(existsSync(sock));
  });

  test('a socket that went away is an error naming it', () => {
    const m = { type: 'ssh' as const, readonly: true, id: 'default', target: '/s' };
    assert.throws(
      () => sshMountBind(m, '/s', { default: join(t.path, 'gone.sock') }, where),
      /Dockerfile:4: ssh agent socket for "default" is gone/,
    );
  });
});

describe('RUN --mount=type=bind sources', () => {
  test('resolve inside their root and must exist', () => {
    const t = tempDir();
    try {
      writeContext(t.path, { 'ctx/dir/f': 'f' });
      symlinkSync('/etc', join(t.path, 'ctx/escape'));
      const root = join(t.path, 'ctx');
      assert.equal(bindMountSource(root, '/dir', where, 'build context'), join(root, 'dir'));
      // A symlink out of the root stays inside it (and here points at nothing).
      assert.throws(
        () => bindMountSource(root, '/escape/hostname', where, 'build context'),
        (e: Error & { status?: number }) =>
          e.status === 400 &&
          e.message ===
            'Dockerfile:4: RUN --mount=type=bind: source "/escape/hostname" not found in build context',
      );
      assert.throws(() => bindMountSource(root, '/nope', where, 'stage s'), /not found in stage s/);
    } finally {
      t.cleanup();
    }
  });
});
