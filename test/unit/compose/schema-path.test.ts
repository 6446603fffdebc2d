// Where the Compose schema is found: $BERTH_COMPOSE_SCHEMA first, else the nearest specs folder; the build
// copies it into dist/specs/ so a built berth does not need the shared specs beside it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { findSchemaPath } from '../../../src/compose/loader/schema.js';

const REPO = join(import.meta.dirname, '../../..');

test('BERTH_COMPOSE_SCHEMA wins when it names a file; otherwise a specs folder above is found', () => {
  const found = findSchemaPath({});
  assert.ok(found && existsSync(found), `schema found: ${found}`);
  assert.match(found, /specs\/compose\/compose-spec\.json$/);
  const own = join(REPO, 'package.json');
  assert.equal(findSchemaPath({ BERTH_COMPOSE_SCHEMA: own }), own);
  assert.equal(findSchemaPath({ BERTH_COMPOSE_SCHEMA: '/nonexistent/schema.json' }), found);
});

const built = join(REPO, 'dist/cli/main.js');
test('the build ships the schema in dist/specs/', { skip: existsSync(built) ? false : 'not built' }, () => {
  const shipped = join(REPO, 'dist/specs/compose/compose-spec.json');
  assert.ok(existsSync(shipped), 'dist/specs/compose/compose-spec.json exists');
  const source = findSchemaPath({});
  assert.deepEqual(JSON.parse(readFileSync(shipped, 'utf8')), JSON.parse(readFileSync(source!, 'utf8')));
});
