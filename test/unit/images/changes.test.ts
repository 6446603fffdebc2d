import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyChanges } from '../../../src/images/index.js';

test('Dockerfile-style changes update a config', () => {
  const cfg = applyChanges({ Env: ['PATH=/bin', 'A=1'], Labels: { keep: 'me' } }, [
    'CMD ["sh", "-c", "echo hi"]',
    'ENTRYPOINT /docker-entrypoint.sh',
    'ENV A=2 B="two words"',
    'ENV LEGACY value with spaces',
    'LABEL version=1.0 "quoted key"=v',
    'EXPOSE 80 53/udp',
    'VOLUME /data /logs',
    'USER 1000:1000',
    'WORKDIR /app',
    'STOPSIGNAL SIGINT',
    'onbuild RUN make',
  ]);
  assert.deepEqual(cfg.Cmd, ['sh', '-c', 'echo hi']);
  assert.deepEqual(cfg.Entrypoint, ['/bin/sh', '-c', '/docker-entrypoint.sh']);
  assert.deepEqual(cfg.Env, ['PATH=/bin', 'A=2', 'B=two words', 'LEGACY=value with spaces']);
  assert.deepEqual(cfg.Labels, { keep: 'me', version: '1.0', 'quoted key': 'v' });
  assert.deepEqual(cfg.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(cfg.Volumes, { '/data': {}, '/logs': {} });
  assert.equal(cfg.User, '1000:1000');
  assert.equal(cfg.WorkingDir, '/app');
  assert.equal(cfg.StopSignal, 'SIGINT');
  assert.deepEqual(cfg.OnBuild, ['RUN make']);
});

test('bad changes are rejected with 400', () => {
  for (const [line, msg] of [
    ['RUN echo', /RUN is not a valid change command/],
    ['FROM busybox', /FROM is not a valid change command/],
    ['EXPOSE eighty', /invalid port in EXPOSE: "eighty"/],
    ['ENV ONLYKEY', /ENV requires a value/],
  ] as const) {
    assert.throws(
      () => applyChanges({}, [line]),
      (err: Error & { status: number }) => {
        assert.equal(err.status, 400);
        assert.match(err.message, msg);
        return true;
      },
    );
  }
});
