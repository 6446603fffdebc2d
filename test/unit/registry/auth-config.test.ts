// htpasswd parsing, scopes, JWT signing and verification, and the config file with CLI flags over it.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseHtpasswd, parseScopes, TokenSigner } from '../../../src/registry/auth.js';
import { configFromFlags, parseAddr, parseConfigText } from '../../../src/registry/config.js';
import { tempDir } from '../../helpers/index.js';

const HASH = `$2y$05$${'a'.repeat(53)}`;

describe('htpasswd', () => {
  test('bcrypt entries, comments and blank lines; $2y$ normalised', () => {
    const users = parseHtpasswd(`# users\nalice:${HASH}\n\nbob:${HASH.replace('2y', '2b')}\n`, 'f');
    assert.deepEqual([...users.keys()], ['alice', 'bob']);
    assert.ok(users.get('alice')!.startsWith('$2b$'));
  });
  test('non-bcrypt entries are refused with file:line', () => {
    assert.throws(() => parseHtpasswd(`ok:${HASH}\nbad:{SHA}xyz\n`, '/etc/htpasswd'), /\/etc\/htpasswd:2/);
    assert.throws(() => parseHtpasswd('nocolon\n', 'f'), /f:1/);
    assert.throws(() => parseHtpasswd(`:${HASH}\n`, 'f'), /f:1/);
  });
});

describe('scopes', () => {
  test('parses repository and registry scopes, several per parameter', () => {
    assert.deepEqual(parseScopes(['repository:a/b:pull,push registry:catalog:*', 'repository:c:pull']), [
      { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
      { type: 'repository', name: 'c', actions: ['pull'] },
    ]);
    assert.deepEqual(parseScopes(['garbage', 'x:y', '']), []);
    // Names with a port-like colon keep the part before the last colon.
    assert.deepEqual(parseScopes(['repository:host:5000/x:pull'])[0]?.name, 'host:5000/x');
  });
});

describe('tokens', () => {
  const keys = {
    HS256: Buffer.from('secret'),
    RS256: Buffer.from(
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    ),
    ES256: Buffer.from(
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    ),
  };
  for (const [alg, key] of Object.entries(keys)) {
    test(`${alg}: sign, verify, reject tampering and foreign keys`, () => {
      const signer = new TokenSigner(key);
      assert.equal(signer.alg, alg);
      const token = signer.sign({ sub: 'u', access: [] });
      assert.deepEqual(signer.verify(token), { sub: 'u', access: [] });
      const [h, , s] = token.split('.');
      const forged = `${h}.${Buffer.from('{"sub":"root"}').toString('base64url')}.${s}`;
      assert.equal(signer.verify(forged), null);
      assert.equal(signer.verify('not a token'), null);
      assert.equal(signer.verify('a.b.c'), null);
      const other = new TokenSigner(Buffer.from('other secret'));
      assert.equal(other.verify(token), null);
    });
  }
  test('an Ed25519 key is refused', () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
    assert.throws(() => new TokenSigner(Buffer.from(pem)), /unsupported key type/);
  });
});

describe('config', () => {
  test('a full YAML file', () => {
    const c = parseConfigText(
      [
        'addr: 0.0.0.0:5000',
        'root: /srv/reg',
        'deleteEnabled: false',
        'auth:',
        '  htpasswd: /etc/reg/htpasswd',
        '  token: { key: /etc/reg/key.pem, service: svc, expiration: 60 }',
        'tls: { cert: c.pem, key: k.pem }',
        'limits: { maxBlobSize: 1000, maxManifestSize: 2000, uploadTTL: 30 }',
      ].join('\n'),
      'reg.yml',
    );
    assert.equal(c.addr, '0.0.0.0:5000');
    assert.equal(c.deleteEnabled, false);
    assert.equal(c.auth?.token?.service, 'svc');
    assert.deepEqual(c.tls, { cert: 'c.pem', key: 'k.pem' });
    assert.equal(c.limits?.uploadTTL, 30);
    assert.deepEqual(parseConfigText('', 'empty.yml'), {});
  });
  test('bad files name the file and the key', () => {
    assert.throws(() => parseConfigText('addr: [1', 'a.yml'), /a\.yml: invalid YAML/);
    assert.throws(() => parseConfigText('- 1', 'a.yml'), /a\.yml: expected a mapping/);
    assert.throws(() => parseConfigText('port: 1', 'a.yml'), /unknown key "port"/);
    assert.throws(() => parseConfigText('addr: 5', 'a.yml'), /a\.yml\.addr: expected a string/);
    assert.throws(() => parseConfigText('tls: { cert: c }', 'a.yml'), /tls needs both/);
    assert.throws(() => parseConfigText('auth: { token: { service: x } }', 'a.yml'), /token\.key: required/);
    assert.throws(() => parseConfigText('limits: { maxBlobSize: big }', 'a.yml'), /limits\.maxBlobSize/);
  });
  test('CLI flags take precedence over the file', async () => {
    const dir = tempDir('berth-registry-config-');
    try {
      const file = join(dir.path, 'c.yml');
      writeFileSync(file, 'addr: 127.0.0.1:5000\nroot: /from/file\nauth: { htpasswd: /file/htpasswd }\n');
      const c = await configFromFlags({ config: file, addr: '127.0.0.1:0', htpasswd: '/flag/htpasswd' });
      assert.equal(c.addr, '127.0.0.1:0');
      assert.equal(c.root, '/from/file');
      assert.equal(c.auth?.htpasswd, '/flag/htpasswd');
      const d = await configFromFlags({ root: '/flag', tlsCert: 'c', tlsKey: 'k' });
      assert.deepEqual([d.addr, d.tls], ['127.0.0.1:5000', { cert: 'c', key: 'k' }]);
      await assert.rejects(configFromFlags({}), /no storage root/);
      await assert.rejects(configFromFlags({ root: '/r', tlsCert: 'c' }), /go together/);
      await assert.rejects(configFromFlags({ config: join(dir.path, 'missing.yml') }), /missing\.yml/);
    } finally {
      dir.cleanup();
    }
  });
  test('listen addresses', () => {
    assert.deepEqual(parseAddr('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseAddr('[::1]:5000'), { host: '::1', port: 5000 });
    assert.deepEqual(parseAddr(':5000'), { host: '0.0.0.0', port: 5000 });
    for (const bad of ['5000', 'host', 'h:99999', 'h:x'])
      assert.throws(() => parseAddr(bad), /invalid listen address/);
  });
});
