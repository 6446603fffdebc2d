// Basic auth (htpasswd, bcrypt), the bearer token flow, TLS and the health endpoint.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { haveCommand, tempDir } from '../../helpers/index.js';
import { digestOf, req, startTestRegistry, type TestRegistry } from './helpers.js';

const dir = tempDir('berth-registry-auth-');
const htpasswd = join(dir.path, 'htpasswd');
writeFileSync(
  htpasswd,
  `alice:${bcrypt.hashSync('wonderland', 4)}\n# a comment\nbob:${bcrypt.hashSync('builder', 4)}\n`,
);
after(() => dir.cleanup());

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('basic auth', () => {
  let t: TestRegistry;
  before(async () => {
    t = await startTestRegistry({ auth: { htpasswd, realm: 'test-realm' } });
  });
  after(async () => {
    await t.close();
  });

  test('no credentials: 401 with a Basic challenge and UNAUTHORIZED', async () => {
    const r = await req(t.url, '/v2/');
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Basic realm="test-realm"');
    assert.equal(r.code(), 'UNAUTHORIZED');
    assert.equal((await req(t.url, '/v2/x/tags/list')).status, 401);
  });

  test('bad credentials: 401', async () => {
    for (const auth of [basic('alice', 'wrong'), basic('mallory', 'wonderland'), 'Basic !!!', 'Bearer abc']) {
      const r = await req(t.url, '/v2/', { headers: { Authorization: auth } });
      assert.equal(r.status, 401, auth);
    }
  });

  test('good credentials: push and pull work', async () => {
    const auth = basic('alice', 'wonderland');
    assert.equal((await req(t.url, '/v2/', { headers: { Authorization: auth } })).status, 200);
    const data = 'authed blob';
    const up = await req(t.url, `/v2/priv/blobs/uploads/?digest=${digestOf(data)}`, {
      method: 'POST',
      body: data,
      headers: { Authorization: auth },
    });
    assert.equal(up.status, 201);
    const get = await req(t.url, `/v2/priv/blobs/${digestOf(data)}`, {
      headers: { Authorization: basic('bob', 'builder') },
    });
    assert.equal(get.body.toString(), data);
    // The token endpoint is not there in basic mode.
    assert.equal((await req(t.url, '/token', { headers: { Authorization: auth } })).status, 404);
  });
});

describe('token auth', () => {
  const keys: [string, string][] = [
    ['HS256', 'a shared secret for tests'],
    [
      'RS256',
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }) as string,
    ],
    [
      'ES256',
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }) as string,
    ],
  ];
  for (const [alg, key] of keys) {
    test(`${alg}: challenge, token endpoint, scopes`, async () => {
      const keyFile = join(dir.path, `key-${alg}`);
      writeFileSync(keyFile, key);
      const t = await startTestRegistry({ auth: { htpasswd, token: { key: keyFile, service: 'test-svc' } } });
      try {
        const r = await req(t.url, '/v2/');
        assert.equal(r.status, 401);
        const host = new URL(t.url).host;
        assert.equal(r.headers['www-authenticate'], `Bearer realm="http://${host}/token",service="test-svc"`);
        const push = await req(t.url, '/v2/app/blobs/uploads/', { method: 'POST' });
        assert.equal(push.status, 401);
        assert.match(String(push.headers['www-authenticate']), /scope="repository:app:pull,push"/);

        // Bad credentials at the token endpoint.
        const denied = await req(t.url, '/token?service=test-svc&scope=repository:app:pull', {
          headers: { Authorization: basic('alice', 'nope') },
        });
        assert.equal(denied.status, 401);
        assert.equal(denied.code(), 'UNAUTHORIZED');

        // A pull-only token can pull but not push.
        const tok = await req(t.url, '/token?service=test-svc&scope=repository:app:pull', {
          headers: { Authorization: basic('alice', 'wonderland') },
        });
        assert.equal(tok.status, 200);
        const body = tok.json() as { token: string; access_token: string; expires_in: number };
        assert.equal(body.token, body.access_token);
        assert.equal(body.expires_in, 300);
        const bearer = { Authorization: `Bearer ${body.token}` };
        assert.equal((await req(t.url, '/v2/', { headers: bearer })).status, 200);
        assert.equal(
          (await req(t.url, '/v2/app/blobs/uploads/', { method: 'POST', headers: bearer })).status,
          401,
        );
        const tags = await req(t.url, '/v2/app/tags/list', { headers: bearer });
        assert.equal(tags.code(), 'NAME_UNKNOWN');
        const otherRepo = await req(t.url, '/v2/other/tags/list', { headers: bearer });
        assert.equal(otherRepo.status, 401);
        assert.match(String(otherRepo.headers['www-authenticate']), /error="insufficient_scope"/);

        // A push token (OAuth2 password grant, POST form) uploads.
        const form = new URLSearchParams({
          grant_type: 'password',
          username: 'bob',
          password: 'builder',
          service: 'test-svc',
          scope: 'repository:app:pull,push',
        });
        const tok2 = await req(t.url, '/token', {
          method: 'POST',
          body: form.toString(),
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        });
        assert.equal(tok2.status, 200);
        const pushBearer = { Authorization: `Bearer ${(tok2.json() as { token: string }).token}` };
        const data = 'token blob';
        const up = await req(t.url, `/v2/app/blobs/uploads/?digest=${digestOf(data)}`, {
          method: 'POST',
          body: data,
          headers: pushBearer,
        });
        assert.equal(up.status, 201);

        // Tampered and foreign tokens are refused.
        const [h, p, s] = body.token.split('.') as [string, string, string];
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
        claims.access = [{ type: 'repository', name: 'app', actions: ['pull', 'push'] }];
        const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
        assert.equal(
          (await req(t.url, '/v2/', { headers: { Authorization: `Bearer ${forged}` } })).status,
          401,
        );
        assert.equal((await req(t.url, '/v2/', { headers: { Authorization: 'Bearer a.b.c' } })).status, 401);
        // The catalog needs registry:catalog:*.
        assert.equal((await req(t.url, '/v2/_catalog', { headers: bearer })).status, 401);
        const cat = await req(t.url, '/token?service=test-svc&scope=registry:catalog:*', {
          headers: { Authorization: basic('alice', 'wonderland') },
        });
        const catBearer = { Authorization: `Bearer ${(cat.json() as { token: string }).token}` };
        assert.deepEqual((await req(t.url, '/v2/_catalog', { headers: catBearer })).json(), {
          repositories: ['app'],
        });
        const wrongService = await req(t.url, '/token?service=elsewhere', {
          headers: { Authorization: basic('alice', 'wonderland') },
        });
        assert.equal(wrongService.code(), 'DENIED');
      } finally {
        await t.close();
      }
    });
  }
});

describe('TLS', () => {
  test('serves HTTPS with the configured certificate', {
    skip: !haveCommand('openssl') && 'openssl missing',
  }, async () => {
    const cert = join(dir.path, 'cert.pem');
    const key = join(dir.path, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const t = await startTestRegistry({ tls: { cert, key } });
    try {
      assert.match(t.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const status = await new Promise<{ code: number; version: string }>((resolve, reject) => {
        httpsGet(`${t.url}/v2/`, { ca: readFileSync(cert) }, (res) => {
          res.resume();
          resolve({
            code: res.statusCode ?? 0,
            version: String(res.headers['docker-distribution-api-version']),
          });
        }).on('error', reject);
      });
      assert.deepEqual(status, { code: 200, version: 'registry/2.0' });
    } finally {
      await t.close();
    }
  });
});

describe('configuration errors', () => {
  test('a missing htpasswd file or a bad entry fails at start with the file named', async () => {
    await assert.rejects(
      startTestRegistry({ auth: { htpasswd: join(dir.path, 'nope') } }),
      /htpasswd file .*nope/,
    );
    const bad = join(dir.path, 'bad-htpasswd');
    writeFileSync(bad, 'carol:{SHA}plaintext\n');
    await assert.rejects(startTestRegistry({ auth: { htpasswd: bad } }), /bad-htpasswd:1/);
  });
});
