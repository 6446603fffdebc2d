import assert from 'node:assert/strict';
import { test } from 'node:test';
import { convertManifest, layerCompression, type Manifest, MediaType } from '../../../src/images/index.js';

const D = `sha256:${'1'.repeat(64)}`;

test('manifests convert between OCI and Docker schema 2 media types', () => {
  const oci: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: D, size: 1 },
    layers: [
      { mediaType: MediaType.OciLayerGzip, digest: D, size: 2 },
      { mediaType: MediaType.OciLayerZstd, digest: D, size: 3 },
    ],
  };
  const docker = convertManifest(oci, 'docker');
  assert.equal(docker.mediaType, MediaType.DockerManifest);
  assert.equal(docker.config.mediaType, MediaType.DockerConfig);
  assert.deepEqual(
    docker.layers.map((l) => l.mediaType),
    [MediaType.DockerLayerGzip, MediaType.OciLayerZstd],
  );
  assert.deepEqual(convertManifest(docker, 'oci'), oci);
});

test('layer compression follows the media type', () => {
  assert.equal(layerCompression(MediaType.DockerLayerGzip), 'gzip');
  assert.equal(layerCompression(MediaType.OciLayerGzip), 'gzip');
  assert.equal(layerCompression(MediaType.OciLayerZstd), 'zstd');
  assert.equal(layerCompression(MediaType.OciLayer), 'none');
});
