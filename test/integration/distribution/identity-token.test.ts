// Identity tokens (OAuth2 refresh tokens), as docker login keeps them: a login against berth's registry
// with token auth returns one; pulls and pushes with only that token (from the credential store's
// `identitytoken`) trade it for access tokens with POST grant_type=refresh_token; bad, foreign and
// misused tokens are refused.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { CredentialStore, Distribution } from '../../../src/distribution/index.js';
import { tempDir } from '../../helpers/index.js';
import {
  berthRegistry,
  imageStore,
  makeImage,
  storeContents,
  type TestRegistry,
  type TestStore,
} from './helpers.js';

const dir = tempDir('berth-dist-idtok-');
const htpasswd = join(dir.path, 'htpasswd');
writeFileSync(htpasswd, `alice:${bcrypt.hashSync('wonderland', 4)}\n`);
const keyFile = join(dir.path, 'token.key');
writeFileSync(keyFile, 'a shared secret for identity token tests');
const otherKey = join(dir.path, 'other.key');
writeFileSync(otherKey, 'another registry entirely');

let reg: TestRegistry;
let other: TestRegistry;
let src: TestStore;
let identity = '';

before(async () => {
  reg = await berthRegistry({ htpasswd, token: { key: keyFile } });
  other = await berthRegistry({ htpasswd, token: { key: otherKey } });
  src = await imageStore();
  await makeImage(src.images, `${reg.host}/id/app:1`, { layers: 2, seed: 'idtok' });
});
after(async () => {
  await reg?.close();
  await other?.close();
  src?.cleanup();
  dir.cleanup();
});

test('login asks for offline access and returns the refresh token as IdentityToken', async () => {
  const d = new Distribution({ images: src.images });
  const r = await d.login({ username: 'alice', password: 'wonderland', serveraddress: reg.host });
  assert.equal(r.Status, 'Login Succeeded');
  assert.match(r.IdentityToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  identity = r.IdentityToken;
});

test('push and pull with only the identity token kept in the credential store', async () => {
  assert.ok(identity);
  const cfgDir = tempDir('berth-dist-idtok-cfg-');
  const dst = await imageStore();
  try {
    const store = new CredentialStore(cfgDir.path);
    await store.store(reg.host, { username: 'alice', identitytoken: identity });
    const saved = JSON.parse(readFileSync(join(cfgDir.path, 'config.json'), 'utf8'));
    assert.equal(saved.auths[reg.host].identitytoken, identity);
    const auth = await store.get(reg.host);
    assert.equal(auth?.identitytoken, identity);
    // No password travels: the identity token alone buys push and pull scopes.
    const onlyToken = { identitytoken: auth!.identitytoken!, serveraddress: reg.host };
    const [pushed] = await new Distribution({ images: src.images }).push(`${reg.host}/id/app`, '1', {
      auth: onlyToken,
    });
    const [pulled] = await new Distribution({ images: dst.images }).pull(`${reg.host}/id/app:1`, {
      auth: onlyToken,
    });
    assert.equal(pulled!.digest, pushed!.digest);
    assert.equal(pulled!.id, src.images.resolve(`${reg.host}/id/app:1`).id);
  } finally {
    dst.cleanup();
    cfgDir.cleanup();
  }
});

test('a wrong, tampered or foreign identity token is refused with 401 and nothing is stored', async () => {
  const dst = await imageStore();
  try {
    const d = new Distribution({ images: dst.images });
    const [h, p, s] = identity.split('.') as [string, string, string];
    const tampered = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`;
    const foreign = (
      await new Distribution({ images: dst.images }).login({
        username: 'alice',
        password: 'wonderland',
        serveraddress: other.host,
      })
    ).IdentityToken;
    for (const bad of ['not-a-token', tampered, foreign]) {
      await assert.rejects(
        d.pull(`${reg.host}/id/app:1`, { auth: { identitytoken: bad } }),
        (err: Error & { status?: number }) => {
          assert.equal(err.status, 401);
          assert.match(
            err.message,
            /Post "http:\/\/127\.0\.0\.1:\d+\/token": unauthorized: invalid or expired identity token/,
          );
          return true;
        },
      );
    }
    assert.deepEqual(await storeContents(dst.images), []);
  } finally {
    dst.cleanup();
  }
});

test('a refresh token is not an access token, and an access token is not a refresh token', async () => {
  const base = `http://${reg.host}`;
  // Sent as a bearer token, the refresh token is refused.
  const asBearer = await fetch(`${base}/v2/id/app/tags/list`, {
    headers: { Authorization: `Bearer ${identity}` },
  });
  assert.equal(asBearer.status, 401);
  // An access token offered as refresh token is refused.
  const grant = await fetch(`${base}/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: identity,
      scope: 'repository:id/app:pull',
    }),
  });
  assert.equal(grant.status, 200);
  const access = ((await grant.json()) as { access_token: string }).access_token;
  const again = await fetch(`${base}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: access }),
  });
  assert.equal(again.status, 401);
  // The access token it bought works for what it asked.
  const tags = await fetch(`${base}/v2/id/app/tags/list`, { headers: { Authorization: `Bearer ${access}` } });
  assert.equal(tags.status, 200);
  // Unknown grants are a bad request.
  const odd = await fetch(`${base}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  assert.equal(odd.status, 400);
  const body = (await odd.json()) as { errors: { code: string; message: string }[] };
  assert.equal(body.errors[0]!.code, 'UNSUPPORTED');
  assert.equal(body.errors[0]!.message, `unsupported grant_type "client_credentials"`);
});

test('the password grant with access_type=offline also returns a refresh token; without it, none', async () => {
  const base = `http://${reg.host}`;
  const post = (extra: Record<string, string>) =>
    fetch(`${base}/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'password',
        username: 'alice',
        password: 'wonderland',
        ...extra,
      }),
    }).then((r) => r.json() as Promise<{ access_token?: string; refresh_token?: string }>);
  assert.ok((await post({ access_type: 'offline', client_id: 'test' })).refresh_token);
  const online = await post({});
  assert.ok(online.access_token);
  assert.equal(online.refresh_token, undefined);
});
