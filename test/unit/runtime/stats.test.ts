import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cgroupPids, readStats, top } from '../../../src/runtime/index.js';
import { isBerthError } from '../../../src/util/index.js';
import { tempDir } from '../../helpers/index.js';

function files(dir: string, entries: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(entries)) writeFileSync(join(dir, name), text);
}

test('readStats on a cgroup v2 tree', () => {
  const root = tempDir('berth-rt-cg2-');
  try {
    writeFileSync(join(root.path, 'cgroup.controllers'), 'cpu memory pids io\n');
    files(join(root.path, 'berth/c1'), {
      'cpu.stat':
        'usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 10\n',
      'memory.current': '1048576\n',
      'memory.max': 'max\n',
      'memory.stat': 'anon 4096\nfile 8192\n',
      'pids.current': '3\n',
      'pids.max': '100\n',
      'io.stat': '8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n',
      'cgroup.procs': '11\n12\n',
    });
    const first = readStats({ cgroupsPath: '/berth/c1', root: root.path, id: 'c1', name: 'web' });
    assert.equal(first.cpu_stats.cpu_usage.total_usage, 2_000_000);
    assert.equal(first.cpu_stats.cpu_usage.usage_in_usermode, 1_500_000);
    assert.deepEqual(first.cpu_stats.throttling_data, {
      periods: 4,
      throttled_periods: 1,
      throttled_time: 10_000,
    });
    assert.equal(first.memory_stats.usage, 1048576);
    assert.equal(first.memory_stats.limit, totalmem());
    assert.deepEqual(first.memory_stats.stats, { anon: 4096, file: 8192 });
    assert.deepEqual(first.pids_stats, { current: 3, limit: 100 });
    assert.deepEqual(first.blkio_stats.io_service_bytes_recursive, [
      { major: 8, minor: 0, op: 'read', value: 10 },
      { major: 8, minor: 0, op: 'write', value: 20 },
    ]);
    assert.equal(first.preread, '0001-01-01T00:00:00Z');
    assert.equal(first.name, '/web');
    const second = readStats({ cgroupsPath: '/berth/c1', root: root.path }, first);
    assert.equal(second.preread, first.read);
    assert.deepEqual(second.precpu_stats, first.cpu_stats);
    assert.deepEqual(cgroupPids('/berth/c1', root.path), [11, 12]);
    assert.throws(
      () => readStats({ cgroupsPath: '/berth/missing', root: root.path }),
      (e) => isBerthError(e) && e.status === 404,
    );
  } finally {
    root.cleanup();
  }
});

test('readStats on a cgroup v1 tree', () => {
  const root = tempDir('berth-rt-cg1-');
  try {
    files(join(root.path, 'cpuacct/berth/c1'), {
      'cpuacct.usage': '5000\n',
      'cpuacct.usage_percpu': '3000 2000 \n',
      'cpuacct.stat': 'user 10\nsystem 5\n',
    });
    files(join(root.path, 'cpu/berth/c1'), {
      'cpu.stat': 'nr_periods 2\nnr_throttled 0\nthrottled_time 0\n',
    });
    files(join(root.path, 'memory/berth/c1'), {
      'memory.usage_in_bytes': '4096\n',
      'memory.max_usage_in_bytes': '8192\n',
      'memory.failcnt': '0\n',
      'memory.limit_in_bytes': '67108864\n',
      'memory.stat': 'cache 0\nrss 4096\n',
    });
    files(join(root.path, 'pids/berth/c1'), {
      'pids.current': '1\n',
      'pids.max': 'max\n',
      'cgroup.procs': '42\n',
    });
    files(join(root.path, 'blkio/berth/c1'), {
      'blkio.throttle.io_service_bytes_recursive': '8:0 Read 100\n8:0 Write 200\n8:0 Total 300\nTotal 300\n',
      'blkio.throttle.io_serviced_recursive': '8:0 Read 1\n8:0 Write 2\n',
    });
    const s = readStats({ cgroupsPath: '/berth/c1', root: root.path });
    assert.equal(s.cpu_stats.cpu_usage.total_usage, 5000);
    assert.deepEqual(s.cpu_stats.cpu_usage.percpu_usage, [3000, 2000]);
    assert.equal(s.cpu_stats.cpu_usage.usage_in_usermode, 100_000_000);
    assert.deepEqual(
      [s.memory_stats.usage, s.memory_stats.max_usage, s.memory_stats.limit],
      [4096, 8192, Math.min(67108864, totalmem())],
    );
    assert.deepEqual(s.pids_stats, { current: 1, limit: undefined });
    assert.deepEqual(
      s.blkio_stats.io_service_bytes_recursive?.map((e) => [e.op, e.value]),
      [
        ['Read', 100],
        ['Write', 200],
      ],
    );
    assert.deepEqual(cgroupPids('/berth/c1', root.path), [42]);
    assert.throws(() => readStats({ cgroupsPath: '/nope', root: root.path }), /no cgroup/);
  } finally {
    root.cleanup();
  }
});

test('top keeps only the given pids and rejects odd ps arguments', async () => {
  const t = await top([process.pid]);
  assert.ok(t.Titles.includes('PID') && t.Titles.includes('CMD'));
  assert.equal(t.Processes.length, 1);
  assert.equal(t.Processes[0]![t.Titles.indexOf('PID')], String(process.pid));
  const custom = await top([process.pid], '-o pid,comm');
  assert.deepEqual(custom.Titles, ['PID', 'COMMAND']);
  await assert.rejects(top([1], '-ef; rm -rf /'), (e) => isBerthError(e) && e.status === 400);
  await assert.rejects(top([1], '-o comm'), /Couldn't find PID field/);
});
