// OciRuntime.start through runc's exec.fifo (no runc process): the state becomes "running", the fifo
// goes, a second start is refused, and a container whose init died before its start fails instead of
// hanging.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { containerPaths, generateSpec, OciRuntime, waitExit } from '../../../src/runtime/index.js';
import { randomId } from '../../../src/util/index.js';
import { haveCommand, isRoot, makeBusyboxRootfs, tempDir } from '../../helpers/index.js';

const skip =
  !isRoot() || !haveCommand('runc') || !haveCommand('conmon') ? 'needs root, runc and conmon' : false;
const STATE_ROOT = '/run/berth-test-start';
const rt = skip
  ? undefined
  : new OciRuntime({
      stateRoot: STATE_ROOT,
      socketDir: `${STATE_ROOT}-sockets`,
      execRoot: `${STATE_ROOT}-exec`,
    });
const made: { id: string; cleanup: () => void }[] = [];

after(async () => {
  for (const c of made) {
    await rt?.delete(c.id, { force: true }).catch(() => {});
    c.cleanup();
  }
});

async function created(args: string[]): Promise<{ id: string; dir: string; pid: number }> {
  const tmp = tempDir('berth-rt-start-');
  const id = `berthst-${randomId().slice(0, 12)}`;
  made.push({ id, cleanup: tmp.cleanup });
  const rootfs = containerPaths(tmp.path).rootfs;
  mkdirSync(rootfs, { recursive: true });
  makeBusyboxRootfs(rootfs);
  const spec = generateSpec({ id, rootfs, config: { Cmd: args }, hostConfig: {} });
  const { pid } = await rt!.create({ id, dir: tmp.path, spec });
  return { id, dir: tmp.path, pid };
}

test('start releases the created process through exec.fifo; the fifo is gone; a second start is refused', {
  skip,
}, async () => {
  const c = await created(['sh', '-c', 'echo started; sleep 30']);
  const fifo = join(STATE_ROOT, c.id, 'exec.fifo');
  assert.equal(existsSync(fifo), true, 'runc left the fifo for the start');
  assert.equal((await rt!.state(c.id))?.status, 'created');
  await rt!.start(c.id);
  assert.equal(existsSync(fifo), false);
  assert.equal((await rt!.state(c.id))?.status, 'running');
  // the process really runs its command
  let out = '';
  for (let i = 0; i < 100 && !out.includes('started'); i++) {
    await new Promise((r) => setTimeout(r, 50));
    out = readFileSync(containerPaths(c.dir).log, 'utf8');
  }
  assert.match(out, /started/);
  await assert.rejects(rt!.start(c.id), /cannot start|not in created state|already/i);
  await rt!.kill(c.id, 'SIGKILL');
  assert.equal((await waitExit(c.id, c.dir)).exitCode, 137);
});

test('a container whose init was killed before its start: start fails, does not hang', { skip }, async () => {
  const c = await created(['true']);
  process.kill(c.pid, 'SIGKILL');
  await waitExit(c.id, c.dir);
  await assert.rejects(rt!.start(c.id));
});

test('bad input: start of an unknown container is a 404, not a hang', { skip }, async () => {
  await assert.rejects(rt!.start('berthst-nosuchcontainer'), (err: Error & { status?: number }) => {
    assert.equal(err.status, 404);
    return true;
  });
});
