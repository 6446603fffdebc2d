import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shellSplit } from '../../../src/compose/index.js';

test('shellSplit splits like go-shellwords', () => {
  assert.deepEqual(shellSplit('echo hello   world'), ['echo', 'hello', 'world']);
  assert.deepEqual(shellSplit(`sh -c 'echo "hi there"'`), ['sh', '-c', 'echo "hi there"']);
  assert.deepEqual(shellSplit('a "b c" d'), ['a', 'b c', 'd']);
  assert.deepEqual(shellSplit('a "b \\"c\\"" \\$x'), ['a', 'b "c"', '$x']);
  assert.deepEqual(shellSplit('a\\ b c'), ['a b', 'c']);
  assert.deepEqual(shellSplit('x "" y'), ['x', '', 'y']);
  assert.deepEqual(shellSplit("it''s"), ['its']);
  assert.deepEqual(shellSplit('  \t '), []);
  assert.deepEqual(shellSplit('$HOME'), ['$HOME']);
});

test('shellSplit rejects unclosed quotes and trailing backslashes', () => {
  assert.throws(() => shellSplit('echo "oops'), { status: 400, message: /unclosed "/ });
  assert.throws(() => shellSplit("echo 'oops"), /unclosed '/);
  assert.throws(() => shellSplit('echo \\'), /trailing backslash/);
});
