import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { dependencyOrder, loadProject, serviceHash } from '../../../src/compose/index.js';
import { tempDir } from '../../helpers/index.js';

async function load(yaml: string) {
  const t = tempDir('berth-compose-graph-');
  try {
    writeFileSync(join(t.path, 'compose.yaml'), yaml);
    return (await loadProject({ workingDir: t.path, environment: { HOME: '/h' } })).project;
  } finally {
    t.cleanup();
  }
}

test('dependencyOrder puts dependencies first and can start from a subset', async () => {
  const p = await load(
    [
      'services:',
      '  web: {image: w, depends_on: [api, cache]}',
      '  api: {image: a, depends_on: {db: {condition: service_healthy}}}',
      '  db: {image: d}',
      '  cache: {image: c}',
      '  lone: {image: l}',
    ].join('\n'),
  );
  assert.deepEqual(dependencyOrder(p), ['db', 'api', 'cache', 'lone', 'web']);
  assert.deepEqual(dependencyOrder(p, ['api']), ['db', 'api']);
  assert.throws(() => dependencyOrder(p, ['nope']), /no such service: nope/);
});

test('serviceHash ignores scale, depends_on and build, and changes with the container config', async () => {
  const a = await load('services:\n  s: {image: x, environment: {A: "1"}}\n');
  const b = await load('services:\n  s: {image: x, environment: {A: "1"}, scale: 3, profiles: []}\n');
  const c = await load('services:\n  s: {image: x, environment: {A: "2"}}\n');
  const hash = (p: typeof a) => serviceHash(p.services.s as NonNullable<(typeof p.services)['s']>);
  assert.match(hash(a), /^[0-9a-f]{64}$/);
  assert.equal(hash(a), hash(b));
  assert.notEqual(hash(a), hash(c));
});
