// The pure parts of the COPY/ADD/RUN/FROM features: symbolic --chmod arithmetic, --parents pivots,
// --checksum parsing, --ssh specs and platform matching.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applySymbolicMode, compileChmod, parseSymbolicMode } from '../../../src/build/executor/chmod.js';
import { parentsPivot } from '../../../src/build/executor/copy.js';
import {
  checkBuildPlatforms,
  formatPlatform,
  parsePlatform,
  runsLocally,
} from '../../../src/build/executor/platform.js';
import { parseChecksum } from '../../../src/build/executor/remote.js';
import { checkSshForwards, parseSshSpecs } from '../../../src/build/executor/ssh.js';
import { parseDockerfile, resolveStages } from '../../../src/build/index.js';

const sym = (spec: string, mode: number, isDir = false) =>
  applySymbolicMode(parseSymbolicMode(spec), mode, isDir).toString(8);

test('symbolic chmod: set, add, remove, per class, no umask', () => {
  assert.equal(sym('u=rwx,g=rx,o=', 0o644), '750');
  assert.equal(sym('+x', 0o644), '755');
  assert.equal(sym('a+r', 0o600), '644');
  assert.equal(sym('go-w', 0o666), '644');
  assert.equal(sym('u-w', 0o644), '444');
  assert.equal(sym('=r', 0o755), '444');
  assert.equal(sym('o=', 0o777), '770');
  assert.equal(sym('u+x,g+x', 0o600), '710');
  // Several actions in one clause.
  assert.equal(sym('u=rw+x', 0o000), '700');
  assert.equal(sym('a=rw-w', 0o777), '444');
});

test('symbolic chmod: X, setuid/setgid, sticky, copying another class', () => {
  assert.equal(sym('a+X', 0o644), '644', 'a file without x gets no X');
  assert.equal(sym('a+X', 0o744), '755', 'a file with some x gets X');
  assert.equal(sym('a+X', 0o644, true), '755', 'directories always get X');
  assert.equal(sym('u+s', 0o755), '4755');
  assert.equal(sym('g+s', 0o755), '2755');
  assert.equal(sym('ug+s', 0o755), '6755');
  assert.equal(sym('+t', 0o777, true), '1777');
  assert.equal(sym('o+t', 0o755, true), '1755');
  assert.equal(sym('g=u', 0o740), '770');
  assert.equal(sym('o=g', 0o750), '755');
  assert.equal(sym('go=u', 0o700), '777');
  // `=` on a class clears its special bit on files, keeps it on directories.
  assert.equal(sym('u=rwx', 0o4755), '755');
  assert.equal(sym('g=rx', 0o2775, true), '2755');
});

test('compileChmod: octal replaces, symbolic applies to each mode, none keeps', () => {
  assert.equal(compileChmod({ octal: 0o640 })(0o755, false), 0o640);
  assert.equal(compileChmod({ symbolic: 'g+w' })(0o644, false), 0o664);
  assert.equal(compileChmod(undefined)(0o100644, false), 0o644);
});

test('symbolic chmod: bad input is a 400 naming the clause', () => {
  for (const bad of ['', 'u', 'u*x', 'z+x', 'u+q', '+x,', 'u=rwx,,g=r', '755x']) {
    assert.throws(
      () => parseSymbolicMode(bad),
      (err: Error & { status?: number }) => err.status === 400 && /invalid chmod parameter/.test(err.message),
      bad,
    );
  }
});

test('--parents pivot: the part before the first /./', () => {
  assert.equal(parentsPivot('./x/a.txt'), '');
  assert.equal(parentsPivot('x/a.txt'), '');
  assert.equal(parentsPivot('./x/./y/*.txt'), 'x');
  assert.equal(parentsPivot('/abs/dir/./sub/file'), 'abs/dir');
  assert.equal(parentsPivot('a/b/./c/./d'), 'a/b');
  assert.equal(parentsPivot('a/../b/./c'), 'b');
});

test('--checksum: sha256/384/512 digests parse; other forms are refused with the reason', () => {
  const hex = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
  assert.deepEqual(parseChecksum(`sha256:${hex}`), { algorithm: 'sha256', hex });
  assert.equal(parseChecksum(`sha512:${'a'.repeat(128)}`).algorithm, 'sha512');
  const where = { file: 'Dockerfile', line: 7 };
  assert.throws(
    () => parseChecksum(`sha256:${hex.slice(1)}`, where),
    /Dockerfile:7: .*64 hex digits, not 63/,
  );
  assert.throws(() => parseChecksum('be1f38e', where), /Dockerfile:7: .*git sources/);
  assert.throws(() => parseChecksum('md5:abc', where), /Dockerfile:7: .*invalid checksum digest format/);
  assert.throws(
    () => parseChecksum(`SHA256:${hex}`),
    (e: Error & { status?: number }) => e.status === 400,
  );
});

test('--ssh specs: bad ids, missing sockets, key files and non-sockets are refused', () => {
  assert.deepEqual(parseSshSpecs([]), {});
  assert.throws(() => parseSshSpecs(['bad id=/tmp/x']), /bad id/);
  assert.throws(() => parseSshSpecs(['default'], {}), /SSH_AUTH_SOCK is not set/);
  assert.throws(() => parseSshSpecs(['default=/nonexistent/agent.sock']), /does not exist/);
  assert.throws(() => parseSshSpecs(['default=/etc/hostname']), /is not a socket/);
  assert.throws(() => parseSshSpecs(['default=/a/key,/b/key']), /key files are not supported/);
  assert.deepEqual(checkSshForwards({ default: '/run/agent.sock' }), { default: '/run/agent.sock' });
  assert.throws(() => checkSshForwards(['x']), /expected a JSON object/);
  assert.throws(() => checkSshForwards({ default: 'relative.sock' }), /must be absolute/);
  assert.throws(() => checkSshForwards({ 'a b': '/x' }), /invalid ssh forward id/);
});

test('platforms: spellings normalize; only the local one runs', () => {
  const local = { os: 'linux', arch: 'amd64' };
  for (const p of [
    'linux/amd64',
    'linux',
    'amd64',
    'x86_64',
    'linux/x86_64',
    'LINUX/AMD64',
    'linux/amd64/v1',
  ])
    assert.equal(formatPlatform(parsePlatform(p, local)), 'linux/amd64', p);
  assert.equal(formatPlatform(parsePlatform('aarch64', local)), 'linux/arm64');
  assert.equal(formatPlatform(parsePlatform('linux/arm64/v8', local)), 'linux/arm64');
  assert.ok(runsLocally(parsePlatform('linux/amd64/v2', local), local));
  assert.ok(!runsLocally(parsePlatform('linux/amd64/v4', local), local));
  assert.ok(!runsLocally(parsePlatform('linux/arm64', local), local));
  assert.ok(!runsLocally(parsePlatform('windows/amd64', local), local));
  for (const bad of ['', 'linux//amd64', 'linux/amd64/v2/x', 'linux/am d64'])
    assert.throws(() => parsePlatform(bad, local), /invalid platform/, bad);
});

test('checkBuildPlatforms: only needed stages; the requested platform too', () => {
  const local = { os: 'linux', arch: 'amd64' };
  const df = parseDockerfile(
    'FROM --platform=linux/arm64 busybox AS other\nRUN true\n\nFROM --platform=$BUILDPLATFORM busybox\nRUN true\n',
  );
  const graph = resolveStages(df, { buildPlatform: 'linux/amd64' });
  assert.doesNotThrow(() => checkBuildPlatforms(graph, 'Dockerfile', undefined, local));
  assert.doesNotThrow(() => checkBuildPlatforms(graph, 'Dockerfile', 'linux/amd64', local));
  assert.throws(
    () => checkBuildPlatforms(resolveStages(df, { target: 'other' }), 'Dockerfile', undefined, local),
    /Dockerfile:1: FROM --platform=linux\/arm64: platform linux\/arm64 is not supported: .*linux\/amd64/,
  );
  assert.throws(
    () => checkBuildPlatforms(graph, 'Dockerfile', 'linux/s390x', local),
    (e: Error & { status?: number }) => e.status === 400 && /linux\/s390x is not supported/.test(e.message),
  );
});
