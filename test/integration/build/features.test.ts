// Whole builds through a private daemon and `berth build` for ADD --checksum (URL and local file),
// COPY --parents, symbolic --chmod, RUN --mount=type=ssh and FROM --platform, with their bad inputs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestDaemon } from '../../helpers/daemon.js';
import { berthArgv, haveCommand, isRoot, tempDir } from '../../helpers/index.js';
import { DOCKER, daemonWithBusybox, runTool, writeContext } from './helpers.js';

const skip = !isRoot()
  ? 'needs root'
  : !haveCommand('runc') || !haveCommand('conmon') || !existsSync(DOCKER) || !existsSync('/bin/busybox')
    ? 'needs runc, conmon, the docker CLI and busybox-static'
    : undefined;

function post(socketPath: string, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ socketPath, path, method: 'POST', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('build features: --checksum, --parents, symbolic --chmod, ssh mounts, --platform', { skip }, () => {
  let d: TestDaemon;
  let server: Server;
  let agent: NetServer;
  let url: string;
  const tmp = tempDir('berth-build-feat-');
  const sock = join(tmp.path, 'agent.sock');
  const berth = (args: string[]) => runTool(process.execPath, [...berthArgv(), ...args], d.env);
  const docker = (args: string[]) => runTool(DOCKER, args, d.env);
  let n = 0;
  /** Builds a context holding `files` (Dockerfile included) and returns the CLI result and the tag. */
  const build = async (files: Record<string, string>, extra: string[] = []) => {
    const dir = join(tmp.path, `ctx${++n}`);
    writeContext(dir, files);
    const tag = `bt-feat-${n}:1`;
    const r = await berth(['build', '-t', tag, ...extra, dir]);
    return { ...r, tag, dir };
  };
  const run = async (tag: string, script: string) => {
    const r = await docker(['run', '--rm', tag, 'sh', '-c', script]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };

  before(async () => {
    d = await daemonWithBusybox();
    server = createHttpServer((req, res) => {
      if (req.url === '/dl/tool.txt') res.end('downloaded tool\n');
      else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    agent = createServer((c) => c.end());
    await new Promise<void>((r) => agent.listen(sock, r));
  });
  after(async () => {
    await d?.stop();
    await new Promise((r) => server?.close(r));
    await new Promise((r) => agent?.close(r));
    tmp.cleanup();
  });

  test('ADD --checksum: a URL and a local file that match are added', async () => {
    const r = await build({
      Dockerfile: [
        'FROM busybox',
        `ADD --checksum=sha256:${sha('downloaded tool\n')} ${url}/dl/tool.txt /opt/`,
        `ADD --checksum=sha256:${sha('local\n')} local.txt /opt/local.txt`,
      ].join('\n'),
      'local.txt': 'local\n',
    });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal(
      await run(r.tag, 'cat /opt/tool.txt /opt/local.txt; stat -c %a /opt/tool.txt'),
      'downloaded tool\nlocal\n600\n',
    );
  });

  test('ADD --checksum mismatches fail naming the line and both digests; no image is tagged', async () => {
    const wrong = `sha256:${sha('not it')}`;
    let r = await build({
      Dockerfile: `FROM busybox\nRUN true\nADD --checksum=${wrong} ${url}/dl/tool.txt /t\n`,
    });
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      new RegExp(
        `Dockerfile:3: ADD --checksum: digest mismatch for ${url}/dl/tool.txt: expected ${wrong}, got sha256:${sha('downloaded tool\n')}`,
      ),
    );
    assert.notEqual((await docker(['image', 'inspect', r.tag])).status, 0);
    r = await build({ Dockerfile: `FROM busybox\nADD --checksum=${wrong} a.txt /a\n`, 'a.txt': 'a' });
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      new RegExp(
        `Dockerfile:2: ADD --checksum: digest mismatch for a.txt: expected ${wrong}, got sha256:${sha('a')}`,
      ),
    );
    r = await build({ Dockerfile: `FROM busybox\nADD --checksum=${wrong} ${url}/nothing /a\n` });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Dockerfile:2: ADD http:\/\/127\.0\.0\.1:\d+\/nothing: HTTP 404/);
    r = await build({ Dockerfile: `FROM busybox\nADD --checksum=md5:abc x /a\n`, x: 'x' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Dockerfile:2: invalid checksum digest format: md5:abc/);
  });

  test('COPY --parents keeps the parents after the /./ pivot', async () => {
    const r = await build({
      Dockerfile: [
        'FROM busybox',
        'COPY --parents ./x/a.txt ./y/a.txt /parents/',
        'COPY --parents ./x/./sub/*.txt /pivot/',
        'COPY --parents src/**/*.go /app/',
      ].join('\n'),
      'x/a.txt': 'xa',
      'y/a.txt': 'ya',
      'x/sub/b.txt': 'b',
      'x/sub/c.md': 'c',
      'src/main.go': 'm',
      'src/pkg/util/u.go': 'u',
      'src/pkg/README': 'r',
    });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const out = await run(
      r.tag,
      'cd / && find parents pivot app -type f | sort && cat parents/x/a.txt parents/y/a.txt',
    );
    assert.equal(
      out,
      'app/src/main.go\napp/src/pkg/util/u.go\nparents/x/a.txt\nparents/y/a.txt\npivot/sub/b.txt\nxaya',
    );
    // Between stages the sources are absolute: the pivot drops the leading directories.
    const staged = await build({
      Dockerfile: [
        'FROM busybox AS s',
        'RUN mkdir -p /out/a/b && echo deep > /out/a/b/c.txt && echo top > /out/t.txt',
        'FROM busybox',
        'COPY --from=s --parents /out/./a/b/c.txt /out/t.txt /dst/',
      ].join('\n'),
    });
    assert.equal(staged.status, 0, staged.stderr + staged.stdout);
    assert.equal(
      await run(staged.tag, 'cd /dst && find . -type f | sort && cat a/b/c.txt'),
      './a/b/c.txt\n./out/t.txt\ndeep\n',
    );
    const bad = await build({ Dockerfile: 'FROM busybox\nCOPY --parents ./none/./*.txt /p/\n' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /COPY failed: file not found in build context: stat \.\/none\/\.\/\*\.txt/);
  });

  test('symbolic --chmod is applied per file', async () => {
    const r = await build({
      Dockerfile: [
        'FROM busybox',
        'COPY --chmod=u=rwx,g=rx,o= run.sh /bin/run.sh',
        'COPY --chmod=+x tool /bin/tool',
        'ARG M=a=rX,u+w',
        'COPY --chmod=$M tree/ /tree/',
      ].join('\n'),
      'run.sh': '#!/bin/sh\necho ran\n',
      tool: 'x',
      'tree/f': 'f',
      'tree/d/g': 'g',
    });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal(
      await run(r.tag, 'stat -c %a /bin/run.sh /bin/tool /tree/f /tree/d /tree/d/g && /bin/run.sh'),
      '750\n755\n644\n755\n644\nran\n',
    );
    const bad = await build({
      Dockerfile: 'FROM busybox\nARG M=u+q\nCOPY --chmod=$M run.sh /r\n',
      'run.sh': '',
    });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /Dockerfile:3: invalid chmod parameter: u\+q/);
  });

  test('RUN --mount=type=ssh: the agent forwarded with --ssh; BuildKit errors without it', {}, async () => {
    const df = [
      'FROM busybox',
      'RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo "agent at $SSH_AUTH_SOCK"',
      'RUN --mount=type=ssh,id=deploy,target=/tmp/deploy.sock test -S /tmp/deploy.sock && echo deploy ok',
    ].join('\n');
    let r = await build({ Dockerfile: df }, ['--ssh', `default=${sock}`, '--ssh', `deploy=${sock}`]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /agent at \/run\/buildkit\/ssh_agent\.0\n/);
    assert.match(r.stdout, /deploy ok\n/);
    // The mount point does not stay in the image.
    assert.equal(await run(r.tag, 'ls -A /run/buildkit /tmp 2>&1 | grep -c sock || true'), '0\n');
    // Optional without an agent: no socket (as BuildKit); required: BuildKit's error.
    r = await build({
      Dockerfile: 'FROM busybox\nRUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" || echo no agent\n',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /no agent\n/);
    r = await build({ Dockerfile: 'FROM busybox\nRUN --mount=type=ssh,required=true true\n' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Dockerfile:2: no SSH key "default" forwarded from the client/);
    r = await build({ Dockerfile: 'FROM busybox\n' }, ['--ssh', 'default=/nonexistent.sock']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /invalid --ssh default=\/nonexistent\.sock: .* does not exist/);
    // Over the API: a malformed header is a 400 before anything is built.
    for (const [header, reason] of [
      ['!!', /expected a JSON object|JSON/],
      [Buffer.from('{"default":"rel.sock"}').toString('base64'), /the socket path must be absolute/],
      [Buffer.from('{"a b":"/x.sock"}').toString('base64'), /invalid ssh forward id/],
    ] as const) {
      const res = await post(d.socket, '/build', { 'X-Berth-Build-Ssh': header });
      assert.equal(res.status, 400, res.body);
      assert.match(res.body, /invalid X-Berth-Build-Ssh header/);
      assert.match(res.body, reason);
    }
  });

  test('RUN --mount=type=bind of a missing source fails naming it and leaves no mount behind', async () => {
    const r = await build({
      Dockerfile:
        'FROM busybox AS s\nRUN true\nFROM busybox\nRUN --mount=type=bind,from=s,source=/bin,target=/sb --mount=type=bind,source=nope,target=/n true\n',
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Dockerfile:4: RUN --mount=type=bind: source "\/nope" not found in build context/);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(d.root));
    assert.deepEqual(mounts, []);
  });

  test('RUN --mount=type=bind,rw: writes go to a scratch copy, never to the context or earlier layers', async () => {
    const r = await build({
      Dockerfile: [
        'FROM busybox',
        'COPY f /f',
        'RUN --mount=type=bind,target=/ctx,rw echo changed > /ctx/f && cat /ctx/f > /written',
        'RUN --mount=type=bind,target=/ctx cat /ctx/f > /seen',
      ].join('\n'),
      f: 'original\n',
    });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal(await run(r.tag, 'cat /written /seen /f'), 'changed\noriginal\noriginal\n');
    assert.equal(readFileSync(join(r.dir, 'f'), 'utf8'), 'original\n', 'the client context is untouched');
  });

  test('FROM --platform: the local platform builds, others are refused naming the line', async () => {
    let r = await build({
      Dockerfile:
        'FROM --platform=$BUILDPLATFORM busybox AS a\nRUN true\nFROM --platform=linux/amd64 busybox\nCOPY --from=a /bin/busybox /b\n',
    });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    r = await build({
      Dockerfile: 'FROM busybox AS a\nRUN true\n\nFROM --platform=linux/arm64 busybox\nRUN true\n',
    });
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /Dockerfile:4: FROM --platform=linux\/arm64: platform linux\/arm64 is not supported: this builder runs natively on linux\/amd64/,
    );
    r = await build({ Dockerfile: 'FROM busybox\n' }, ['--platform', 'linux/arm64']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /platform linux\/arm64 is not supported/);
    r = await build({ Dockerfile: 'FROM busybox\n' }, ['--platform', 'linux/amd64']);
    assert.equal(r.status, 0, r.stderr);
  });
});
