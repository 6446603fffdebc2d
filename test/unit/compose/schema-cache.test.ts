// The compiled Compose schema validator is cached on disk ($BERTH_CACHE_DIR): a later process validates
// with the cached code (same errors), and a damaged cache file is compiled over. Documents that passed are
// remembered by hash, so an unchanged file is not validated again; a failing one always is.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/index.js';

const LOADER = join(import.meta.dirname, '../../../src/compose/index.ts');
const TSX = import.meta.resolve('tsx');

/** Loads `yaml` in a fresh process (so nothing is compiled in memory yet); returns its output. */
function loadIn(cache: string, dir: string, yaml: string): string {
  writeFileSync(join(dir, 'compose.yaml'), yaml);
  const script = `const m = await import(${JSON.stringify(LOADER)});
try { const { project } = await m.loadProject({ workingDir: ${JSON.stringify(dir)} });
  console.log('ok', Object.keys(project.services).join(',')); }
catch (err) { console.log('error', err.message); }`;
  const r = spawnSync(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], {
    env: { ...process.env, BERTH_CACHE_DIR: cache },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('the schema validator is compiled once, cached, and the cached one gives the same answers', () => {
  const cache = tempDir('berth-schema-cache-');
  const dir = tempDir('berth-schema-proj-');
  try {
    const good = 'services:\n  web: { image: busybox }\n';
    const bad = 'services:\n  web: { image: busybox, bogus: 1 }\n';
    assert.equal(loadIn(cache.path, dir.path, good), 'ok web');
    const files = readdirSync(cache.path).filter((f) => f.endsWith('.cjs'));
    assert.equal(files.length, 1);
    assert.match(files[0] as string, /^compose-schema-[0-9a-f]{16}\.cjs$/);
    const passedFile = join(cache.path, readdirSync(cache.path).find((f) => f.startsWith('compose-valid-'))!);
    assert.match(readFileSync(passedFile, 'utf8'), /^[0-9a-f]{32}\n$/);
    const fresh = loadIn(cache.path, dir.path, bad);
    assert.match(fresh, /^error .*services\.web.*bogus/);
    // From the cache: the same answers.
    assert.equal(loadIn(cache.path, dir.path, good), 'ok web');
    assert.equal(loadIn(cache.path, dir.path, bad), fresh);
    // A damaged cache file: a document that passed before is not validated again (the file stays as it
    // is); a failing one is, and the validator is compiled over.
    const file = join(cache.path, files[0] as string);
    writeFileSync(file, 'this is not javascript {');
    assert.equal(loadIn(cache.path, dir.path, good), 'ok web');
    assert.equal(readFileSync(file, 'utf8'), 'this is not javascript {');
    assert.equal(loadIn(cache.path, dir.path, bad), fresh);
    assert.match(readFileSync(file, 'utf8'), /validate/);
    // The failing document was not remembered.
    assert.equal(readFileSync(passedFile, 'utf8').trim().split('\n').length, 1);
  } finally {
    cache.cleanup();
    dir.cleanup();
  }
});
