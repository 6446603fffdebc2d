import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runtimeError } from '../../../src/runtime/conmon.js';
import {
  containerPaths,
  crunUsable,
  parseSignal,
  pickRuntime,
  RuntimeError,
} from '../../../src/runtime/index.js';
import { isBerthError } from '../../../src/util/index.js';
import { haveCommand } from '../../helpers/index.js';

test('parseSignal accepts names, SIG names and numbers; rejects the rest', () => {
  assert.equal(parseSignal('KILL'), 9);
  assert.equal(parseSignal('sigterm'), 15);
  assert.equal(parseSignal('2'), 2);
  assert.equal(parseSignal(10), 10);
  for (const bad of ['NOPE', '0', '99', -1, 1.5, '']) {
    assert.throws(
      () => parseSignal(bad),
      (e) => isBerthError(e) && e.status === 400,
      String(bad),
    );
  }
});

test('runtime errors map to Docker exit codes', () => {
  const missing = runtimeError(
    'runc create failed: unable to start container process: exec: "x": executable file not found in $PATH\n',
  );
  assert.ok(missing instanceof RuntimeError);
  assert.deepEqual([missing.status, missing.exitCode], [400, 127]);
  assert.equal(
    missing.message,
    'unable to start container process: exec: "x": executable file not found in $PATH',
  );
  const denied = runtimeError(
    'runc create failed: unable to start container process: exec: "/x": permission denied',
  );
  assert.deepEqual([denied.status, denied.exitCode], [400, 126]);
  const other = runtimeError('something else broke');
  assert.deepEqual([other.status, other.exitCode], [500, 128]);
  assert.match(runtimeError('').message, /without a message/);
});

test('pickRuntime: runc by default, crun only where it can run, unknown paths rejected', {
  skip: !haveCommand('runc'),
}, () => {
  assert.match(pickRuntime(), /\/runc$/);
  if (crunUsable()) assert.match(pickRuntime('crun'), /crun$/);
  else
    assert.throws(
      () => pickRuntime('crun'),
      (e) => isBerthError(e) && e.status === 400,
    );
  assert.throws(
    () => pickRuntime('/no/such/runtime'),
    (e) => isBerthError(e) && e.status === 500,
  );
});

test('containerPaths lays out a container directory', () => {
  const p = containerPaths('/var/lib/berth/containers/abc');
  assert.equal(p.config, '/var/lib/berth/containers/abc/config.json');
  assert.equal(p.rootfs, '/var/lib/berth/containers/abc/rootfs');
  assert.equal(p.exitDir, '/var/lib/berth/containers/abc/exits');
  assert.equal(p.attach, '/var/lib/berth/containers/abc/attach');
  assert.equal(p.ctl, '/var/lib/berth/containers/abc/ctl');
});
