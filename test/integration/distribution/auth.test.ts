// Registry auth as a client: Basic (htpasswd) and the bearer token flow against berth's registry —
// login checks, push and pull with credentials, and refusals with wrong or missing ones.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { Distribution } from '../../../src/distribution/index.js';
import { tempDir } from '../../helpers/index.js';
import {
  berthRegistry,
  imageStore,
  makeImage,
  storeContents,
  type TestRegistry,
  type TestStore,
} from './helpers.js';

const dir = tempDir('berth-dist-auth-');
const htpasswd = join(dir.path, 'htpasswd');
writeFileSync(htpasswd, `alice:${bcrypt.hashSync('wonderland', 4)}\n`);
const keyFile = join(dir.path, 'token.key');
writeFileSync(keyFile, 'a shared secret for distribution tests');
after(() => dir.cleanup());

for (const mode of ['basic', 'token'] as const) {
  describe(`${mode} auth`, () => {
    let reg: TestRegistry;
    let src: TestStore;
    let dst: TestStore;
    before(async () => {
      reg = await berthRegistry(mode === 'basic' ? { htpasswd } : { htpasswd, token: { key: keyFile } });
      src = await imageStore();
      dst = await imageStore();
    });
    after(async () => {
      await reg?.close();
      src?.cleanup();
      dst?.cleanup();
    });

    test('login succeeds with the right password and fails with a wrong one', async () => {
      const d = new Distribution({ images: src.images });
      const ok = await d.login({ username: 'alice', password: 'wonderland', serveraddress: reg.host });
      assert.equal(ok.Status, 'Login Succeeded');
      // The token service hands out a refresh token for the client to keep (identity-token.test.ts).
      if (mode === 'basic') assert.equal(ok.IdentityToken, '');
      else assert.match(ok.IdentityToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      const wrong = d.login({ username: 'alice', password: 'nope', serveraddress: `http://${reg.host}/` });
      await assert.rejects(wrong, (err: Error & { status?: number }) => {
        assert.equal(err.status, 401);
        assert.match(
          err.message,
          mode === 'basic'
            ? /^login attempt to http:\/\/127\.0\.0\.1:\d+\/v2\/ failed with status: 401 Unauthorized$/
            : /unauthorized: incorrect username or password/,
        );
        return true;
      });
    });

    test('push and pull with credentials; without them access is denied', async () => {
      const ref = `${reg.host}/private/app:1`;
      const rec = await makeImage(src.images, ref, { layers: 2, seed: mode });
      const auth = { username: 'alice', password: 'wonderland' };
      const d = new Distribution({ images: src.images });
      await assert.rejects(d.push(ref, undefined), /denied|unauthorized/i);
      const [pushed] = await d.push(ref, undefined, { auth });
      const p = new Distribution({ images: dst.images });
      await assert.rejects(p.pull(ref), /pull access denied for 127\.0\.0\.1:\d+\/private\/app/);
      await assert.rejects(
        p.pull(ref, { auth: { username: 'alice', password: 'bad' } }),
        mode === 'basic' ? /pull access denied/ : /incorrect username or password/,
      );
      assert.deepEqual(await storeContents(dst.images), []);
      const [pulled] = await p.pull(ref, { auth });
      assert.equal(pulled!.id, rec.id);
      assert.equal(pulled!.digest, pushed!.digest);
      const info = await p.inspect(ref, auth);
      assert.equal(info.Descriptor.digest, pushed!.digest);
      assert.deepEqual(info.Platforms, [{ architecture: 'amd64', os: 'linux' }]);
    });
  });
}
