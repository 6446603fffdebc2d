import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkAutoRemove,
  nextDelay,
  parseRestartPolicy,
  type RestartPolicy,
  shouldRestart,
  validateRestartPolicy,
} from '../../../src/containers/restart-policy.js';

const bad = (fn: () => unknown, message: string) =>
  assert.throws(fn, (err: Error & { status?: number }) => {
    assert.equal(err.status, 400);
    assert.equal(err.message, message);
    return true;
  });

test('parses the four policies', () => {
  assert.deepEqual(parseRestartPolicy(''), { Name: 'no', MaximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('no'), { Name: 'no', MaximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('always'), { Name: 'always', MaximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('unless-stopped'), { Name: 'unless-stopped', MaximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure'), { Name: 'on-failure', MaximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
});

test('bad policies give Docker errors', () => {
  bad(() => parseRestartPolicy(':3'), 'invalid restart policy format: no policy provided before colon');
  bad(
    () => parseRestartPolicy('on-failure:x'),
    'invalid restart policy format: maximum retry count must be an integer',
  );
  bad(
    () => parseRestartPolicy('always:3'),
    "invalid restart policy: maximum retry count can only be used with 'on-failure'",
  );
  bad(
    () => parseRestartPolicy('unless-stopped:-1'),
    "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative",
  );
  bad(
    () => parseRestartPolicy('on-failure:-2'),
    'invalid restart policy: maximum retry count cannot be negative',
  );
  bad(
    () => parseRestartPolicy('sometimes'),
    "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
  );
  bad(
    () => validateRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 1.5 }),
    'invalid restart policy: maximum retry count must be an integer',
  );
  assert.deepEqual(validateRestartPolicy({ Name: '', MaximumRetryCount: 0 }), {
    Name: '',
    MaximumRetryCount: 0,
  });
});

test('--rm conflicts with a restart policy', () => {
  bad(
    () => checkAutoRemove(parseRestartPolicy('always'), true, 'cli'),
    'conflicting options: cannot specify both --restart and --rm',
  );
  bad(
    () => checkAutoRemove(parseRestartPolicy('always'), true),
    "can't create 'AutoRemove' container with restart policy",
  );
  checkAutoRemove(parseRestartPolicy('no'), true);
  checkAutoRemove(parseRestartPolicy('always'), false);
});

test('on-failure:3 restarts exactly three times, and not on success', () => {
  const policy = parseRestartPolicy('on-failure:3');
  let count = 0;
  let delay = 0;
  const delays: number[] = [];
  for (;;) {
    const d = shouldRestart({
      policy,
      exitCode: 1,
      restartCount: count,
      stoppedByUser: false,
      previousDelayMs: delay,
    });
    if (!d.restart) break;
    count = d.restartCount;
    delay = d.delayMs;
    delays.push(d.delayMs);
  }
  assert.equal(count, 3);
  assert.deepEqual(delays, [100, 200, 400]);
  assert.equal(shouldRestart({ policy, exitCode: 0, restartCount: 0, stoppedByUser: false }).restart, false);
  const unlimited = parseRestartPolicy('on-failure');
  assert.equal(
    shouldRestart({ policy: unlimited, exitCode: 2, restartCount: 1000, stoppedByUser: false }).restart,
    true,
  );
});

test('always and unless-stopped restart on any exit; no never does', () => {
  for (const name of ['always', 'unless-stopped'] as const) {
    const policy: RestartPolicy = { Name: name, MaximumRetryCount: 0 };
    const d = shouldRestart({ policy, exitCode: 0, restartCount: 4, stoppedByUser: false });
    assert.deepEqual(d, { restart: true, delayMs: 100, restartCount: 5 });
  }
  assert.equal(
    shouldRestart({ policy: parseRestartPolicy('no'), exitCode: 1, restartCount: 0, stoppedByUser: false })
      .restart,
    false,
  );
  assert.equal(
    shouldRestart({
      policy: { Name: '', MaximumRetryCount: 0 },
      exitCode: 1,
      restartCount: 0,
      stoppedByUser: false,
    }).restart,
    false,
  );
});

test("a user's stop cancels restarts; at daemon start only 'always' comes back", () => {
  const input = (name: RestartPolicy['Name'], daemonStarting: boolean) => ({
    policy: { Name: name, MaximumRetryCount: 0 },
    exitCode: 137,
    restartCount: 0,
    stoppedByUser: true,
    daemonStarting,
  });
  assert.equal(shouldRestart(input('always', false)).restart, false);
  assert.equal(shouldRestart(input('unless-stopped', false)).restart, false);
  assert.equal(shouldRestart(input('on-failure', false)).restart, false);
  assert.deepEqual(shouldRestart(input('always', true)), { restart: true, delayMs: 0, restartCount: 1 });
  assert.equal(shouldRestart(input('unless-stopped', true)).restart, false);
  assert.equal(shouldRestart(input('on-failure', true)).restart, false);
  // Not stopped by the user: unless-stopped comes back at daemon start, at once.
  assert.deepEqual(shouldRestart({ ...input('unless-stopped', true), stoppedByUser: false }), {
    restart: true,
    delayMs: 0,
    restartCount: 1,
  });
});

test('back-off doubles, caps at one minute, resets after a 10 s run', () => {
  let d = 0;
  const seen: number[] = [];
  for (let i = 0; i < 12; i++) {
    d = nextDelay(d, 50);
    seen.push(d);
  }
  assert.deepEqual(seen.slice(0, 4), [100, 200, 400, 800]);
  assert.equal(seen[seen.length - 1], 60_000);
  assert.ok(seen.every((x) => x <= 60_000));
  assert.equal(nextDelay(60_000, 10_000), 100);
  assert.equal(nextDelay(60_000, 9_999), 60_000);
  const policy = parseRestartPolicy('always');
  assert.equal(
    shouldRestart({
      policy,
      exitCode: 1,
      restartCount: 9,
      stoppedByUser: false,
      previousDelayMs: 6400,
      ranForMs: 12_000,
    }).delayMs,
    100,
  );
});
