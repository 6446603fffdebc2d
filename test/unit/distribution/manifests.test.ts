// Platform strings, index entry selection and manifest checks (each naming the JSON path at fault).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPlatform, parsePlatform } from '../../../src/distribution/index.js';
import { parseIndex, parseManifest, selectPlatform } from '../../../src/distribution/manifests.js';
import { sha256 } from '../../../src/util/index.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;

test('platform strings', () => {
  assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual(parsePlatform('x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.equal(formatPlatform(parsePlatform('Linux/ARM/v7')), 'linux/arm/v7');
  assert.throws(() => parsePlatform('linux//'), /invalid platform "linux\/\/"/);
  assert.throws(() => parsePlatform('a/b/c/d'), /invalid platform/);
});

test('index entries: os/arch/variant, arm64 default variant, no match names the platform', () => {
  const index = {
    schemaVersion: 2 as const,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: D('a'),
        size: 1,
        platform: { os: 'linux', architecture: 'amd64' },
      },
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: D('b'),
        size: 1,
        platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
      },
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: D('c'),
        size: 1,
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      },
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: D('d'),
        size: 1,
        platform: { os: 'unknown', architecture: 'unknown' },
      },
    ],
  };
  assert.equal(selectPlatform(index, parsePlatform('linux/amd64'), 'x').digest, D('a'));
  assert.equal(selectPlatform(index, parsePlatform('linux/arm/v7'), 'x').digest, D('b'));
  assert.equal(selectPlatform(index, parsePlatform('linux/arm64'), 'x').digest, D('c'));
  assert.throws(
    () => selectPlatform(index, parsePlatform('linux/s390x'), 'x'),
    /no matching manifest for linux\/s390x/,
  );
  assert.throws(() => selectPlatform(index, parsePlatform('windows/amd64'), 'x'), /no matching manifest/);
});

test('manifest checks name the JSON path', () => {
  const m = (v: unknown) => {
    const bytes = Buffer.from(JSON.stringify(v));
    return { bytes, digest: sha256(bytes), mediaType: 'application/vnd.oci.image.manifest.v1+json' };
  };
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('1'), size: 2 };
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D('2'), size: 3 };
  assert.equal(parseManifest(m({ schemaVersion: 2, config, layers: [layer] })).layers.length, 1);
  assert.throws(() => parseManifest(m({ schemaVersion: 1 })), /\.schemaVersion must be 2/);
  assert.throws(() => parseManifest(m({ schemaVersion: 2, layers: [] })), /\.config must be an object/);
  assert.throws(() => parseManifest(m({ schemaVersion: 2, config })), /\.layers must be an array/);
  assert.throws(
    () => parseManifest(m({ schemaVersion: 2, config, layers: [{ ...layer, size: -1 }] })),
    /\.layers\[0\]\.size must be a non-negative integer/,
  );
  assert.throws(
    () => parseManifest(m({ schemaVersion: 2, config, layers: [{ ...layer, mediaType: 'text/plain' }] })),
    /\.layers\[0\]\.mediaType text\/plain is not a layer media type/,
  );
  assert.throws(() => parseManifest(m([1])), /\(root\) must be an object/);
  assert.throws(
    () => parseIndex(m({ schemaVersion: 2, manifests: [{ digest: 'x' }] })),
    /\.manifests\[0\]\.mediaType/,
  );
  const bad = { bytes: Buffer.from('{'), digest: D('e'), mediaType: '' };
  assert.throws(() => parseManifest(bad), /is not valid JSON/);
});
