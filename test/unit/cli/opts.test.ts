// create/run flags → the Engine API create body, and the errors bad flag values give.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import {
  addContainerOptions,
  buildCreateBody,
  type ContainerFlags,
  parseBytes,
  parseDurationNs,
  parseMountFlag,
  parsePublish,
  readKeyValueFile,
} from '../../../src/cli/opts/index.js';
import { tempDir } from '../../helpers/index.js';

/** Parses `args` as `berth run` would and builds the body. */
function body(args: string[]) {
  let result: { flags: ContainerFlags; image: string; command: string[] } | undefined;
  const cmd = addContainerOptions(new Command('run').argument('<image>').argument('[command...]'))
    .passThroughOptions()
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .action((image: string, command: string[], flags: ContainerFlags) => {
      result = { flags, image, command };
    });
  cmd.parse(args, { from: 'user' });
  assert.ok(result);
  return buildCreateBody(result.flags, result.image, result.command);
}

test('defaults match the docker CLI body', () => {
  const b = body(['busybox']);
  assert.equal(b.Image, 'busybox');
  assert.equal(b.Cmd, null);
  assert.equal(b.Entrypoint, null);
  assert.equal(b.AttachStdin, false);
  assert.equal(b.AttachStdout, true);
  assert.equal(b.AttachStderr, true);
  assert.equal(b.OpenStdin, false);
  assert.equal(b.Tty, false);
  assert.equal(b.HostConfig.NetworkMode, 'default');
  assert.deepEqual(b.HostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  assert.equal(b.HostConfig.AutoRemove, false);
});

test('flags after the image belong to the command', () => {
  const b = body(['--rm', 'busybox', 'sh', '-c', 'exit 3', '--rm']);
  assert.deepEqual(b.Cmd, ['sh', '-c', 'exit 3', '--rm']);
  assert.equal(b.HostConfig.AutoRemove, true);
});

test('-i -t -e -u -w -l --name --entrypoint', () => {
  const b = body([
    '-it',
    '-e',
    'A=1',
    '--env',
    'B=two=2',
    '-u',
    '1000:1000',
    '-w',
    '/tmp',
    '-l',
    'x=y',
    '--label',
    'flag',
    '--entrypoint',
    '/bin/sh',
    '-h',
    'box',
    'busybox',
  ]);
  assert.equal(b.Tty, true);
  assert.equal(b.OpenStdin, true);
  assert.equal(b.AttachStdin, true);
  assert.equal(b.StdinOnce, true);
  assert.deepEqual(b.Env, ['A=1', 'B=two=2']);
  assert.equal(b.User, '1000:1000');
  assert.equal(b.WorkingDir, '/tmp');
  assert.deepEqual(b.Labels, { x: 'y', flag: '' });
  assert.deepEqual(b.Entrypoint, ['/bin/sh']);
  assert.equal(b.Hostname, 'box');
});

test('-e NAME takes the value from our environment, or is passed bare', () => {
  process.env.BERTH_OPTS_TEST = 'from-env';
  delete process.env.BERTH_OPTS_MISSING;
  const b = body(['-e', 'BERTH_OPTS_TEST', '-e', 'BERTH_OPTS_MISSING', 'busybox']);
  assert.deepEqual(b.Env, ['BERTH_OPTS_TEST=from-env', 'BERTH_OPTS_MISSING']);
});

test('-a selects the attached streams', () => {
  const b = body(['-a', 'stdout', 'busybox']);
  assert.equal(b.AttachStdout, true);
  assert.equal(b.AttachStderr, false);
  assert.equal(b.AttachStdin, false);
  assert.throws(() => body(['-a', 'stdfoo', 'busybox']), /valid streams are STDIN, STDOUT and STDERR/);
});

test('-p and --expose fill ExposedPorts and PortBindings', () => {
  const b = body([
    '-p',
    '8080:80',
    '-p',
    '127.0.0.1::53/udp',
    '-p',
    '9000-9001:7000-7001',
    '--expose',
    '443',
    'x',
  ]);
  assert.deepEqual(Object.keys(b.ExposedPorts ?? {}).sort(), [
    '443/tcp',
    '53/udp',
    '7000/tcp',
    '7001/tcp',
    '80/tcp',
  ]);
  assert.deepEqual(b.HostConfig.PortBindings, {
    '80/tcp': [{ HostIp: '', HostPort: '8080' }],
    '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }],
    '7000/tcp': [{ HostIp: '', HostPort: '9000' }],
    '7001/tcp': [{ HostIp: '', HostPort: '9001' }],
  });
  assert.deepEqual(parsePublish(['[::1]:8080:80'], []).bindings, {
    '80/tcp': [{ HostIp: '::1', HostPort: '8080' }],
  });
});

test('bad -p specs are refused', () => {
  assert.throws(() => parsePublish(['80/foo'], []), /invalid proto: foo/);
  assert.throws(() => parsePublish(['1:2:3:4'], []), /invalid port format/);
  assert.throws(() => parsePublish(['70000'], []), /invalid containerPort/);
  assert.throws(() => parsePublish(['8080:'], []), /no port specified/);
  assert.throws(() => parsePublish(['1-3:1-2'], []), /invalid ranges/);
  assert.throws(() => parsePublish(['abc:80'], []), /invalid hostPort/);
  assert.throws(() => parsePublish([], ['x']), /invalid range format for --expose/);
});

test('resources: -m, --memory-swap, --cpus, --cpu-shares, --pids-limit, --shm-size, --ulimit', () => {
  const b = body([
    '-m',
    '512m',
    '--memory-swap',
    '-1',
    '--cpus',
    '1.5',
    '--cpu-shares',
    '512',
    '--pids-limit',
    '100',
    '--shm-size',
    '64m',
    '--ulimit',
    'nofile=1024:2048',
    '--ulimit',
    'nproc=10',
    'busybox',
  ]);
  assert.equal(b.HostConfig.Memory, 512 * 1024 * 1024);
  assert.equal(b.HostConfig.MemorySwap, -1);
  assert.equal(b.HostConfig.NanoCpus, 1_500_000_000);
  assert.equal(b.HostConfig.CpuShares, 512);
  assert.equal(b.HostConfig.PidsLimit, 100);
  assert.equal(b.HostConfig.ShmSize, 64 * 1024 * 1024);
  assert.deepEqual(b.HostConfig.Ulimits, [
    { Name: 'nofile', Soft: 1024, Hard: 2048 },
    { Name: 'nproc', Soft: 10, Hard: 10 },
  ]);
});

test('bad resource values are refused with docker-style messages', () => {
  assert.throws(() => body(['-m', 'lots', 'x']), /invalid memory: 'lots'/);
  assert.throws(() => body(['--cpus', 'abc', 'x']), /failed to parse abc as a rational number/);
  assert.throws(() => body(['--cpu-shares', '1.5', 'x']), /strconv.ParseInt: parsing "1.5"/);
  assert.throws(() => body(['--ulimit', 'nofile=10:5', 'x']), /soft limit must be less than or equal/);
  assert.throws(() => body(['--ulimit', 'nofile', 'x']), /invalid ulimit argument/);
  assert.throws(() => body(['--sysctl', 'net.x', 'x']), /sysctl 'net.x' is not allowed/);
});

test('restart policies, and --rm conflicts with --restart', () => {
  assert.deepEqual(body(['--restart', 'on-failure:3', 'x']).HostConfig.RestartPolicy, {
    Name: 'on-failure',
    MaximumRetryCount: 3,
  });
  assert.equal(body(['--restart', 'unless-stopped', 'x']).HostConfig.RestartPolicy?.Name, 'unless-stopped');
  assert.throws(() => body(['--restart', 'sometimes', 'x']), /unknown policy 'sometimes'/);
  assert.throws(() => body(['--restart', 'always:3', 'x']), /only be used with 'on-failure'/);
  assert.throws(() => body(['--restart', 'on-failure:x', 'x']), /must be an integer/);
  assert.throws(() => body(['--rm', '--restart', 'always', 'x']), /Conflicting options: --restart and --rm/);
});

test('--mount, -v, --tmpfs', () => {
  const b = body([
    '--mount',
    'type=bind,src=/a,dst=/b,readonly',
    '-v',
    'data:/data',
    '--tmpfs',
    '/run:size=1m',
    'x',
  ]);
  assert.deepEqual(b.HostConfig.Mounts, [{ Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true }]);
  assert.deepEqual(b.HostConfig.Binds, ['data:/data']);
  assert.deepEqual(b.HostConfig.Tmpfs, { '/run': 'size=1m' });
  assert.deepEqual(parseMountFlag('type=tmpfs,dst=/t,tmpfs-size=1k,tmpfs-mode=1777').TmpfsOptions, {
    SizeBytes: 1024,
    Mode: 0o1777,
  });
  assert.throws(() => parseMountFlag('type=nfs,dst=/x'), /unknown mount type: nfs/);
  assert.throws(() => parseMountFlag('type=bind,src=/a'), /target is required/);
  assert.throws(() => parseMountFlag('type=bind,dst=/a,colour=red'), /unexpected key 'colour'/);
});

test('--network, --ip and --network-alias go to the endpoint config', () => {
  const b = body(['--network', 'mynet', '--ip', '10.1.2.3', '--network-alias', 'db', 'x']);
  assert.equal(b.HostConfig.NetworkMode, 'mynet');
  assert.deepEqual(b.NetworkingConfig?.EndpointsConfig, {
    mynet: { Aliases: ['db'], IPAMConfig: { IPv4Address: '10.1.2.3' } },
  });
});

test('healthcheck flags', () => {
  const b = body(['--health-cmd', 'true', '--health-interval', '1m30s', '--health-retries', '3', 'x']);
  assert.deepEqual(b.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 90e9, Retries: 3 });
  assert.deepEqual(body(['--no-healthcheck', 'x']).Healthcheck, { Test: ['NONE'] });
  assert.throws(() => body(['--no-healthcheck', '--health-cmd', 'true', 'x']), /conflicts with --health-\*/);
  assert.throws(() => body(['--health-interval', 'soon', 'x']), /invalid duration "soon"/);
});

test('--env-file and --label-file read files as docker does', () => {
  const dir = tempDir();
  try {
    const env = join(dir.path, 'env');
    writeFileSync(env, '# comment\n\nA=1\n  B=2\nBERTH_OPTS_FILE\n');
    process.env.BERTH_OPTS_FILE = 'yes';
    assert.deepEqual(readKeyValueFile(env, true), ['A=1', 'B=2', 'BERTH_OPTS_FILE=yes']);
    const b = body(['--env-file', env, '-e', 'C=3', 'x']);
    assert.deepEqual(b.Env, ['A=1', 'B=2', 'BERTH_OPTS_FILE=yes', 'C=3']);
    const bad = join(dir.path, 'bad');
    writeFileSync(bad, 'MY VAR=1\n');
    assert.throws(() => readKeyValueFile(bad, true), /bad:1: variable 'MY VAR' contains whitespaces/);
    assert.throws(() => body(['--env-file', join(dir.path, 'nope'), 'x']), /no such file or directory/);
  } finally {
    dir.cleanup();
  }
});

test('units: sizes and durations', () => {
  assert.equal(parseBytes('1k'), 1024);
  assert.equal(parseBytes('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseBytes('10MB'), 10 * 1024 ** 2);
  assert.throws(() => parseBytes('-1'), /invalid size/);
  assert.equal(parseDurationNs('1m30s'), 90e9);
  assert.equal(parseDurationNs('500ms'), 5e8);
  assert.throws(() => parseDurationNs('5'), /invalid duration/);
});

test('unknown flags are refused by the parser', () => {
  assert.throws(() => body(['--no-such-flag', 'busybox']), /unknown option '--no-such-flag'/);
  assert.throws(() => body(['--name']), /argument missing/);
});
