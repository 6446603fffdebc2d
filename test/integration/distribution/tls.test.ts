// TLS registries: a loopback registry speaking HTTPS is found (HTTPS first, plain HTTP as fallback) and
// trusted through <certsDir>/<host:port>/ca.crt; without that CA the pull fails.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Distribution } from '../../../src/distribution/index.js';
import { type RunningRegistry, startRegistry } from '../../../src/registry/index.js';
import { haveCommand, tempDir } from '../../helpers/index.js';
import { imageStore, makeImage, type TestStore } from './helpers.js';

const dir = tempDir('berth-dist-tls-');
let reg: RunningRegistry | undefined;
let src: TestStore;
let dst: TestStore;

before(async () => {
  src = await imageStore();
  dst = await imageStore();
  if (!haveCommand('openssl')) return;
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir.path, 'key.pem'),
      '-out',
      join(dir.path, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  mkdirSync(join(dir.path, 'root'));
  reg = await startRegistry({
    root: join(dir.path, 'root'),
    addr: '127.0.0.1:0',
    tls: { cert: join(dir.path, 'cert.pem'), key: join(dir.path, 'key.pem') },
  });
});
after(async () => {
  await reg?.close(500);
  src?.cleanup();
  dst?.cleanup();
  dir.cleanup();
});

test('push and pull over TLS with the registry CA in certs.d', {
  skip: !haveCommand('openssl'),
}, async () => {
  const host = reg!.addr;
  assert.match(reg!.url, /^https:/);
  const certsDir = join(dir.path, 'certs.d');
  mkdirSync(join(certsDir, host), { recursive: true });
  copyFileSync(join(dir.path, 'cert.pem'), join(certsDir, host, 'ca.crt'));
  const ref = `${host}/tls/app:1`;
  const rec = await makeImage(src.images, ref, { layers: 1, seed: 'tls' });
  const [pushed] = await new Distribution({ images: src.images, certsDir }).push(ref, undefined);
  const [pulled] = await new Distribution({ images: dst.images, certsDir }).pull(ref);
  assert.equal(pulled!.id, rec.id);
  assert.equal(pulled!.digest, pushed!.digest);
  // Without the CA the certificate is not trusted.
  const other = await imageStore();
  try {
    const untrusted = new Distribution({ images: other.images, certsDir: join(dir.path, 'empty') });
    await assert.rejects(untrusted.pull(ref), /certificate|self.signed|socket hang up|ECONNRESET/i);
  } finally {
    other.cleanup();
  }
});
