// Challenge parsing, X-Registry-Auth decoding, registry addressing and the docker CLI config file
// (inline auths and a docker-credential-<helper> on PATH).
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  CredentialStore,
  configKey,
  decodeRegistryAuth,
  loginHost,
  parseChallenges,
  registryBase,
} from '../../../src/distribution/index.js';
import { tempDir } from '../../helpers/index.js';

const dir = tempDir('berth-dist-unit-');
after(() => dir.cleanup());

test('WWW-Authenticate challenges', () => {
  assert.deepEqual(
    parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
    ),
    [
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    ],
  );
  assert.deepEqual(parseChallenges('Basic realm="berth registry"'), [
    { scheme: 'basic', params: { realm: 'berth registry' } },
  ]);
  assert.deepEqual(parseChallenges('Bearer realm="a\\"b", service=svc'), [
    { scheme: 'bearer', params: { realm: 'a"b', service: 'svc' } },
  ]);
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges(''), []);
});

test('X-Registry-Auth: base64url JSON, padded or not; bad input is a 400', () => {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  assert.deepEqual(decodeRegistryAuth(enc({ username: 'a', password: 'p?>~', serveraddress: 'r:5000' })), {
    username: 'a',
    password: 'p?>~',
    serveraddress: 'r:5000',
  });
  const padded = Buffer.from(JSON.stringify({ username: 'bob', password: 'x' }))
    .toString('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
  assert.deepEqual(decodeRegistryAuth(padded), { username: 'bob', password: 'x' });
  // The config file's `auth` form.
  assert.deepEqual(decodeRegistryAuth(enc({ auth: Buffer.from('u:p:q').toString('base64') })), {
    auth: Buffer.from('u:p:q').toString('base64'),
    username: 'u',
    password: 'p:q',
  });
  assert.equal(decodeRegistryAuth(enc({})), undefined);
  assert.equal(decodeRegistryAuth(''), undefined);
  assert.equal(decodeRegistryAuth(undefined), undefined);
  assert.throws(
    () => decodeRegistryAuth('not-json!'),
    (e: Error & { status?: number }) => e.status === 400,
  );
  assert.throws(() => decodeRegistryAuth(enc([1, 2])), /expected a JSON object/);
});

test('registry addresses: plain http for loopback and insecure registries, https otherwise', () => {
  assert.equal(registryBase('localhost:5000').href, 'http://localhost:5000/');
  assert.equal(registryBase('127.0.0.1:5000').href, 'http://127.0.0.1:5000/');
  assert.equal(registryBase('127.3.4.5').href, 'http://127.3.4.5/');
  assert.equal(registryBase('registry.example.com').href, 'https://registry.example.com/');
  assert.equal(registryBase('docker.io').href, 'https://registry-1.docker.io/');
  assert.equal(registryBase('myreg:5000', ['myreg:5000']).href, 'http://myreg:5000/');
  assert.equal(registryBase('10.1.2.3:5000', ['10.0.0.0/8']).href, 'http://10.1.2.3:5000/');
  assert.equal(registryBase('11.1.2.3:5000', ['10.0.0.0/8']).href, 'https://11.1.2.3:5000/');
  assert.equal(loginHost(undefined), 'docker.io');
  assert.equal(loginHost('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(loginHost('http://localhost:5000/'), 'localhost:5000');
  assert.equal(loginHost('reg.example.com'), 'reg.example.com');
  assert.equal(configKey('docker.io'), 'https://index.docker.io/v1/');
});

test('config file: inline auths are read, stored and erased; other keys survive', async () => {
  const cfgDir = join(dir.path, 'inline');
  mkdirSync(cfgDir);
  writeFileSync(
    join(cfgDir, 'config.json'),
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:secret').toString('base64') },
        'http://old.example.com/v1/': { auth: Buffer.from('o:p').toString('base64') },
      },
      psFormat: 'table {{.ID}}',
    }),
  );
  const store = new CredentialStore(cfgDir);
  assert.deepEqual(await store.get('docker.io'), {
    auth: Buffer.from('hub:secret').toString('base64'),
    username: 'hub',
    password: 'secret',
    serveraddress: 'docker.io',
  });
  assert.equal((await store.get('old.example.com'))?.username, 'o');
  assert.equal(await store.get('localhost:5000'), undefined);
  await store.store('localhost:5000', { username: 'alice', password: 'wonderland' });
  const saved = JSON.parse(readFileSync(join(cfgDir, 'config.json'), 'utf8'));
  assert.equal(saved.auths['localhost:5000'].auth, Buffer.from('alice:wonderland').toString('base64'));
  assert.equal(saved.psFormat, 'table {{.ID}}');
  assert.equal((await store.get('localhost:5000'))?.password, 'wonderland');
  assert.equal(await store.erase('localhost:5000'), true);
  assert.equal(await store.erase('localhost:5000'), false);
  assert.equal(await store.get('localhost:5000'), undefined);
});

test('config file: a missing file has no credentials; invalid JSON is named', async () => {
  assert.equal(await new CredentialStore(join(dir.path, 'none')).get('x.example.com'), undefined);
  const bad = join(dir.path, 'bad');
  mkdirSync(bad);
  writeFileSync(join(bad, 'config.json'), '{"auths": ');
  await assert.rejects(new CredentialStore(bad).get('x'), /bad\/config\.json: invalid JSON/);
});

test('credential helpers: credsStore and credHelpers run docker-credential-<name> get/store/erase', async () => {
  const bin = join(dir.path, 'bin');
  const state = join(dir.path, 'helper-state');
  mkdirSync(bin);
  mkdirSync(state);
  // A tiny helper speaking the protocol: one file per server URL.
  const script = `#!/bin/sh
input=$(cat)
case "$1" in
  get) f="${state}/$(printf %s "$input" | tr '/:' '__')"; if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  store) url=$(printf %s "$input" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/'); printf %s "$input" > "${state}/$(printf %s "$url" | tr '/:' '__')" ;;
  erase) rm "${state}/$(printf %s "$input" | tr '/:' '__')" ;;
esac
`;
  for (const name of ['docker-credential-fake', 'docker-credential-other']) {
    writeFileSync(join(bin, name), script);
    chmodSync(join(bin, name), 0o755);
  }
  const cfgDir = join(dir.path, 'helpers');
  mkdirSync(cfgDir);
  writeFileSync(
    join(cfgDir, 'config.json'),
    JSON.stringify({ credsStore: 'fake', credHelpers: { 'special:5000': 'other' } }),
  );
  const oldPath = process.env.PATH;
  process.env.PATH = `${bin}:${oldPath}`;
  try {
    const store = new CredentialStore(cfgDir);
    assert.equal(await store.get('reg.example.com'), undefined);
    await store.store('reg.example.com', { username: 'u1', password: 'p1' });
    assert.deepEqual(await store.get('reg.example.com'), {
      username: 'u1',
      password: 'p1',
      serveraddress: 'reg.example.com',
    });
    // No secret in the file itself.
    assert.doesNotMatch(readFileSync(join(cfgDir, 'config.json'), 'utf8'), /p1/);
    await store.store('special:5000', { identitytoken: 'tok' });
    assert.deepEqual(await store.get('special:5000'), {
      identitytoken: 'tok',
      serveraddress: 'special:5000',
    });
    assert.equal(await store.erase('reg.example.com'), true);
    assert.equal(await store.get('reg.example.com'), undefined);
  } finally {
    process.env.PATH = oldPath;
  }
});
