// The berth CLI's container commands against a private berth daemon: output, exit codes and errors as the
// docker CLI gives them.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { berthArgv, haveCommand, isRoot, makeBusyboxRootfs, tempDir } from '../helpers/index.js';

const REPO = join(fileURLToPath(import.meta.url), '../../..');
const _MAIN = join(REPO, 'src/cli/main.ts');
const skip = !isRoot() || !haveCommand('runc') ? 'needs root and runc' : false;
const P = `bcc${Math.random().toString(16).slice(2, 6)}`;

let d: TestDaemon;
let dir: ReturnType<typeof tempDir>;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function berth(args: string[], input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...berthArgv(), ...args],
      { cwd: REPO, env: d.env, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

async function ok(args: string[]): Promise<string> {
  const r = await berth(args);
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  if (skip) return;
  d = await startTestDaemon();
  dir = tempDir();
  const rootfs = join(dir.path, 'rootfs');
  makeBusyboxRootfs(rootfs);
  execFileSync('tar', ['-C', rootfs, '-cf', join(dir.path, 'bb.tar'), '.']);
  for await (const _ of d.client.images.import(readFileSync(join(dir.path, 'bb.tar')), {
    repo: 'busybox',
    tag: 'latest',
    changes: ['CMD ["sh"]'],
  })) {
    // progress
  }
});

after(async () => {
  if (skip) return;
  await d.stop();
  dir.cleanup();
});

test('run: output, exit codes 0/3/127/126, --rm removes the container', { skip }, async () => {
  const before = (await d.client.containers.list({ all: true })).length;
  const hi = await berth(['run', '--rm', 'busybox', 'echo', 'hi']);
  assert.deepEqual([hi.code, hi.stdout], [0, 'hi\n']);
  const three = await berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.deepEqual([three.code, three.stdout, three.stderr], [3, 'out\n', 'err\n']);
  const missing = await berth(['run', '--rm', 'busybox', 'nonexist']);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /executable file not found/);
  assert.match(missing.stderr, /Run 'berth run --help' for more information/);
  const dirCmd = await berth(['run', '--rm', 'busybox', '/etc']);
  assert.equal(dirCmd.code, 126);
  assert.equal((await d.client.containers.list({ all: true })).length, before, 'no container left by --rm');
  // flags after the image belong to the command
  const flagsAfter = await berth(['run', '--rm', 'busybox', 'echo', '--rm', '-d']);
  assert.equal(flagsAfter.stdout, '--rm -d\n');
  const piped = await berth(['run', '--rm', '-i', 'busybox', 'cat'], 'from stdin\n');
  // stdin closed at once (before the daemon wires the container's streams)
  assert.equal((await berth(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; exit 6'], '')).code, 6);
  assert.equal(piped.stdout, 'from stdin\n');
  const onlyOut = await berth(['run', '--rm', '-a', 'stdout', 'busybox', 'sh', '-c', 'echo o; echo e >&2']);
  assert.deepEqual([onlyOut.stdout, onlyOut.stderr], ['o\n', '']);
});

test('run -d prints the id; --cidfile; name conflicts', { skip }, async () => {
  const cid = join(dir.path, 'cid');
  const out = await ok(['run', '-d', '--name', `${P}-d`, '--cidfile', cid, 'busybox', 'sleep', '300']);
  assert.match(out, /^[0-9a-f]{64}\n$/);
  assert.equal(readFileSync(cid, 'utf8'), out.trim());
  const again = await berth(['run', '-d', '--cidfile', cid, 'busybox', 'true']);
  assert.equal(again.code, 125);
  assert.match(again.stderr, /container ID file found/);
  const conflict = await berth(['run', '--name', `${P}-d`, 'busybox', 'true']);
  assert.equal(conflict.code, 125);
  assert.match(conflict.stderr, /^berth: Error response from daemon: Conflict\. The container name/);
  const createConflict = await berth(['create', '--name', `${P}-d`, 'busybox']);
  assert.equal(createConflict.code, 1);
  assert.match(createConflict.stderr, /^Error response from daemon: Conflict/);
  await ok(['rm', '-f', `${P}-d`]);
});

test('run: missing images, --pull, bad flags', { skip }, async () => {
  const never = await berth(['run', '--pull', 'never', `${P}-noimage`]);
  assert.equal(never.code, 125);
  assert.match(never.stderr, /No such image/);
  assert.doesNotMatch(never.stderr, /Unable to find image/);
  const missing = await berth(['run', `${P}-noimage:1`]);
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, new RegExp(`^Unable to find image '${P}-noimage:1' locally\n`));
  const badPull = await berth(['run', '--pull', 'sometimes', 'busybox']);
  assert.equal(badPull.code, 125);
  const unknown = await berth(['run', '--no-such-flag', 'busybox']);
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /^unknown flag: --no-such-flag\n/);
  const badPort = await berth(['run', '-p', '80/foo', 'busybox']);
  assert.equal(badPort.code, 125);
  assert.match(badPort.stderr, /invalid proto: foo/);
  const conflicting = await berth(['run', '--rm', '--restart', 'always', 'busybox']);
  assert.equal(conflicting.code, 125);
  const noImage = await berth(['run']);
  assert.equal(noImage.code, 1);
  assert.match(noImage.stderr, /'berth run' requires at least 1 argument/);
});

test('create, start -a, wait, logs', { skip }, async () => {
  const name = `${P}-sa`;
  const id = (
    await ok(['create', '--name', name, 'busybox', 'sh', '-c', 'echo one; echo two >&2; exit 5'])
  ).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const started = await berth(['start', '-a', name]);
  assert.deepEqual([started.code, started.stdout, started.stderr], [5, 'one\n', 'two\n']);
  assert.equal(await ok(['wait', name]), '5\n');
  const logs = await berth(['logs', name]);
  assert.deepEqual([logs.stdout, logs.stderr], ['one\n', 'two\n']);
  assert.equal((await berth(['logs', '--tail', '1', name])).stderr, 'two\n');
  const stamped = await ok(['logs', '-t', name]);
  assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z one\n$/);
  const startAgain = await berth(['start', name, `${P}-nope`]);
  assert.equal(startAgain.code, 1);
  assert.equal(startAgain.stdout, `${name}\n`);
  assert.match(
    startAgain.stderr,
    new RegExp(`No such container: ${P}-nope\nError: failed to start containers: ${P}-nope`),
  );
  await ok(['rm', '-f', name]);
});

test('ps: table, --format, filters, -q, -a, -n, --no-trunc', { skip }, async () => {
  const run = `${P}-ps1`;
  const stopped = `${P}-ps2`;
  const id = (await ok(['run', '-d', '--name', run, '-l', 'tier=web', 'busybox', 'sleep', '300'])).trim();
  await ok(['create', '--name', stopped, 'busybox', 'true']);
  const table = await ok(['ps']);
  assert.match(table.split('\n')[0]!, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
  assert.match(table, new RegExp(`${id.slice(0, 12)}\\s+busybox\\s+"sleep 300"\\s+.*Up .*${run}\\n`));
  assert.doesNotMatch(table, new RegExp(stopped));
  const all = await ok(['ps', '-a', '--format', '{{.Names}} {{.State}}', '--filter', `name=${P}-ps`]);
  assert.deepEqual(all.trim().split('\n').sort(), [`${run} running`, `${stopped} created`]);
  assert.equal(await ok(['ps', '-q', '--filter', 'label=tier=web']), `${id.slice(0, 12)}\n`);
  assert.equal(await ok(['ps', '-q', '--no-trunc', '--filter', `name=${run}`]), `${id}\n`);
  assert.equal(await ok(['ps', '-n', '1', '--format', '{{.Names}}']), `${stopped}\n`);
  assert.equal(await ok(['ps', '-l', '--format', '{{.Names}}']), `${stopped}\n`);
  assert.equal(
    await ok(['container', 'ls', '-a', '--filter', `name=${stopped}`, '--format', '{{.Names}}']),
    `${stopped}\n`,
  );
  const json = JSON.parse(await ok(['ps', '--filter', `name=${run}`, '--format', '{{json .}}'])) as {
    Names: string;
  };
  assert.equal(json.Names, run);
  const bad = await berth(['ps', '--filter', 'nonsense']);
  assert.equal(bad.code, 125);
  await ok(['rm', '-f', run, stopped]);
});

test('exec: exit codes, -e, -u, -w, -d, -i, errors', { skip }, async () => {
  const name = `${P}-ex`;
  await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '300']);
  assert.equal((await berth(['exec', name, 'sh', '-c', 'exit 4'])).code, 4);
  const env = await ok([
    'exec',
    '-e',
    'A=b',
    '-u',
    '1000',
    '-w',
    '/tmp',
    name,
    'sh',
    '-c',
    'echo $A; id -u; pwd',
  ]);
  assert.equal(env, 'b\n1000\n/tmp\n');
  assert.equal((await berth(['exec', '-i', name, 'cat'], 'piped\n')).stdout, 'piped\n');
  const missing = await berth(['exec', name, 'nonexist']);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /executable file not found/);
  assert.equal(await ok(['exec', '-d', name, 'sh', '-c', 'echo detached > /tmp/d']), '');
  // the detached exec finishes on its own
  let content = '';
  for (let i = 0; i < 20 && content !== 'detached\n'; i++) {
    content = (await berth(['exec', name, 'cat', '/tmp/d'])).stdout;
  }
  assert.equal(content, 'detached\n');
  const unknown = await berth(['exec', `${P}-nope`, 'true']);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr, `Error response from daemon: No such container: ${P}-nope\n`);
  const few = await berth(['exec', name]);
  assert.equal(few.code, 1);
  assert.match(few.stderr, /'berth exec' requires at least 2 arguments/);
  await ok(['stop', '-t', '0', name]);
  const stopped = await berth(['exec', name, 'true']);
  assert.equal(stopped.code, 1);
  assert.match(stopped.stderr, /^Error response from daemon: .*not running/);
  await ok(['rm', name]);
});

test('stop, kill, restart, pause, unpause, rename, rm: output and multi-target errors', {
  skip,
}, async () => {
  const a = `${P}-lc`;
  const b = `${P}-lc2`;
  await ok(['run', '-d', '--name', a, 'busybox', 'sleep', '300']);
  const state = async (n: string) => (await ok(['inspect', '--format', '{{.State.Status}}', n])).trim();
  assert.equal(await ok(['pause', a]), `${a}\n`);
  assert.equal(await state(a), 'paused');
  const unpauseTwice = await berth(['unpause', a, a]);
  assert.equal(unpauseTwice.stdout, `${a}\n`);
  assert.equal(unpauseTwice.code, 1);
  assert.match(unpauseTwice.stderr, /^Error response from daemon: .*is not paused/);
  assert.equal(await state(a), 'running');
  assert.equal(await ok(['restart', '-t', '0', a]), `${a}\n`);
  assert.equal(await state(a), 'running');
  assert.equal(await ok(['kill', '-s', 'KILL', a]), `${a}\n`);
  assert.equal(await state(a), 'exited');
  assert.equal(await ok(['inspect', '--format', '{{.State.ExitCode}}', a]), '137\n');
  assert.equal(await ok(['start', a]), `${a}\n`);
  const stop = await berth(['stop', '-t', '1', `${P}-nope`, a]);
  assert.equal(stop.code, 1);
  assert.equal(stop.stdout, `${a}\n`);
  assert.equal(stop.stderr, `Error response from daemon: No such container: ${P}-nope\n`);
  assert.equal((await berth(['stop', '-t', 'soon', a])).code, 125);
  await ok(['rename', a, b]);
  assert.equal(await ok(['inspect', '--format', '{{.Name}}', b]), `/${b}\n`);
  await ok(['create', '--name', a, 'busybox']);
  const clash = await berth(['rename', b, a]);
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, new RegExp(`Error: failed to rename container named ${b}\n$`));
  await ok(['start', b]);
  const running = await berth(['rm', b]);
  assert.equal(running.code, 1);
  assert.match(running.stderr, /^Error response from daemon: .*(running|stop the container)/i);
  const rm = await berth(['rm', '-f', b, `${P}-nope`, a]);
  assert.equal(rm.code, 1);
  assert.equal(rm.stdout, `${b}\n${a}\n`);
  assert.equal(rm.stderr, `Error response from daemon: No such container: ${P}-nope\n`);
});

test('inspect: containers, images and unknown objects', { skip }, async () => {
  const name = `${P}-in`;
  await ok(['create', '--name', name, '-e', 'X=1', 'busybox', 'true']);
  const parsed = JSON.parse(await ok(['inspect', name])) as { Name: string; Config: { Env: string[] } }[];
  assert.equal(parsed.length, 1);
  assert.equal(parsed[0]!.Name, `/${name}`);
  assert.ok(parsed[0]!.Config.Env.includes('X=1'));
  assert.equal(await ok(['inspect', '--format', '{{.Config.Image}}', name]), 'busybox\n');
  const image = JSON.parse(await ok(['inspect', 'busybox'])) as { RepoTags: string[] }[];
  assert.ok(image[0]!.RepoTags.includes('busybox:latest'));
  const unknown = await berth(['inspect', `${P}-nope`]);
  assert.deepEqual(
    [unknown.code, unknown.stdout, unknown.stderr],
    [1, '[]\n', `Error: No such object: ${P}-nope\n`],
  );
  const typed = await berth(['inspect', '--type', 'image', name]);
  assert.equal(typed.code, 1);
  assert.match(typed.stderr, /^Error response from daemon: No such image/);
  const group = await berth(['container', 'inspect', 'busybox']);
  assert.equal(group.code, 1);
  assert.match(group.stderr, /No such container: busybox/);
  const mixed = await berth(['inspect', '--format', '{{.Id}}', name, `${P}-nope`]);
  assert.equal(mixed.code, 1);
  assert.match(mixed.stdout, /^[0-9a-f]{64}\n$/);
  await ok(['rm', name]);
});

test('top, stats --no-stream, port', { skip }, async () => {
  const name = `${P}-tp`;
  const hostPort = 20000 + Math.floor(Math.random() * 20000);
  await ok(['run', '-d', '--name', name, '-p', `${hostPort}:80`, 'busybox', 'sleep', '300']);
  const top = await ok(['top', name]);
  assert.match(top.split('\n')[0]!, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
  assert.match(top, /sleep 300/);
  const stats = await ok(['stats', '--no-stream', name]);
  assert.match(
    stats.split('\n')[0]!,
    /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/,
  );
  assert.match(
    stats.split('\n')[1]!,
    new RegExp(`^[0-9a-f]{12}\\s+${name}\\s+\\d+\\.\\d\\d%\\s+\\S+ / \\S+\\s+`),
  );
  const formatted = await ok(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', name]);
  assert.equal(formatted, `${name} 1\n`);
  assert.equal(await ok(['port', name]), `80/tcp -> 0.0.0.0:${hostPort}\n`);
  assert.equal(await ok(['port', name, '80']), `0.0.0.0:${hostPort}\n`);
  const none = await berth(['port', name, '81']);
  assert.deepEqual([none.code, none.stderr], [1, `Error: No public port '81' published for ${name}\n`]);
  await ok(['stop', '-t', '0', name]);
  // a stopped container has no usage, as in docker (no error)
  assert.equal(
    await ok(['stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}', name]),
    `${name} 0.00% 0B / 0B 0\n`,
  );
  const stopped = await berth(['top', name]);
  assert.equal(stopped.code, 1);
  assert.match(stopped.stderr, /is not running/);
  const unknown = await berth(['stats', '--no-stream', `${P}-nope`]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /No such container/);
  await ok(['rm', name]);
});

test('container prune, container run', { skip }, async () => {
  const name = `${P}-pr`;
  const id = (await ok(['create', '--name', name, 'busybox', 'true'])).trim();
  const keep = `${P}-keep`;
  await ok(['run', '-d', '--name', keep, 'busybox', 'sleep', '300']);
  const pruned = await ok(['container', 'prune', '-f']);
  assert.match(
    pruned,
    new RegExp(`^Deleted Containers:\n(.*\n)*${id}\n(.*\n)*\nTotal reclaimed space: \\S+\n$`),
  );
  assert.doesNotMatch(pruned, new RegExp(keep));
  assert.equal(await ok(['container', 'prune', '-f']), 'Total reclaimed space: 0B\n');
  assert.equal((await berth(['container', 'prune'], 'n\n')).stdout.includes('Are you sure'), true);
  const r = await berth(['container', 'run', '--rm', 'busybox', 'sh', '-c', 'exit 9']);
  assert.equal(r.code, 9);
  assert.equal(existsSync(join(dir.path, 'nothing')), false);
  await ok(['container', 'rm', '-f', keep]);
});

/** Runs berth under `script` (a pseudo-terminal), typing `input`; stdin stays open until berth exits. */
function berthInPty(args: string[], input: string): Promise<Result> {
  return new Promise((resolve) => {
    const command = [process.execPath, ...berthArgv(), ...args].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: REPO, env: d.env });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stdin.write(input);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code: code ?? 1, stdout: stdout.replace(/\r/g, ''), stderr: '' });
    });
  });
}

test('run -it and exec -it: a terminal in the container, exit codes through', {
  skip: skip || (!haveCommand('script') && 'needs script'),
}, async () => {
  const run = await berthInPty(['run', '-it', '--rm', 'busybox', 'sh'], 'tty\nexit 4\n');
  assert.equal(run.code, 4);
  assert.match(run.stdout, /\/dev\/pts\/\d+/);
  const name = `${P}-tty`;
  await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '300']);
  const exec = await berthInPty(['exec', '-it', name, 'sh'], 'echo in-$((2+3))\nexit 5\n');
  assert.equal(exec.code, 5);
  assert.match(exec.stdout, /in-5/);
  await ok(['rm', '-f', name]);
});
