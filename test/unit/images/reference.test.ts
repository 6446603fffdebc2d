import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  familiarString,
  formatReference,
  parseNormalized,
  parseNormalizedTagged,
  parseReference,
} from '../../../src/images/index.js';

const H = 'a'.repeat(64);

test('normalises familiar names the way Docker does', () => {
  const cases: [string, string, string][] = [
    // input, canonical, familiar
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['user/app:v1', 'docker.io/user/app:v1', 'user/app:v1'],
    ['localhost:5000/a/b:t', 'localhost:5000/a/b:t', 'localhost:5000/a/b:t'],
    ['localhost/app', 'localhost/app:latest', 'localhost/app:latest'],
    ['example.com/ns/app', 'example.com/ns/app:latest', 'example.com/ns/app:latest'],
    ['[::1]:5000/app:x', '[::1]:5000/app:x', '[::1]:5000/app:x'],
    ['a-b__c.d/e', 'a-b__c.d/e:latest', 'a-b__c.d/e:latest'],
    [`busybox@sha256:${H}`, `docker.io/library/busybox@sha256:${H}`, `busybox@sha256:${H}`],
    [`busybox:1@sha256:${H}`, `docker.io/library/busybox:1@sha256:${H}`, `busybox:1@sha256:${H}`],
  ];
  for (const [input, canonical, familiar] of cases) {
    const ref = parseNormalizedTagged(input);
    assert.equal(formatReference(ref), canonical, input);
    assert.equal(familiarString(ref), familiar, input);
  }
});

test('rejects invalid references with Docker messages', () => {
  const cases: [string, string][] = [
    ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
    ['user/App:tag', 'invalid reference format: repository name (user/App) must be lowercase'],
    ['', 'invalid reference format'],
    ['busybox:', 'invalid reference format'],
    ['busy box', 'invalid reference format'],
    ['-busybox', 'invalid reference format'],
    ['busybox:tag@sha256:abc', 'invalid reference format'],
    [`busybox@sha256:${'g'.repeat(64)}`, 'invalid reference format'],
    ['a//b', 'invalid reference format'],
    ['busybox:' + 'x'.repeat(129), 'invalid reference format'],
    [H, `invalid repository name (${H}), cannot specify 64-byte hexadecimal strings`],
    [`${'a'.repeat(256)}`, 'invalid reference format: repository name must not be more than 255 characters'],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => parseNormalized(input),
      (err: Error & { status?: number }) => {
        assert.ok(err.message.startsWith(message.split(':')[0]!), `${input}: ${err.message}`);
        if (message !== 'invalid reference format') assert.equal(err.message, message, input);
        assert.equal(err.status, 400);
        return true;
      },
    );
  }
});

test('the raw parser keeps names unnormalised', () => {
  assert.deepEqual(parseReference('busybox'), { domain: '', path: 'busybox' });
  assert.deepEqual(parseReference('localhost:5000/a:t'), { domain: 'localhost:5000', path: 'a', tag: 't' });
  assert.throws(() => parseReference('UPPER'), /must be lowercase/);
});
