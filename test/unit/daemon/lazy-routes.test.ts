// The daemon registers the builder's and the registry client's routes lazily from a list of its own:
// the list must name exactly the routes those modules register, or a request would 404 (or miss).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registerBuildRoutes } from '../../../src/api/routes/build.js';
import { registerDistributionRoutes } from '../../../src/api/routes/distribution.js';
import type { DaemonContext } from '../../../src/daemon/context.js';
import { LAZY_ROUTES, RecordingRouter } from '../../../src/daemon/daemon.js';
import { tempDir } from '../../helpers/index.js';

function context(dataRoot: string): DaemonContext {
  // Registration only stores handlers; none of these services is called here.
  return {
    config: { dataRoot, insecureRegistries: [] },
    images: { dataRoot },
    containers: {},
    events: { publish() {} },
  } as unknown as DaemonContext;
}

test('LAZY_ROUTES.build lists exactly the routes of api/routes/build.ts', () => {
  const t = tempDir('berth-lazy-');
  try {
    const r = new RecordingRouter();
    registerBuildRoutes(r, context(t.path));
    assert.deepEqual([...r.handlers.keys()].sort(), LAZY_ROUTES.build.map(([m, p]) => `${m} ${p}`).sort());
  } finally {
    t.cleanup();
  }
});

test('LAZY_ROUTES.distribution lists exactly the routes of api/routes/distribution.ts; it provides pull', () => {
  const t = tempDir('berth-lazy-');
  try {
    const r = new RecordingRouter();
    const ctx = context(t.path);
    registerDistributionRoutes(r, ctx);
    assert.deepEqual(
      [...r.handlers.keys()].sort(),
      LAZY_ROUTES.distribution.map(([m, p]) => `${m} ${p}`).sort(),
    );
    assert.equal(typeof ctx.pull, 'function');
  } finally {
    t.cleanup();
  }
});

test('RecordingRouter records instead of routing: nothing matches on it', () => {
  const r = new RecordingRouter();
  r.post('/build', () => ({ json: {} }));
  assert.equal(r.handlers.size, 1);
  assert.equal(r.match('POST', '/build'), undefined);
});
