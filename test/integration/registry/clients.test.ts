// Real clients against the registry: skopeo (OCI layout → registry → OCI layout), podman push/pull and
// docker push/pull through a private dockerd, with identical digests; and the bearer token flow with
// skopeo credentials and `docker login`.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { run } from '../../../src/util/index.js';
import { haveCommand, isRoot, makeBusyboxRootfs, tempDir } from '../../helpers/index.js';
import { startTestRegistry, type TestRegistry } from './helpers.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Writes an OCI image layout with one tiny gzip layer, tagged `v1`; returns the manifest digest. */
function writeOciLayout(dir: string, work: string): string {
  const blobs = join(dir, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  mkdirSync(join(work, 'layer'), { recursive: true });
  writeFileSync(join(work, 'layer/hello.txt'), 'hello from berth\n');
  execFileSync('tar', [
    '-C',
    join(work, 'layer'),
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '-cf',
    join(work, 'l.tar'),
    'hello.txt',
  ]);
  const tar = readFileSync(join(work, 'l.tar'));
  execFileSync('gzip', ['-n', '-f', join(work, 'l.tar')]);
  const gz = readFileSync(join(work, 'l.tar.gz'));
  const put = (b: Buffer | string) => {
    const d = sha(b);
    writeFileSync(join(blobs, d), b);
    return { digest: `sha256:${d}`, size: Buffer.byteLength(b) };
  };
  const layer = put(gz);
  const config = put(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha(tar)}`] },
    }),
  );
  const manifest = put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }),
  );
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': 'v1' },
        },
      ],
    }),
  );
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return manifest.digest;
}

async function ok(cmd: string, args: string[], opts: { input?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

const host = (t: TestRegistry) => new URL(t.url).host;

describe('skopeo', { skip: !haveCommand('skopeo') && 'skopeo is not installed' }, () => {
  let t: TestRegistry;
  // Made in before(): a skipped suite creates nothing.
  let dir: { path: string; cleanup: () => void };
  before(async () => {
    dir = tempDir('berth-registry-client-');
    t = await startTestRegistry();
  });
  after(async () => {
    await t?.close();
    dir?.cleanup();
  });

  test('copies an OCI layout to the registry and back with identical digests', async () => {
    const digest = writeOciLayout(join(dir.path, 'src'), dir.path);
    const ref = `docker://${host(t)}/berth-skopeo/img:v1`;
    await ok('skopeo', [
      '--insecure-policy',
      'copy',
      '--dest-tls-verify=false',
      `oci:${join(dir.path, 'src')}:v1`,
      ref,
    ]);
    const raw = await ok('skopeo', ['inspect', '--tls-verify=false', '--raw', ref]);
    assert.equal(`sha256:${sha(raw)}`, digest);
    const info = JSON.parse(await ok('skopeo', ['inspect', '--tls-verify=false', ref])) as { Digest: string };
    assert.equal(info.Digest, digest);
    await ok('skopeo', [
      '--insecure-policy',
      'copy',
      '--src-tls-verify=false',
      ref,
      `oci:${join(dir.path, 'back')}:v1`,
    ]);
    const index = JSON.parse(readFileSync(join(dir.path, 'back/index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    assert.equal(index.manifests[0]!.digest, digest);
    const tags = JSON.parse(
      await ok('skopeo', ['list-tags', '--tls-verify=false', `docker://${host(t)}/berth-skopeo/img`]),
    );
    assert.deepEqual(tags.Tags, ['v1']);
  });

  test('bearer token flow with credentials; wrong credentials fail', async () => {
    const htpasswd = join(dir.path, 'htpasswd');
    writeFileSync(htpasswd, `carol:${bcrypt.hashSync('s3cret', 4)}\n`);
    writeFileSync(join(dir.path, 'token.key'), 'skopeo token secret');
    const ta = await startTestRegistry({ auth: { htpasswd, token: { key: join(dir.path, 'token.key') } } });
    try {
      if (!existsSync(join(dir.path, 'src'))) writeOciLayout(join(dir.path, 'src'), dir.path);
      const ref = `docker://${host(ta)}/berth-skopeo/private:v1`;
      const src = `oci:${join(dir.path, 'src')}:v1`;
      const bad = await run('skopeo', [
        '--insecure-policy',
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'carol:wrong',
        src,
        ref,
      ]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /unauthorized|authentication/i);
      await ok('skopeo', [
        '--insecure-policy',
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'carol:s3cret',
        src,
        ref,
      ]);
      const anon = await run('skopeo', ['inspect', '--tls-verify=false', ref]);
      assert.notEqual(anon.code, 0);
      await ok('skopeo', ['inspect', '--tls-verify=false', '--creds', 'carol:s3cret', ref]);
    } finally {
      await ta.close();
    }
  });
});

describe('podman', {
  skip: (!haveCommand('podman') && 'podman is not installed') || (!isRoot() && 'needs root'),
}, () => {
  let t: TestRegistry;
  // Made in before(): a skipped suite creates nothing.
  let dir: { path: string; cleanup: () => void };
  const podman = (args: string[]) =>
    ok('podman', [
      '--root',
      join(dir.path, 'root'),
      '--runroot',
      join(dir.path, 'run'),
      '--storage-driver',
      'vfs',
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'none',
      ...args,
    ]);
  before(async () => {
    dir = tempDir('berth-registry-client-');
    t = await startTestRegistry();
  });
  after(async () => {
    await t?.close();
    dir?.cleanup();
  });

  test('push and pull a busybox image with identical digests', async () => {
    makeBusyboxRootfs(join(dir.path, 'rootfs'));
    execFileSync('tar', ['-C', join(dir.path, 'rootfs'), '-cf', join(dir.path, 'rootfs.tar'), '.']);
    const ref = `${host(t)}/berth-podman/busybox:1`;
    await podman(['import', join(dir.path, 'rootfs.tar'), ref]);
    const digestFile = join(dir.path, 'digest');
    await podman(['push', '--tls-verify=false', '--digestfile', digestFile, ref]);
    const pushed = readFileSync(digestFile, 'utf8').trim();
    assert.match(pushed, /^sha256:[0-9a-f]{64}$/);
    await podman(['rmi', ref]);
    await podman(['pull', '--tls-verify=false', ref]);
    const pulled = (await podman(['image', 'inspect', '--format', '{{.Digest}}', ref])).trim();
    assert.equal(pulled, pushed);
  });
});

describe('docker', {
  skip: (!haveCommand('dockerd') && 'dockerd is not installed') || (!isRoot() && 'needs root'),
}, () => {
  let t: TestRegistry;
  let tokenReg: TestRegistry;
  // Made in before(): a skipped suite creates nothing.
  let dir: { path: string; cleanup: () => void };
  const sock = () => join(dir.path, 'd.sock');
  let daemon: ReturnType<typeof spawn> | undefined;
  const docker = (args: string[], input?: string) =>
    ok('/usr/bin/docker', ['--config', join(dir.path, 'client'), '-H', `unix://${sock()}`, ...args], {
      input,
    });

  before(async () => {
    dir = tempDir('berth-registry-docker-');
    t = await startTestRegistry();
    writeFileSync(join(dir.path, 'htpasswd'), `dave:${bcrypt.hashSync('pa55', 4)}\n`);
    writeFileSync(join(dir.path, 'token.key'), 'docker token secret');
    tokenReg = await startTestRegistry({
      auth: { htpasswd: join(dir.path, 'htpasswd'), token: { key: join(dir.path, 'token.key') } },
    });
    daemon = spawn(
      'dockerd',
      [
        '--data-root',
        join(dir.path, 'data'),
        '--exec-root',
        join(dir.path, 'exec'),
        '--pidfile',
        join(dir.path, 'd.pid'),
        '-H',
        `unix://${sock()}`,
        '--bridge=none',
        '--iptables=false',
        '--ip6tables=false',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      if (
        existsSync(sock()) &&
        (await run('/usr/bin/docker', ['-H', `unix://${sock()}`, 'version'])).code === 0
      )
        return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('private dockerd did not come up');
  });
  after(async () => {
    if (daemon && daemon.exitCode === null) {
      const exited = new Promise((r) => daemon!.on('exit', r));
      daemon.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
    }
    await t?.close();
    await tokenReg?.close();
    // dockerd may leave mounts below its roots; unmount before removing.
    const mounts = (await run('findmnt', ['-rn', '-o', 'TARGET'])).stdout.split('\n');
    for (const m of mounts.filter((x) => x.startsWith(dir.path)).reverse()) await run('umount', ['-l', m]);
    dir?.cleanup();
  });

  test('import, push, rmi, pull with identical digests', async () => {
    makeBusyboxRootfs(join(dir.path, 'rootfs'));
    execFileSync('tar', ['-C', join(dir.path, 'rootfs'), '-cf', join(dir.path, 'rootfs.tar'), '.']);
    const ref = `${host(t)}/berth-docker/busybox:1`;
    await docker(['import', join(dir.path, 'rootfs.tar'), ref]);
    const pushOut = await docker(['push', ref]);
    const pushed = /digest: (sha256:[0-9a-f]{64})/.exec(pushOut)?.[1];
    assert.ok(pushed, pushOut);
    await docker(['rmi', ref]);
    const pullOut = await docker(['pull', ref]);
    assert.match(pullOut, new RegExp(`Digest: ${pushed}`));
    const repoDigests = (await docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', ref])).trim();
    assert.deepEqual(JSON.parse(repoDigests), [`${host(t)}/berth-docker/busybox@${pushed}`]);
  });

  test('docker login against token auth, then push; a bad password is refused', async () => {
    const h = host(tokenReg);
    const bad = await run(
      '/usr/bin/docker',
      [
        '--config',
        join(dir.path, 'client'),
        '-H',
        `unix://${sock()}`,
        'login',
        '-u',
        'dave',
        '--password-stdin',
        h,
      ],
      {
        input: 'wrong',
      },
    );
    assert.notEqual(bad.code, 0);
    await docker(['login', '-u', 'dave', '--password-stdin', h], 'pa55');
    if (!existsSync(join(dir.path, 'rootfs.tar'))) {
      makeBusyboxRootfs(join(dir.path, 'rootfs'));
      execFileSync('tar', ['-C', join(dir.path, 'rootfs'), '-cf', join(dir.path, 'rootfs.tar'), '.']);
    }
    const ref = `${h}/berth-docker/private:1`;
    await docker(['import', join(dir.path, 'rootfs.tar'), ref]);
    const out = await docker(['push', ref]);
    assert.match(out, /digest: sha256:[0-9a-f]{64}/);
    await docker(['logout', h]);
    await docker(['rmi', ref]);
    const anon = await run('/usr/bin/docker', [
      '--config',
      join(dir.path, 'client'),
      '-H',
      `unix://${sock()}`,
      'pull',
      ref,
    ]);
    assert.notEqual(anon.code, 0);
  });
});
