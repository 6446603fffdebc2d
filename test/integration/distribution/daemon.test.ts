// Through a private berth daemon: the real docker 28 CLI and berth's CLI push, pull and log in
// against berth's registry (POST /images/{name}/push, POST /images/create?fromImage=, POST /auth).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startTestDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { berthArgv, makeBusyboxRootfs, runTool, tempDir } from '../../helpers/index.js';
import { berthRegistry, type TestRegistry } from './helpers.js';

const DOCKER = '/usr/local/bin/docker';
const BERTH = berthArgv();

describe('docker and berth CLIs against a berth daemon and registry', () => {
  let d: TestDaemon;
  let open: TestRegistry;
  let locked: TestRegistry;
  let tokened: TestRegistry;
  const dir = tempDir('berth-dist-daemon-');
  let env: NodeJS.ProcessEnv;
  // Asynchronous: the registries run in this process and must keep serving while a CLI runs.
  const docker = (args: string[], input?: string) =>
    runTool(DOCKER, args, env, { input, timeoutMs: 120_000 });
  const berth = (args: string[], input?: string) =>
    runTool(process.execPath, [...BERTH, ...args], env, { input, timeoutMs: 120_000 });
  /** The saved login for `host`: an identity token, and not the password anywhere. */
  const savedLogin = (host: string) => {
    const cfgPath = join(dir.path, 'docker-config', 'config.json');
    const entry = (
      JSON.parse(readFileSync(cfgPath, 'utf8')) as { auths: Record<string, Record<string, string>> }
    ).auths[host]!;
    assert.match(entry.identitytoken ?? '', /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(
      !Buffer.from(entry.auth ?? '', 'base64')
        .toString()
        .includes('wonderland'),
    );
    return { cfgPath, entry };
  };

  before(async () => {
    d = await startTestDaemon();
    open = await berthRegistry();
    const htpasswd = join(dir.path, 'htpasswd');
    writeFileSync(htpasswd, `alice:${bcrypt.hashSync('wonderland', 4)}\n`);
    locked = await berthRegistry({ htpasswd });
    writeFileSync(join(dir.path, 'token.key'), 'token key of the daemon tests');
    tokened = await berthRegistry({ htpasswd, token: { key: join(dir.path, 'token.key') } });
    env = { ...d.env, DOCKER_CONFIG: join(dir.path, 'docker-config') };
    const rootfs = join(dir.path, 'rootfs');
    makeBusyboxRootfs(rootfs);
    execFileSync('tar', ['-C', rootfs, '-cf', join(dir.path, 'rootfs.tar'), '.']);
    const r = await docker([
      'import',
      '-c',
      'CMD ["sh"]',
      join(dir.path, 'rootfs.tar'),
      `${open.host}/e2e/bb:1`,
    ]);
    assert.equal(r.status, 0, r.stderr);
  });
  after(async () => {
    await d?.stop();
    await open?.close();
    await locked?.close();
    await tokened?.close();
    dir.cleanup();
  });

  test('docker push, rmi, pull: same image ID and repo digest', async () => {
    const ref = `${open.host}/e2e/bb:1`;
    const id = (await docker(['image', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim();
    const push = await docker(['push', ref]);
    assert.equal(push.status, 0, push.stderr);
    assert.match(push.stdout, /The push refers to repository \[127\.0\.0\.1:\d+\/e2e\/bb\]/);
    const m = /1: digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(push.stdout);
    assert.ok(m, push.stdout);
    // As Docker: the image's last tag takes the pushed repo digest with it, so the image itself goes.
    const rmi = await docker(['rmi', ref]);
    assert.equal(rmi.status, 0, rmi.stderr);
    assert.equal(rmi.stdout, `Untagged: ${ref}\nUntagged: ${open.host}/e2e/bb@${m[1]}\nDeleted: ${id}\n`);
    assert.notEqual((await docker(['image', 'inspect', id])).status, 0);
    const pull = await docker(['pull', ref]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.match(pull.stdout, new RegExp(`Digest: ${m[1]}`));
    assert.match(pull.stdout, /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/e2e\/bb:1/);
    assert.equal((await docker(['image', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim(), id);
    const digests = (await docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', ref])).stdout.trim();
    assert.deepEqual(JSON.parse(digests), [`${open.host}/e2e/bb@${m[1]}`]);
    // GET /distribution/{name}/json
    const info = await d.client.images.distribution(ref);
    assert.equal(info.Descriptor.digest, m[1]);
    assert.deepEqual(info.Platforms, [{ architecture: 'amd64', os: 'linux' }]);
    await assert.rejects(d.client.images.distribution(`${open.host}/e2e/bb:nope`), /manifest unknown/);
    // Again: up to date. By digest with berth's CLI.
    assert.match((await docker(['pull', ref])).stdout, /Image is up to date for/);
    const byDigest = await berth(['pull', `${open.host}/e2e/bb@${m[1]}`]);
    assert.equal(byDigest.status, 0, byDigest.stderr);
    assert.match(byDigest.stdout, new RegExp(`${open.host.replace(/\./g, '\\.')}/e2e/bb@${m[1]}`));
  });

  test('unknown repository or tag: docker prints the registry reason, exit 1', async () => {
    const r = await docker(['pull', `${open.host}/e2e/bb:nope`]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /manifest for 127\.0\.0\.1:\d+\/e2e\/bb:nope not found: manifest unknown/);
    const b = await berth(['pull', `${open.host}/e2e/bb:nope`]);
    assert.equal(b.status, 1);
    assert.match(b.stderr, /Error response from daemon: manifest for .*not found: manifest unknown/);
    const push = await docker(['push', `${open.host}/e2e/missing:1`]);
    assert.notEqual(push.status, 0);
    assert.match(push.stderr, /tag does not exist|An image does not exist locally/);
  });

  test('docker login to a token registry keeps an identity token, and push and pull use it', async () => {
    const ref = `${tokened.host}/private/idtok:1`;
    assert.equal((await docker(['tag', `${open.host}/e2e/bb:1`, ref])).status, 0);
    const ok = await docker(['login', '-u', 'alice', '--password-stdin', tokened.host], 'wonderland\n');
    assert.equal(ok.status, 0, ok.stderr);
    // docker keeps the refresh token POST /auth returned instead of the password.
    const { cfgPath, entry } = savedLogin(tokened.host);
    const push = await docker(['push', ref]);
    assert.equal(push.status, 0, push.stderr);
    assert.equal((await docker(['rmi', ref])).status, 0);
    const pull = await docker(['pull', '-q', ref]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.equal(pull.stdout.trim(), ref);
    // A stale identity token is refused as docker reports it.
    writeFileSync(
      cfgPath,
      JSON.stringify({ auths: { [tokened.host]: { auth: entry.auth, identitytoken: 'x.y.z' } } }),
    );
    const stale = await docker(['pull', ref.replace(':1', ':2')]);
    assert.notEqual(stale.status, 0);
    assert.match(stale.stderr, /invalid or expired identity token/);
    await docker(['logout', tokened.host]);
  });

  test('berth login to a token registry keeps the identity token too, and pull uses it', async () => {
    const ref = `${tokened.host}/private/idtok-berth:1`;
    assert.equal((await docker(['tag', `${open.host}/e2e/bb:1`, ref])).status, 0);
    const ok = await berth(['login', '-u', 'alice', '--password-stdin', tokened.host], 'wonderland\n');
    assert.equal(ok.status, 0, ok.stderr);
    savedLogin(tokened.host);
    const push = await berth(['push', '-q', ref]);
    assert.equal(push.status, 0, push.stderr);
    assert.equal((await docker(['rmi', ref])).status, 0);
    const pull = await berth(['pull', '-q', ref]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.equal(pull.stdout.trim(), ref);
    await berth(['logout', tokened.host]);
  });

  test('login, push with stored credentials, logout; a wrong password is refused', async () => {
    const ref = `${locked.host}/private/bb:1`;
    assert.equal((await docker(['tag', `${open.host}/e2e/bb:1`, ref])).status, 0);
    const denied = await docker(['push', ref]);
    assert.notEqual(denied.status, 0);
    const bad = await docker(['login', '-u', 'alice', '--password-stdin', locked.host], 'nope\n');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /401 Unauthorized/);
    const ok = await docker(['login', '-u', 'alice', '--password-stdin', locked.host], 'wonderland\n');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /Login Succeeded/);
    const push = await docker(['push', ref]);
    assert.equal(push.status, 0, push.stderr);
    // berth's CLI reads the same config file.
    assert.equal((await docker(['rmi', ref])).status, 0);
    const pull = await berth(['pull', '-q', ref]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.equal(pull.stdout.trim(), ref);
    const out = await berth(['logout', locked.host]);
    assert.equal(out.stdout.trim(), `Removing login credentials for ${locked.host}`);
    const cfg = JSON.parse(readFileSync(join(dir.path, 'docker-config', 'config.json'), 'utf8')) as {
      auths: Record<string, unknown>;
    };
    assert.equal(cfg.auths[locked.host], undefined);
    const login = await berth(['login', '-u', 'alice', '--password-stdin', locked.host], 'wonderland\n');
    assert.equal(login.status, 0, login.stderr);
    assert.match(login.stdout, /Login Succeeded/);
    const wrong = await berth(['login', '-u', 'alice', '-p', 'x', locked.host]);
    assert.equal(wrong.status, 1);
    assert.match(
      wrong.stderr,
      /Error response from daemon: login attempt to .* failed with status: 401 Unauthorized/,
    );
  });
});
