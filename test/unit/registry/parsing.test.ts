// Pure parsing and validation: names, tags, digests, routes, ranges, paging, manifests, Accept.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RegistryError } from '../../../src/registry/errors.js';
import { matchRoute, paginate, parseRange } from '../../../src/registry/http.js';
import {
  accepts,
  DOCKER_LIST,
  OCI_INDEX,
  OCI_MANIFEST,
  parseManifest,
} from '../../../src/registry/manifests.js';
import { checkDigest, isValidName, isValidTag } from '../../../src/registry/names.js';

const D = `sha256:${'a'.repeat(64)}`;
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RegistryError, String(err));
    return err.code;
  }
  assert.fail('expected an error');
};

describe('names', () => {
  test('repository names follow the spec grammar', () => {
    for (const ok of ['a', 'library/busybox', 'a.b_c__d-e--f/x0', 'x/y/z', '0'])
      assert.ok(isValidName(ok), ok);
    for (const bad of ['', 'A', 'a//b', '/a', 'a/', 'a..b', 'a_', '-a', 'a/_b', 'a___b', 'x'.repeat(256)]) {
      assert.ok(!isValidName(bad), bad);
    }
  });
  test('tags', () => {
    for (const ok of ['latest', 'v1.0', '_x', 'A-b_c.d', 'x'.repeat(128)]) assert.ok(isValidTag(ok), ok);
    for (const bad of ['', '-x', '.x', 'a:b', 'a/b', 'x'.repeat(129)]) assert.ok(!isValidTag(bad), bad);
  });
  test('digests', () => {
    assert.deepEqual(checkDigest(D), { algorithm: 'sha256', hex: 'a'.repeat(64) });
    assert.equal(checkDigest(`sha512:${'b'.repeat(128)}`).algorithm, 'sha512');
    for (const bad of ['sha256:abc', `sha256:${'A'.repeat(64)}`, `md5:${'a'.repeat(32)}`, 'nocolon']) {
      assert.equal(
        code(() => checkDigest(bad)),
        'DIGEST_INVALID',
      );
    }
  });
});

describe('routes', () => {
  test('each endpoint, with names that contain slashes and route words', () => {
    assert.deepEqual(matchRoute('/v2/'), { kind: 'base' });
    assert.deepEqual(matchRoute('/v2'), { kind: 'base' });
    assert.deepEqual(matchRoute('/v2/_catalog'), { kind: 'catalog' });
    assert.deepEqual(matchRoute('/v2/a/b/tags/list'), { kind: 'tags', name: 'a/b' });
    assert.deepEqual(matchRoute('/v2/a/manifests/v1'), { kind: 'manifest', name: 'a', ref: 'v1' });
    assert.deepEqual(matchRoute(`/v2/a/manifests/${D}`), { kind: 'manifest', name: 'a', ref: D });
    assert.deepEqual(matchRoute(`/v2/a/manifests/${D.replace(':', '%3A')}`), {
      kind: 'manifest',
      name: 'a',
      ref: D,
    });
    assert.deepEqual(matchRoute('/v2/a/blobs/uploads/'), { kind: 'uploadStart', name: 'a' });
    assert.deepEqual(matchRoute('/v2/a/blobs/uploads'), { kind: 'uploadStart', name: 'a' });
    assert.deepEqual(matchRoute('/v2/a/blobs/uploads/u1'), { kind: 'upload', name: 'a', id: 'u1' });
    assert.deepEqual(matchRoute(`/v2/x/blobs/${D}`), { kind: 'blob', name: 'x', digest: D });
    assert.deepEqual(matchRoute('/v2/blobs/blobs/uploads/'), { kind: 'uploadStart', name: 'blobs' });
    assert.deepEqual(matchRoute(`/v2/m/manifests/x/referrers/${D}`), {
      kind: 'referrers',
      name: 'm/manifests/x',
      digest: D,
    });
    assert.deepEqual(matchRoute('/token'), { kind: 'token' });
    assert.deepEqual(matchRoute('/healthz'), { kind: 'health' });
    assert.equal(matchRoute('/v1/'), null);
    assert.equal(matchRoute('/v2/a'), null);
    assert.equal(matchRoute('/v2/%E0%A4%A/tags/list'), null);
  });
});

describe('ranges', () => {
  test('single ranges, suffix and open ranges', () => {
    assert.equal(parseRange(undefined, 10), null);
    assert.deepEqual(parseRange('bytes=0-3', 10), { start: 0, end: 3 });
    assert.deepEqual(parseRange('bytes=5-', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRange('bytes=-3', 10), { start: 7, end: 9 });
    assert.deepEqual(parseRange('bytes=-30', 10), { start: 0, end: 9 });
    assert.deepEqual(parseRange('bytes=8-100', 10), { start: 8, end: 9 });
  });
  test('unsatisfiable → 416; unparseable or multi-range → whole blob', () => {
    for (const h of ['bytes=10-', 'bytes=10-20', 'bytes=-0'])
      assert.equal(
        code(() => parseRange(h, 10)),
        'RANGE_INVALID',
      );
    assert.equal(
      code(() => parseRange('bytes=0-', 0)),
      'RANGE_INVALID',
    );
    for (const h of ['bytes=0-1,3-4', 'items=0-1', 'bytes=5-2', 'bytes=-'])
      assert.equal(parseRange(h, 10), null);
  });
});

describe('pagination', () => {
  const items = ['a', 'b', 'c', 'd'];
  test('n and last, Link to the next page', () => {
    assert.deepEqual(paginate(items, new URLSearchParams(), '/p'), { page: items });
    assert.deepEqual(paginate(items, new URLSearchParams('n=3'), '/p'), {
      page: ['a', 'b', 'c'],
      link: '</p?n=3&last=c>; rel="next"',
    });
    assert.deepEqual(paginate(items, new URLSearchParams('n=3&last=c'), '/p'), { page: ['d'] });
    assert.deepEqual(paginate(items, new URLSearchParams('last=b'), '/p'), { page: ['c', 'd'] });
    assert.deepEqual(paginate(items, new URLSearchParams('n=0'), '/p'), { page: [] });
    assert.equal(
      code(() => paginate(items, new URLSearchParams('n=-1'), '/p')),
      'UNSUPPORTED',
    );
  });
});

describe('manifests', () => {
  const desc = (mediaType: string, size = 1) => ({ mediaType, digest: D, size });
  const image = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: desc('application/vnd.oci.image.config.v1+json'),
    layers: [
      desc('application/vnd.oci.image.layer.v1.tar+gzip'),
      { ...desc('foreign'), urls: ['https://x'] },
    ],
  };
  const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));

  test('an image manifest: config and non-foreign layers must exist; artifactType from config', () => {
    const p = parseManifest(bytes(image), OCI_MANIFEST);
    assert.equal(p.mediaType, OCI_MANIFEST);
    assert.equal(p.blobs.length, 2);
    assert.equal(p.artifactType, 'application/vnd.oci.image.config.v1+json');
    assert.deepEqual(p.manifests, []);
  });
  test('media type from the body when Content-Type is generic, or from the shape', () => {
    assert.equal(parseManifest(bytes(image), 'application/json').mediaType, OCI_MANIFEST);
    const { mediaType: _m, ...bare } = image;
    assert.equal(parseManifest(bytes(bare), undefined).mediaType, OCI_MANIFEST);
    const index = { schemaVersion: 2, manifests: [desc(OCI_MANIFEST)] };
    const p = parseManifest(bytes(index), undefined);
    assert.equal(p.mediaType, OCI_INDEX);
    assert.equal(p.manifests.length, 1);
    const list = { schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [] };
    assert.equal(parseManifest(bytes(list), `${DOCKER_LIST}; charset=utf-8`).mediaType, DOCKER_LIST);
  });
  test('subject and annotations are kept', () => {
    const p = parseManifest(
      bytes({ ...image, subject: desc(OCI_MANIFEST, 5), annotations: { a: 'b' } }),
      OCI_MANIFEST,
    );
    assert.equal(p.subject?.size, 5);
    assert.deepEqual(p.annotations, { a: 'b' });
  });
  test('invalid manifests name the problem', () => {
    const bad: [unknown, string][] = [
      [{ ...image, schemaVersion: 1 }, 'schemaVersion'],
      [{ ...image, config: undefined }, 'config'],
      [{ ...image, layers: [{ mediaType: 'x', digest: D }] }, 'layers[0].size'],
      [{ ...image, layers: [{ mediaType: 'x', digest: 'sha256:1', size: 1 }] }, 'layers[0].digest'],
      [{ ...image, layers: [{ ...desc('x'), urls: 'u' }] }, 'layers[0].urls'],
      [{ ...image, mediaType: 'text/plain' }, 'mediaType'],
      [{ schemaVersion: 2, mediaType: OCI_INDEX, manifests: {} }, 'manifests'],
    ];
    for (const [doc, path] of bad) {
      try {
        parseManifest(bytes(doc), undefined);
        assert.fail(`accepted ${JSON.stringify(doc)}`);
      } catch (err) {
        assert.ok(err instanceof RegistryError);
        assert.equal(err.code, 'MANIFEST_INVALID');
        assert.match(err.message, new RegExp(path.replace(/[[\]]/g, '\\$&')));
      }
    }
    assert.equal(
      code(() => parseManifest(Buffer.from('{'), OCI_MANIFEST)),
      'MANIFEST_INVALID',
    );
    assert.equal(
      code(() => parseManifest(bytes(image), 'application/vnd.docker.distribution.manifest.v2+json')),
      'MANIFEST_INVALID',
    );
  });
  test('Accept negotiation', () => {
    assert.ok(accepts(undefined, OCI_MANIFEST));
    assert.ok(accepts('*/*', OCI_MANIFEST));
    assert.ok(accepts(`${DOCKER_LIST}, ${OCI_MANIFEST};q=0.5`, OCI_MANIFEST));
    assert.ok(accepts('application/*', OCI_MANIFEST));
    assert.ok(!accepts(DOCKER_LIST, OCI_MANIFEST));
  });
});
