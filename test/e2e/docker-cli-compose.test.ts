// Debian's docker-compose 1.29 (docker-py underneath) against berth: version, up, ps, logs, down.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { haveCommand } from '../helpers/index.js';
import { type Suite, setUp, skipReason } from './docker-cli-lib.js';

const skip = skipReason() ?? (haveCommand('docker-compose') ? undefined : 'needs docker-compose');

describe('docker-compose 1.29 against berth', { skip, concurrency: false }, () => {
  let s: Suite;
  let dir: string;
  const compose = (args: string[]) => {
    const r = spawnSync('docker-compose', ['-p', 'e2eproj', ...args], {
      cwd: dir,
      env: { ...s.d.env, COMPOSE_INTERACTIVE_NO_CLI: '1' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  before(async () => {
    s = await setUp();
    dir = join(s.tmp, 'proj');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      [
        "version: '3.8'",
        'services:',
        '  web:',
        '    image: busybox',
        '    command: sh -c "echo web-up; sleep 300"',
        '    labels:',
        '      e2e: "1"',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await s?.close();
  });

  test('version reports the server', () => {
    const r = compose(['version']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /docker-compose version 1\.29/);
    const h = spawnSync('docker-compose', ['-H', s.d.host, 'ps'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env },
    });
    assert.equal(h.status, 0, h.stderr);
    assert.match(h.stdout, /Name\s+Command\s+State\s+Ports/);
  });

  test('up -d, ps, logs, down', () => {
    const up = compose(['up', '-d']);
    assert.equal(up.status, 0, up.stderr);
    const ps = compose(['ps']);
    assert.equal(ps.status, 0, ps.stderr);
    assert.match(ps.stdout, /e2eproj_web_1\s+sh -c echo web-up; sleep 300\s+Up/);
    assert.equal(
      s.ok(['inspect', '-f', '{{index .Config.Labels "com.docker.compose.service"}}', 'e2eproj_web_1']),
      'web',
    );
    const logs = compose(['logs', '--no-color', 'web']);
    assert.match(logs.stdout, /web-up/);
    const down = compose(['down', '-t', '1']);
    assert.equal(down.status, 0, down.stderr);
    assert.equal(s.ok(['ps', '-aq']), '');
    assert.deepEqual(s.ok(['network', 'ls', '--format', '{{.Name}}']).split('\n').sort(), [
      'bridge',
      'host',
      'none',
    ]);
  });
});
