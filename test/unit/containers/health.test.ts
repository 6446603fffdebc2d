import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatGoDuration,
  type Health,
  HealthMonitor,
  type HealthStatus,
  healthcheckFromFlags,
  mergeHealthcheck,
  parseGoDuration,
  probeCommand,
  truncateOutput,
  validateHealthcheck,
} from '../../../src/containers/health.js';
import { run } from '../../../src/util/index.js';

const MS = 1_000_000;

/** A real probe: runs the command on the host through /bin/sh and reports its exit code and output. */
async function hostProbe(cmd: string[]): Promise<{ exitCode: number; output: string }> {
  const r = await run(cmd[0]!, cmd.slice(1));
  return { exitCode: r.code, output: r.stdout + r.stderr };
}

async function waitFor(cond: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a scheduled probe that succeeds turns starting into healthy and emits one status event', async () => {
  const statuses: HealthStatus[] = [];
  const m = new HealthMonitor({
    config: { Test: ['CMD-SHELL', 'echo ok; exit 0'], Interval: 5 * MS, Timeout: 5000 * MS },
    runProbe: hostProbe,
    onStatus: (s) => statuses.push(s),
  });
  assert.equal(m.health.Status, 'starting');
  m.start();
  await waitFor(() => m.health.Log.length >= 2, 'two probes');
  await m.stop();
  assert.deepEqual(statuses, ['healthy']);
  const h = m.health;
  assert.equal(h.Status, 'healthy');
  assert.equal(h.FailingStreak, 0);
  assert.equal(h.Log[0]!.ExitCode, 0);
  assert.equal(h.Log[0]!.Output, 'ok\n');
  assert.ok(Date.parse(h.Log[0]!.End) >= Date.parse(h.Log[0]!.Start));
});

test('failures reach unhealthy after Retries, a success resets the streak', async () => {
  // The probe reads a file the test flips: a real command with real exit codes.
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const dir = mkdtempSync('/tmp/berth-health-');
  try {
    writeFileSync(`${dir}/code`, '1');
    const events: Array<[HealthStatus, Health]> = [];
    const m = new HealthMonitor({
      config: { Test: ['CMD', '/bin/sh', '-c', `exit $(cat ${dir}/code)`], Interval: 2 * MS, Retries: 2 },
      runProbe: hostProbe,
      onStatus: (s, h) => events.push([s, h]),
    });
    m.start();
    await waitFor(() => m.health.Status === 'unhealthy', 'unhealthy');
    assert.ok(m.health.FailingStreak >= 2);
    assert.equal(events[0]![0], 'unhealthy');
    assert.equal(events[0]![1].FailingStreak, 2);
    writeFileSync(`${dir}/code`, '0');
    await waitFor(() => m.health.Status === 'healthy', 'healthy again');
    await m.stop();
    assert.equal(m.health.FailingStreak, 0);
    assert.deepEqual(
      events.map((e) => e[0]),
      ['unhealthy', 'healthy'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('start period: failures do not count, start-interval applies, a success ends it (fake clock)', async () => {
  let now = 1_000_000;
  let exitCode = 1;
  const m = new HealthMonitor({
    config: {
      Test: ['CMD', 'probe'],
      Interval: 30_000 * MS,
      StartPeriod: 60_000 * MS,
      StartInterval: 2_000 * MS,
      Retries: 1,
    },
    runProbe: async () => {
      await new Promise((r) => setImmediate(r));
      return { exitCode, output: `exit ${exitCode}` };
    },
    now: () => now,
    startedAt: now,
  });
  assert.equal(m.nextIntervalMs(), 2_000);
  await m.probeOnce();
  await m.probeOnce();
  assert.equal(m.health.Status, 'starting');
  assert.equal(m.health.FailingStreak, 0);
  exitCode = 0;
  await m.probeOnce();
  assert.equal(m.health.Status, 'healthy');
  assert.equal(m.nextIntervalMs(), 30_000, 'healthy inside the start period uses Interval');
  now += 45_000;
  assert.equal(m.nextIntervalMs(), 15_000, 'but not past the end of the start period');
  now -= 45_000;
  // After the start period, a failure counts (Retries 1 → unhealthy at once).
  now += 61_000;
  exitCode = 1;
  await m.probeOnce();
  assert.equal(m.health.Status, 'unhealthy');
  assert.equal(m.health.FailingStreak, 1);
  assert.equal(m.health.Log.length, 4);
});

test('still starting when the start period is over: failures count', async () => {
  let now = 0;
  const m = new HealthMonitor({
    config: { Test: ['CMD', 'x'], StartPeriod: 10 * 1000 * MS, Retries: 2 },
    runProbe: async () => ({ exitCode: 1, output: '' }),
    now: () => now,
    startedAt: 0,
  });
  await m.probeOnce();
  assert.equal(m.health.FailingStreak, 0);
  now = 10_000;
  assert.equal(m.nextIntervalMs(), 30_000);
  await m.probeOnce();
  await m.probeOnce();
  assert.equal(m.health.Status, 'unhealthy');
  assert.equal(m.health.FailingStreak, 2);
});

test('Log keeps the last 5 probes and output is cut at 4096 bytes', async () => {
  let i = 0;
  const m = new HealthMonitor({
    config: { Test: ['CMD', 'x'] },
    runProbe: async () => ({ exitCode: 0, output: `${i++}:${'y'.repeat(5000)}` }),
  });
  for (let k = 0; k < 7; k++) await m.probeOnce();
  const log = m.health.Log;
  assert.equal(log.length, 5);
  assert.ok(log[0]!.Output.startsWith('2:'));
  assert.ok(log[4]!.Output.startsWith('6:'));
  assert.equal(Buffer.byteLength(log[0]!.Output), 4096 + 3);
  assert.ok(log[0]!.Output.endsWith('...'));
  assert.equal(truncateOutput('short'), 'short');
});

test('a probe that overruns its timeout or fails to run records exit -1', async () => {
  const m = new HealthMonitor({
    config: { Test: ['CMD', 'sleep'], Timeout: 20 * MS, Retries: 1 },
    runProbe: () => new Promise((r) => setTimeout(() => r({ exitCode: 0, output: 'late' }), 2000).unref()),
  });
  await m.probeOnce();
  assert.equal(m.health.Log[0]!.ExitCode, -1);
  assert.equal(m.health.Log[0]!.Output, 'Health check exceeded timeout (20ms)');
  assert.equal(m.health.Status, 'unhealthy');
  const m2 = new HealthMonitor({
    config: { Test: ['CMD', 'nope'] },
    runProbe: async () => {
      throw new Error('exec failed: nope: not found');
    },
  });
  await m2.probeOnce();
  assert.deepEqual(
    { code: m2.health.Log[0]!.ExitCode, out: m2.health.Log[0]!.Output },
    { code: -1, out: 'exec failed: nope: not found' },
  );
});

test('stop() ends probing and discards a probe in flight', async () => {
  let calls = 0;
  let release: (() => void) | undefined;
  const m = new HealthMonitor({
    config: { Test: ['CMD', 'x'], Interval: 1 * MS },
    runProbe: () =>
      new Promise((r) => {
        calls++;
        release = () => r({ exitCode: 0, output: '' });
      }),
  });
  m.start();
  await waitFor(() => calls === 1, 'first probe');
  const stopped = m.stop();
  release!();
  await stopped;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(calls, 1);
  assert.equal(m.health.Log.length, 0);
  assert.equal(m.health.Status, 'starting');
});

test('NONE or no test disables the monitor', () => {
  for (const config of [{ Test: ['NONE'] }, { Test: [] }, {}]) {
    const m = new HealthMonitor({ config, runProbe: async () => ({ exitCode: 0, output: '' }) });
    assert.equal(m.enabled, false);
    m.start();
  }
});

test('probe commands: CMD, CMD-SHELL with default and custom shell', () => {
  assert.deepEqual(probeCommand({ Test: ['CMD', 'curl', '-f', 'http://x'] }), ['curl', '-f', 'http://x']);
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'curl -f x || exit 1'] }), [
    '/bin/sh',
    '-c',
    'curl -f x || exit 1',
  ]);
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'x'] }, ['/bin/bash', '-ec']), [
    '/bin/bash',
    '-ec',
    'x',
  ]);
  assert.equal(probeCommand({ Test: ['NONE'] }), undefined);
  assert.equal(probeCommand(undefined), undefined);
});

test('flags → config, merge over the image, and validation errors', () => {
  assert.equal(healthcheckFromFlags({}), undefined);
  assert.deepEqual(healthcheckFromFlags({ noHealthcheck: true }), { Test: ['NONE'] });
  assert.throws(() => healthcheckFromFlags({ noHealthcheck: true, retries: 2 }), {
    message: '--no-healthcheck conflicts with --health-* options',
  });
  assert.throws(() => healthcheckFromFlags({ interval: -1 }), {
    message: '--health-interval cannot be negative',
  });
  assert.throws(() => healthcheckFromFlags({ startInterval: -1 }), {
    message: '--health-start-interval cannot be negative',
  });
  const user = healthcheckFromFlags({ retries: 5 })!;
  assert.deepEqual(user.Test, []);
  const image = { Test: ['CMD', 'check'], Interval: 10_000 * MS, Retries: 2 };
  assert.deepEqual(mergeHealthcheck(image, user), {
    Test: ['CMD', 'check'],
    Interval: 10_000 * MS,
    Timeout: undefined,
    StartPeriod: undefined,
    StartInterval: undefined,
    Retries: 5,
  });
  assert.deepEqual(mergeHealthcheck(image, { Test: ['NONE'] })!.Test, ['NONE']);
  assert.deepEqual(mergeHealthcheck(image, undefined), image);
  assert.equal(mergeHealthcheck(undefined, undefined), undefined);
  assert.throws(() => validateHealthcheck({ Interval: 10 }), {
    message: 'Interval in Healthcheck cannot be less than 1ms',
  });
  assert.throws(() => validateHealthcheck({ StartInterval: 999 }), {
    message: 'StartInterval in Healthcheck cannot be less than 1ms',
  });
  assert.throws(() => validateHealthcheck({ Retries: -1 }), {
    message: 'Retries in Healthcheck cannot be negative',
  });
  assert.throws(() => validateHealthcheck({ Test: ['SHELL', 'x'] }), /unknown healthcheck type 'SHELL'/);
  validateHealthcheck({ Test: ['CMD', 'x'], Interval: 0 });
});

test('Go durations', () => {
  assert.equal(parseGoDuration('30s'), 30e9);
  assert.equal(parseGoDuration('1m30s'), 90e9);
  assert.equal(parseGoDuration('1.5s'), 1.5e9);
  assert.equal(parseGoDuration('100ms'), 100 * MS);
  assert.equal(parseGoDuration('-2s'), -2e9);
  assert.equal(parseGoDuration('0'), 0);
  assert.throws(() => parseGoDuration('10'), { message: 'time: invalid duration "10"' });
  assert.throws(() => parseGoDuration('abc'), /invalid duration/);
  assert.equal(formatGoDuration(30e9), '30s');
  assert.equal(formatGoDuration(90e9), '1m30s');
  assert.equal(formatGoDuration(3600e9), '1h0m0s');
  assert.equal(formatGoDuration(1.5e9), '1.5s');
  assert.equal(formatGoDuration(MS), '1ms');
});

test('the Log of the previous run is kept across a restart; status and streak start over', async () => {
  const m = new HealthMonitor({
    config: { Test: ['CMD', 'x'], Retries: 1 },
    runProbe: async () => ({ exitCode: 1, output: 'bad' }),
  });
  await m.probeOnce();
  assert.equal(m.health.Status, 'unhealthy');
  const next = new HealthMonitor({
    config: { Test: ['CMD', 'x'] },
    runProbe: async () => ({ exitCode: 0, output: 'ok' }),
    previous: m.health,
  });
  assert.deepEqual(
    { s: next.health.Status, f: next.health.FailingStreak, n: next.health.Log.length },
    { s: 'starting', f: 0, n: 1 },
  );
  await next.probeOnce();
  assert.deepEqual(
    next.health.Log.map((e) => e.Output),
    ['bad', 'ok'],
  );
});
