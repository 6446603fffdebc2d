// [NETWORK, SLOW] `RUN apt-get update && apt-get install python3` in a berth build on the Debian test
// image: the RUN container reaches Debian's mirror through the bridge's outbound NAT. Needs the network
// (deb.debian.org) and takes a minute or two; skipped when the mirror does not answer or when
// BERTH_SKIP_NETWORK_TESTS is set. The Debian image is cached under /var/tmp/berth-test-cache.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestDaemon } from '../helpers/daemon.js';
import { debianImageTar } from '../helpers/debian-image.js';
import { berthArgv, haveCommand, isRoot, tempDir } from '../helpers/index.js';
import { DOCKER, daemonWithBusybox, runTool, writeContext } from '../integration/build/helpers.js';

function mirrorAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      'http://deb.debian.org/debian/dists/bookworm/Release',
      { method: 'HEAD', timeout: 5000 },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 400);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

const skip = !isRoot()
  ? 'needs root'
  : process.env.BERTH_SKIP_NETWORK_TESTS
    ? 'BERTH_SKIP_NETWORK_TESTS is set'
    : !haveCommand('runc') || !haveCommand('conmon') || !existsSync(DOCKER) || !existsSync('/bin/busybox')
      ? 'needs runc, conmon, the docker CLI and busybox-static'
      : !(await mirrorAnswers())
        ? 'deb.debian.org does not answer (network test)'
        : undefined;

describe('[network, slow] berth build with apt-get on Debian', { skip }, () => {
  let d: TestDaemon;
  const tmp = tempDir('berth-build-debian-');

  before(async () => {
    d = await daemonWithBusybox();
    const load = await runTool(DOCKER, ['load', '-i', await debianImageTar()], d.env);
    assert.equal(load.status, 0, load.stderr);
  });
  after(async () => {
    await d?.stop();
    tmp.cleanup();
  });

  test('RUN apt-get update && apt-get install python3 works through the bridge NAT', async () => {
    const dir = join(tmp.path, 'ctx');
    writeContext(dir, {
      Dockerfile: [
        'FROM debian:bookworm',
        'RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*',
        'CMD ["python3", "-c", "print(6 * 7)"]',
      ].join('\n'),
    });
    const r = await runTool(process.execPath, [...berthArgv(), 'build', '-t', 'bt-py:1', dir], d.env);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Setting up python3/);
    const run = await runTool(DOCKER, ['run', '--rm', 'bt-py:1'], d.env);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, '42\n');
  });
});
