import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeJsonAtomic } from '../../../src/util/atomic.js';
import { tempDir } from '../../helpers/index.js';

test('writeJsonAtomic replaces the file whole and leaves no temp file', async () => {
  const dir = tempDir();
  try {
    const path = join(dir.path, 'sub', 'record.json');
    await writeJsonAtomic(path, { a: 1 });
    await writeJsonAtomic(path, { a: 2 });
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { a: 2 });
    assert.deepEqual(readdirSync(join(dir.path, 'sub')), ['record.json']);
  } finally {
    dir.cleanup();
  }
});
