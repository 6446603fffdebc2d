import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/images/index.js';

const D = `sha256:${'2'.repeat(64)}`;
const ok = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [D] } };

test('a valid config parses', () => {
  assert.deepEqual(validateConfig(Buffer.from(JSON.stringify(ok)), D).rootfs.diff_ids, [D]);
});

test('bad configs are rejected naming the JSON path', () => {
  const cases: [unknown, RegExp][] = [
    ['not json', /is not valid JSON/],
    [[], /\(root\) must be an object/],
    [{ ...ok, architecture: 1 }, /\.architecture must be a string/],
    [{ ...ok, os: undefined }, /\.os must be a string/],
    [{ ...ok, rootfs: undefined }, /\.rootfs is missing/],
    [{ ...ok, rootfs: { type: 'other', diff_ids: [] } }, /\.rootfs\.type must be "layers"/],
    [
      { ...ok, rootfs: { type: 'layers', diff_ids: [D, 'sha256:abc'] } },
      /\.rootfs\.diff_ids\[1\] is not a valid digest/,
    ],
    [{ ...ok, config: 'x' }, /\.config must be an object/],
    [{ ...ok, history: {} }, /\.history must be an array/],
  ];
  for (const [input, msg] of cases) {
    const bytes = Buffer.from(typeof input === 'string' ? input : JSON.stringify(input));
    assert.throws(
      () => validateConfig(bytes, D),
      (err: Error & { status: number }) => {
        assert.equal(err.status, 400);
        assert.match(err.message, msg);
        assert.ok(err.message.includes(D));
        return true;
      },
    );
  }
});
