// Manifests, tags, referrers and the catalog against a real server, with the spec's error codes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  digestOf,
  listFiles,
  makeImage,
  OCI_INDEX,
  OCI_MANIFEST,
  pushBlob,
  putManifest,
  req,
  startTestRegistry,
  type TestRegistry,
} from './helpers.js';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

let t: TestRegistry;
before(async () => {
  t = await startTestRegistry({ limits: { maxManifestSize: 16 * 1024 } });
});
after(async () => {
  await t.close();
});

describe('manifests', () => {
  test('PUT by tag, GET and HEAD by tag and digest return the exact bytes', async () => {
    const img = await makeImage(t.url, 'img', 'a');
    // Unusual formatting on purpose: the registry must serve the bytes as pushed.
    const bytes = Buffer.from(JSON.stringify(img.manifest, null, 3));
    const digest = digestOf(bytes);
    const put = await putManifest(t.url, 'img', 'v1', bytes);
    assert.equal(put.status, 201, put.body.toString());
    assert.equal(put.headers.location, `/v2/img/manifests/${digest}`);
    assert.equal(put.headers['docker-content-digest'], digest);
    for (const ref of ['v1', digest]) {
      const get = await req(t.url, `/v2/img/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
      assert.equal(get.status, 200);
      assert.deepEqual(get.body, bytes);
      assert.equal(get.headers['content-type'], OCI_MANIFEST);
      assert.equal(get.headers['docker-content-digest'], digest);
      const head = await req(t.url, `/v2/img/manifests/${ref}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(bytes.length));
      assert.equal(head.body.length, 0);
    }
    // A client that accepts only Docker types does not get an OCI manifest.
    const neg = await req(t.url, '/v2/img/manifests/v1', { headers: { Accept: DOCKER_MANIFEST } });
    assert.equal(neg.status, 404);
    assert.equal(neg.code(), 'MANIFEST_UNKNOWN');
    const any = await req(t.url, '/v2/img/manifests/v1', { headers: { Accept: `${DOCKER_MANIFEST}, */*` } });
    assert.equal(any.status, 200);
  });

  test('PUT by digest, and a digest that does not match the body', async () => {
    const img = await makeImage(t.url, 'img', 'b');
    const ok = await putManifest(t.url, 'img', img.digest, img.bytes);
    assert.equal(ok.status, 201);
    const bad = await putManifest(t.url, 'img', digestOf('something else'), img.bytes);
    assert.equal(bad.status, 400);
    assert.equal(bad.code(), 'DIGEST_INVALID');
  });

  test('Docker schema 2 manifests and manifest lists', async () => {
    const img = await makeImage(t.url, 'docker', 'c');
    const m = { ...img.manifest, mediaType: DOCKER_MANIFEST };
    const bytes = Buffer.from(JSON.stringify(m));
    assert.equal((await putManifest(t.url, 'docker', 'v1', bytes, DOCKER_MANIFEST)).status, 201);
    const list = {
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [
        {
          mediaType: DOCKER_MANIFEST,
          digest: digestOf(bytes),
          size: bytes.length,
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
    };
    const put = await putManifest(t.url, 'docker', 'multi', JSON.stringify(list), DOCKER_LIST);
    assert.equal(put.status, 201);
    const get = await req(t.url, '/v2/docker/manifests/multi');
    assert.equal(get.headers['content-type'], DOCKER_LIST);
  });

  test('manifests naming missing blobs or manifests: MANIFEST_BLOB_UNKNOWN, nothing stored', async () => {
    const img = await makeImage(t.url, 'missing', 'd');
    const before = listFiles(t.root);
    const layers = [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf('ghost'), size: 5 },
    ];
    const m = { ...img.manifest, layers };
    const r = await putManifest(t.url, 'missing', 'v1', JSON.stringify(m));
    assert.equal(r.status, 400);
    assert.equal(r.code(), 'MANIFEST_BLOB_UNKNOWN');
    // The config exists in another repository only: still unknown here.
    const other = await makeImage(t.url, 'elsewhere', 'e');
    const foreign = await putManifest(t.url, 'missing', 'v2', other.bytes);
    assert.equal(foreign.code(), 'MANIFEST_BLOB_UNKNOWN');
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: digestOf('no manifest'), size: 10 }],
    };
    const idx = await putManifest(t.url, 'missing', 'idx', JSON.stringify(index), OCI_INDEX);
    assert.equal(idx.code(), 'MANIFEST_BLOB_UNKNOWN');
    const wrongSize = { ...img.manifest, layers: [{ ...(img.manifest.layers as object[])[0], size: 999 }] };
    assert.equal(
      (await putManifest(t.url, 'missing', 'v3', JSON.stringify(wrongSize))).code(),
      'MANIFEST_INVALID',
    );
    assert.deepEqual(
      listFiles(t.root).filter((f) => !f.startsWith('repositories/elsewhere') && !f.startsWith('blobs/')),
      before.filter((f) => !f.startsWith('blobs/')),
    );
    assert.ok(!listFiles(t.root).some((f) => f.startsWith('repositories/missing/_manifests')));
  });

  test('malformed manifests: MANIFEST_INVALID', async () => {
    const img = await makeImage(t.url, 'bad', 'f');
    const cases: [string, string | undefined][] = [
      ['{not json', OCI_MANIFEST],
      ['[]', OCI_MANIFEST],
      [JSON.stringify({ ...img.manifest, schemaVersion: 1 }), OCI_MANIFEST],
      [JSON.stringify({ ...img.manifest, layers: 'nope' }), OCI_MANIFEST],
      [
        JSON.stringify({ ...img.manifest, config: { digest: 'sha256:zz', size: 1, mediaType: 'x' } }),
        OCI_MANIFEST,
      ],
      [
        JSON.stringify({ ...img.manifest, config: { ...(img.manifest.config as object), size: -1 } }),
        OCI_MANIFEST,
      ],
      [JSON.stringify(img.manifest), DOCKER_MANIFEST], // mediaType field disagrees with Content-Type
      [
        JSON.stringify({
          ...img.manifest,
          mediaType: 'application/vnd.docker.distribution.manifest.v1+json',
        }),
        undefined,
      ],
      [JSON.stringify({ schemaVersion: 2 }), undefined],
    ];
    for (const [body, type] of cases) {
      const r = await req(t.url, '/v2/bad/manifests/v1', {
        method: 'PUT',
        body,
        headers: type ? { 'Content-Type': type } : {},
      });
      assert.equal(r.status, 400, `${body} → ${r.status}`);
      assert.equal(r.code(), 'MANIFEST_INVALID', body);
    }
    const badTag = await putManifest(t.url, 'bad', '-tag', img.bytes);
    assert.equal(badTag.code(), 'MANIFEST_INVALID');
    assert.ok(!listFiles(t.root).some((f) => f.startsWith('repositories/bad/_manifests')));
  });

  test('oversized manifests are refused with 413', async () => {
    const img = await makeImage(t.url, 'huge', 'g');
    const m = { ...img.manifest, annotations: { pad: 'x'.repeat(20 * 1024) } };
    const r = await putManifest(t.url, 'huge', 'v1', JSON.stringify(m));
    assert.equal(r.status, 413);
    assert.equal(r.code(), 'SIZE_INVALID');
  });

  test('unknown repositories and manifests', async () => {
    const r = await req(t.url, '/v2/ghost/manifests/latest');
    assert.equal(r.status, 404);
    assert.equal(r.code(), 'NAME_UNKNOWN');
    await makeImage(t.url, 'known', 'h');
    assert.equal((await req(t.url, '/v2/known/manifests/latest')).code(), 'MANIFEST_UNKNOWN');
    assert.equal((await req(t.url, `/v2/known/manifests/${digestOf('x')}`)).code(), 'MANIFEST_UNKNOWN');
    assert.equal((await req(t.url, '/v2/known/manifests/sha256:bad')).code(), 'DIGEST_INVALID');
  });

  test('DELETE by tag removes the tag; by digest removes the manifest and its tags', async () => {
    const img = await makeImage(t.url, 'rm', 'i');
    await putManifest(t.url, 'rm', 'a', img.bytes);
    await putManifest(t.url, 'rm', 'b', img.bytes);
    assert.equal((await req(t.url, '/v2/rm/manifests/a', { method: 'DELETE' })).status, 202);
    assert.equal((await req(t.url, '/v2/rm/manifests/a')).code(), 'MANIFEST_UNKNOWN');
    assert.equal((await req(t.url, '/v2/rm/manifests/b')).status, 200);
    assert.equal((await req(t.url, `/v2/rm/manifests/${img.digest}`, { method: 'DELETE' })).status, 202);
    assert.equal((await req(t.url, '/v2/rm/manifests/b')).code(), 'MANIFEST_UNKNOWN');
    assert.equal((await req(t.url, `/v2/rm/manifests/${img.digest}`)).code(), 'MANIFEST_UNKNOWN');
    const again = await req(t.url, `/v2/rm/manifests/${img.digest}`, { method: 'DELETE' });
    assert.equal(again.code(), 'MANIFEST_UNKNOWN');
  });
});

describe('tags and catalog', () => {
  test('tag list with pagination', async () => {
    const img = await makeImage(t.url, 'paged', 'j');
    for (const tag of ['e', 'a', 'c', 'b', 'd']) await putManifest(t.url, 'paged', tag, img.bytes);
    const all = await req(t.url, '/v2/paged/tags/list');
    assert.deepEqual(all.json(), { name: 'paged', tags: ['a', 'b', 'c', 'd', 'e'] });
    const p1 = await req(t.url, '/v2/paged/tags/list?n=2');
    assert.deepEqual((p1.json() as { tags: string[] }).tags, ['a', 'b']);
    assert.equal(p1.headers.link, '</v2/paged/tags/list?n=2&last=b>; rel="next"');
    const p2 = await req(t.url, '/v2/paged/tags/list?n=2&last=b');
    assert.deepEqual((p2.json() as { tags: string[] }).tags, ['c', 'd']);
    const p3 = await req(t.url, '/v2/paged/tags/list?n=2&last=d');
    assert.deepEqual((p3.json() as { tags: string[] }).tags, ['e']);
    assert.equal(p3.headers.link, undefined);
    assert.equal((await req(t.url, '/v2/paged/tags/list?n=abc')).status, 400);
    const unknown = await req(t.url, '/v2/nobody/tags/list');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.code(), 'NAME_UNKNOWN');
  });

  test('catalog with pagination lists nested repositories', async () => {
    await pushBlob(t.url, 'cat/one', 'x');
    await pushBlob(t.url, 'cat/one/two', 'y');
    const all = (await req(t.url, '/v2/_catalog')).json() as { repositories: string[] };
    assert.ok(all.repositories.includes('cat/one'));
    assert.ok(all.repositories.includes('cat/one/two'));
    assert.deepEqual([...all.repositories].sort(), all.repositories);
    const p1 = await req(t.url, '/v2/_catalog?n=1');
    assert.equal((p1.json() as { repositories: string[] }).repositories.length, 1);
    assert.match(String(p1.headers.link), /^<\/v2\/_catalog\?n=1&last=[^>]+>; rel="next"$/);
  });
});

describe('referrers', () => {
  test('a manifest with a subject is listed, filtered by artifactType', async () => {
    const img = await makeImage(t.url, 'signed', 'k');
    await putManifest(t.url, 'signed', 'v1', img.bytes);
    const empty = await pushBlob(t.url, 'signed', '{}');
    const sig = await pushBlob(t.url, 'signed', 'signature');
    const artifact = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.example.signature',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty, size: 2 },
      layers: [{ mediaType: 'application/octet-stream', digest: sig, size: 9 }],
      subject: { mediaType: OCI_MANIFEST, digest: img.digest, size: img.bytes.length },
      annotations: { 'org.example.kind': 'sig' },
    };
    const bytes = Buffer.from(JSON.stringify(artifact));
    const put = await putManifest(t.url, 'signed', digestOf(bytes), bytes);
    assert.equal(put.status, 201);
    assert.equal(put.headers['oci-subject'], img.digest);

    const r = await req(t.url, `/v2/signed/referrers/${img.digest}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], OCI_INDEX);
    assert.deepEqual(r.json(), {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        {
          mediaType: OCI_MANIFEST,
          digest: digestOf(bytes),
          size: bytes.length,
          artifactType: 'application/vnd.example.signature',
          annotations: { 'org.example.kind': 'sig' },
        },
      ],
    });
    const filtered = await req(
      t.url,
      `/v2/signed/referrers/${img.digest}?artifactType=application/vnd.example.sbom`,
    );
    assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual((filtered.json() as { manifests: unknown[] }).manifests, []);
    const none = await req(t.url, `/v2/signed/referrers/${digestOf('nothing')}`);
    assert.equal(none.status, 200);
    assert.deepEqual((none.json() as { manifests: unknown[] }).manifests, []);
    assert.equal((await req(t.url, '/v2/signed/referrers/bad')).code(), 'DIGEST_INVALID');

    // Deleting the referrer removes it from the list.
    await req(t.url, `/v2/signed/manifests/${digestOf(bytes)}`, { method: 'DELETE' });
    const after = await req(t.url, `/v2/signed/referrers/${img.digest}`);
    assert.deepEqual((after.json() as { manifests: unknown[] }).manifests, []);
  });

  test('a referrer may be pushed before its subject', async () => {
    const empty = await pushBlob(t.url, 'early', '{}');
    const m = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.example.config', digest: empty, size: 2 },
      layers: [],
      subject: { mediaType: OCI_MANIFEST, digest: digestOf('later'), size: 5 },
    };
    const put = await putManifest(t.url, 'early', 'sig', JSON.stringify(m));
    assert.equal(put.status, 201);
    const r = await req(t.url, `/v2/early/referrers/${digestOf('later')}`);
    const list = (r.json() as { manifests: { artifactType: string }[] }).manifests;
    assert.equal(list.length, 1);
    assert.equal(list[0]!.artifactType, 'application/vnd.example.config');
  });
});

describe('delete disabled', () => {
  test('DELETE answers 405 UNSUPPORTED', async () => {
    const t2 = await startTestRegistry({ deleteEnabled: false });
    try {
      const img = await makeImage(t2.url, 'keep', 'l');
      await putManifest(t2.url, 'keep', 'v1', img.bytes);
      const m = await req(t2.url, '/v2/keep/manifests/v1', { method: 'DELETE' });
      assert.equal(m.status, 405);
      assert.equal(m.code(), 'UNSUPPORTED');
      const b = await req(t2.url, `/v2/keep/blobs/${img.layer}`, { method: 'DELETE' });
      assert.equal(b.status, 405);
      assert.equal((await req(t2.url, '/v2/keep/manifests/v1')).status, 200);
    } finally {
      await t2.close();
    }
  });
});
