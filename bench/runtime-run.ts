// Container start-up cost through berth's runtime driver (generateSpec → conmon+runc create → start →
// wait for conmon's exit file → delete) for `true` in a busybox rootfs, next to `podman run --rm --rootfs`
// (the same conmon + runc stack) and bare `runc run` (the floor), in one run. Also reports the memory of
// an idle conmon monitoring a sleeping container.
//
//   node --import tsx bench/runtime-run.ts [--runs 20]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerPaths, generateSpec, OciRuntime, serializeSpec, waitExit } from '../src/runtime/index.js';
import { randomId } from '../src/util/index.js';
import { haveCommand, makeBusyboxRootfs, tempDir } from '../test/helpers/index.js';
import { median } from './stats.js';

const args = process.argv.slice(2);
const i = args.indexOf('--runs');
const RUNS = i >= 0 ? Number(args[i + 1]) : 20;
const STATE_ROOT = '/run/berth-bench-runtime';

const PHASES = ['spec', 'create', 'start', 'wait', 'delete'] as const;
const phaseTimes: Record<string, number[]> = Object.fromEntries(PHASES.map((p) => [p, []]));

async function berthRun(rt: OciRuntime, base: string): Promise<number> {
  const id = `berthbench-${randomId().slice(0, 10)}`;
  const dir = join(base, id);
  const rootfs = containerPaths(dir).rootfs;
  mkdirSync(rootfs, { recursive: true });
  makeBusyboxRootfs(rootfs);
  const t = [performance.now()];
  const spec = generateSpec({ id, rootfs, config: { Cmd: ['true'] } });
  t.push(performance.now());
  await rt.create({ id, dir, spec });
  t.push(performance.now());
  await rt.start(id);
  t.push(performance.now());
  const exit = await waitExit(id, dir);
  t.push(performance.now());
  await rt.delete(id);
  t.push(performance.now());
  for (const [n, p] of PHASES.entries()) phaseTimes[p]!.push(t[n + 1]! - t[n]!);
  const ms = t[t.length - 1]! - t[0]!;
  if (exit.exitCode !== 0) throw new Error(`berth: true exited ${exit.exitCode}`);
  return ms;
}

function runcRun(base: string, rootfs: string): number {
  const id = `berthbench-${randomId().slice(0, 10)}`;
  const bundle = join(base, id);
  mkdirSync(bundle);
  const spec = generateSpec({ id, rootfs, config: { Cmd: ['true'] } });
  writeFileSync(join(bundle, 'config.json'), serializeSpec(spec));
  const t0 = performance.now();
  const r = spawnSync('runc', ['--root', STATE_ROOT, 'run', '--bundle', bundle, id], { stdio: 'ignore' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`runc run exited ${r.status}`);
  return ms;
}

function podmanRun(rootfs: string): number {
  const t0 = performance.now();
  const r = spawnSync(
    'podman',
    [
      '--runtime',
      'runc',
      'run',
      '--rm',
      '--network',
      'none',
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=1024:1024',
      '--rootfs',
      rootfs,
      'true',
    ],
    { stdio: 'ignore' },
  );
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`podman run exited ${r.status}`);
  return ms;
}

function rssKiB(pid: number): { rss: number; pss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  let pss = 0;
  try {
    pss = Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    // older kernels
  }
  return { rss, pss };
}

async function main(): Promise<void> {
  const tmp = tempDir('berth-bench-rt-');
  const rt = new OciRuntime({ stateRoot: STATE_ROOT });
  try {
    const shared = join(tmp.path, 'shared-rootfs');
    mkdirSync(shared);
    makeBusyboxRootfs(shared);
    await berthRun(rt, tmp.path); // warm-up
    const berth: number[] = [];
    const runc: number[] = [];
    const podman: number[] = [];
    const withPodman = haveCommand('podman');
    for (let n = 0; n < RUNS; n++) {
      berth.push(await berthRun(rt, tmp.path));
      runc.push(runcRun(tmp.path, shared));
      if (withPodman) podman.push(podmanRun(shared));
    }
    const b = median(berth);
    console.log(`create+start+wait+delete of "true" (median of ${RUNS}):`);
    console.log(`  berth driver  ${b.toFixed(1)} ms`);
    console.log(
      `    phases: ${PHASES.map((p) => `${p} ${median(phaseTimes[p]!).toFixed(1)}`).join(', ')} ms`,
    );
    console.log(
      `  runc run      ${median(runc).toFixed(1)} ms   berth/runc = ${(b / median(runc)).toFixed(2)}`,
    );
    if (withPodman) {
      console.log(
        `  podman run    ${median(podman).toFixed(1)} ms   berth/podman = ${(b / median(podman)).toFixed(2)}`,
      );
    }

    const id = `berthbench-${randomId().slice(0, 10)}`;
    const dir = join(tmp.path, id);
    mkdirSync(containerPaths(dir).rootfs, { recursive: true });
    makeBusyboxRootfs(containerPaths(dir).rootfs);
    const { conmonPid } = await rt.create({
      id,
      dir,
      spec: generateSpec({ id, rootfs: containerPaths(dir).rootfs, config: { Cmd: ['sleep', '1000'] } }),
    });
    await rt.start(id);
    await new Promise((r) => setTimeout(r, 500));
    const mem = rssKiB(conmonPid);
    console.log(`idle conmon: RSS ${mem.rss} KiB, PSS ${mem.pss} KiB (goal: < 2048 KiB per container)`);
    await rt.delete(id, { force: true });
    await waitExit(id, dir).catch(() => {});
  } finally {
    for (const line of execFileSync('runc', ['--root', STATE_ROOT, 'list', '-q']).toString().split('\n')) {
      if (line.trim()) spawnSync('runc', ['--root', STATE_ROOT, 'delete', '--force', line.trim()]);
    }
    tmp.cleanup();
  }
}

await main();
