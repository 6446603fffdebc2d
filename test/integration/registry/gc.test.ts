// Garbage collection over a storage root filled through the HTTP API, and the CLI around the server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { garbageCollect } from '../../../src/registry/index.js';
import { tempDir } from '../../helpers/index.js';
import {
  digestOf,
  listFiles,
  makeImage,
  OCI_MANIFEST,
  pushBlob,
  putManifest,
  req,
  startTestRegistry,
} from './helpers.js';

test('gc sweeps unreferenced blobs; --delete-untagged also drops untagged manifests', async () => {
  const t = await startTestRegistry();
  try {
    const tagged = await makeImage(t.url, 'app', 'tagged');
    assert.equal((await putManifest(t.url, 'app', 'v1', tagged.bytes)).status, 201);
    const untagged = await makeImage(t.url, 'app', 'untagged');
    assert.equal((await putManifest(t.url, 'app', untagged.digest, untagged.bytes)).status, 201);
    // A signature (untagged referrer) of the tagged image stays as long as its subject does.
    const empty = await pushBlob(t.url, 'app', '{}');
    const sig = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty, size: 2 },
      layers: [],
      subject: { mediaType: OCI_MANIFEST, digest: tagged.digest, size: tagged.bytes.length },
    };
    const sigBytes = Buffer.from(JSON.stringify(sig));
    assert.equal((await putManifest(t.url, 'app', digestOf(sigBytes), sigBytes)).status, 201);
    const orphan = await pushBlob(t.url, 'app', 'orphan layer nobody references');

    const dry = await garbageCollect(t.root, { dryRun: true });
    assert.deepEqual(
      dry.blobsDeleted.map((b) => b.digest),
      [orphan],
    );
    assert.ok(listFiles(t.root).includes(`blobs/sha256/${orphan.slice(7)}`), 'dry run deletes nothing');

    const real = await garbageCollect(t.root);
    assert.deepEqual(real.blobsDeleted, [{ digest: orphan, size: 30 }]);
    assert.equal(real.bytesFreed, 30);
    assert.ok(!listFiles(t.root).includes(`blobs/sha256/${orphan.slice(7)}`));
    assert.equal((await req(t.url, `/v2/app/blobs/${orphan}`)).code(), 'BLOB_UNKNOWN');

    const strict = await garbageCollect(t.root, { deleteUntagged: true });
    assert.deepEqual(strict.manifestsDeleted, [{ repository: 'app', digest: untagged.digest }]);
    const gone = strict.blobsDeleted.map((b) => b.digest).sort();
    assert.deepEqual(gone, [untagged.config, untagged.layer, untagged.digest].sort());
    // The tagged image and its signature are intact.
    assert.equal((await req(t.url, '/v2/app/manifests/v1')).status, 200);
    assert.equal((await req(t.url, `/v2/app/blobs/${tagged.layer}`)).status, 200);
    assert.equal((await req(t.url, `/v2/app/manifests/${digestOf(sigBytes)}`)).status, 200);
    assert.equal((await req(t.url, `/v2/app/manifests/${untagged.digest}`)).code(), 'MANIFEST_UNKNOWN');
    const again = await garbageCollect(t.root, { deleteUntagged: true });
    assert.deepEqual([again.blobsDeleted, again.manifestsDeleted], [[], []]);
  } finally {
    await t.close();
  }
});

test('gc of an empty or missing root reports nothing', async () => {
  const dir = tempDir('berth-registry-gc-');
  try {
    const report = await garbageCollect(join(dir.path, 'none'));
    assert.deepEqual(report, {
      dryRun: false,
      manifestsDeleted: [],
      blobsDeleted: [],
      bytesFreed: 0,
      blobsKept: 0,
    });
  } finally {
    dir.cleanup();
  }
});

const CLI = `
import { Command } from 'commander';
import { register } from './src/cli/commands/registry.ts';
const program = new Command('berth');
register(program);
await program.parseAsync(JSON.parse(process.env.BERTH_TEST_ARGS), { from: 'user' });
`;

function runCli(args: string[]): { child: ReturnType<typeof spawn>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CLI], {
    cwd: join(import.meta.dirname, '../../..'),
    env: { ...process.env, BERTH_TEST_ARGS: JSON.stringify(args) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b));
  child.stderr!.on('data', (b: Buffer) => (out += b));
  return { child, output: () => out };
}

test('berth registry serve: config file, flags over it, graceful SIGTERM; berth registry gc prints', async () => {
  const dir = tempDir('berth-registry-cli-');
  try {
    const config = join(dir.path, 'config.yml');
    writeFileSync(
      config,
      `addr: 127.0.0.1:1\nroot: ${join(dir.path, 'root')}\nlimits:\n  maxBlobSize: 100\n`,
    );
    const serve = runCli(['registry', 'serve', '--config', config, '--addr', '127.0.0.1:0']);
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /listening on (http:\/\/[\d.:]+)/.exec(serve.output());
        if (m) {
          clearInterval(timer);
          resolve(m[1]!);
        }
      }, 50);
      serve.child.on('exit', (code) => {
        clearInterval(timer);
        reject(new Error(`serve exited ${code}: ${serve.output()}`));
      });
    });
    const r = await req(url, '/v2/');
    assert.equal(r.status, 200);
    const big = Buffer.alloc(200);
    const tooBig = await req(url, `/v2/x/blobs/uploads/?digest=${digestOf(big)}`, {
      method: 'POST',
      body: big,
    });
    assert.equal(tooBig.status, 413, 'limits from the config file apply');
    await pushBlob(url, 'x', 'stray');
    const exit = new Promise<number | null>((resolve) => serve.child.on('exit', (code) => resolve(code)));
    serve.child.kill('SIGTERM');
    assert.equal(await exit, 0);
    assert.match(serve.output(), /SIGTERM: shutting down/);

    const gc = runCli(['registry', 'gc', '--dry-run', '--root', join(dir.path, 'root')]);
    const gcExit = await new Promise<number | null>((resolve) => gc.child.on('exit', resolve));
    assert.equal(gcExit, 0, gc.output());
    assert.match(gc.output(), new RegExp(`would delete blob ${digestOf('stray')}`));
    assert.match(gc.output(), /0 manifests and 1 blobs would be deleted/);
  } finally {
    dir.cleanup();
  }
});
