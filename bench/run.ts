// `docker run --rm busybox true` against berth and against a real Docker daemon (a private dockerd 20.10
// with the same busybox imported), side by side in one run, plus `berth run --rm` against berth; then 50
// `run -d` containers started and removed on each: time, and memory per container (daemon RSS + its
// monitors' RSS, over 50), and each daemon's idle RSS. Prints medians and ratios, and berth's own
// per-phase timings (BERTH_TRACE=phases) so the slow part of a run is visible.
//
//   npm run build && node --import tsx bench/run.ts [--runs 15] [--containers 50] [--tsc] [--daemon-node-flags "--max-semi-space-size=1"]
//
// Both daemons run with `--network none` in the head-to-head row: the private dockerd has no bridge
// (it must not touch the host's iptables beside other tests), while berth's default-bridge row is
// reported beside it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon } from '../test/helpers/daemon.js';
import { makeBusyboxRootfs, tempDir } from '../test/helpers/index.js';
import { startDockerd } from '../test/integration/client/dockerd.js';
import { median } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const RUNS = opt('--runs', 15);
// Node flags for berth's daemon process (e.g. a smaller young generation) to compare their effect.
const DAEMON_NODE_FLAGS = (() => {
  const i = args.indexOf('--daemon-node-flags');
  return i >= 0 ? (args[i + 1] ?? '').split(' ').filter(Boolean) : [];
})();
const CONTAINERS = opt('--containers', 50);
const DOCKER = '/usr/local/bin/docker';
const REPO = join(import.meta.dirname, '..');

const fmt = (ms: number) => `${ms.toFixed(0).padStart(6)} ms`;

function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function ok(env: NodeJS.ProcessEnv, argv: string[], timeoutMs = 120_000): string {
  const r = spawnSync(DOCKER, argv, { env, encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`docker ${argv.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * RSS in bytes of the processes whose command line satisfies `pred`, and their PSS (shared pages
 * divided among the processes sharing them: what one more monitor really costs).
 */
function rssOf(pred: (cmdline: string) => boolean): { pids: number[]; bytes: number; pss: number } {
  const pids: number[] = [];
  let bytes = 0;
  let pss = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (!pred(cmdline)) continue;
      const m = readFileSync(`/proc/${name}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
      if (!m) continue;
      pids.push(Number(name));
      bytes += Number(m[1]) * 1024;
      const p = readFileSync(`/proc/${name}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m);
      pss += Number(p?.[1] ?? 0) * 1024;
    } catch {
      // the process went away
    }
  }
  return { pids, bytes, pss };
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;

/**
 * The berth CLI (and daemon), compiled: bin/berth's bundle, or with `--tsc` a private tsc build of the tree
 * as it is now (dist/ may be older than the sources; tsx would add its loader to memory and start-up).
 */
function berthCli(tmp: string): { cmd: string; pre: string[]; how: string } {
  // The bundle `npm run build` makes is what bin/berth runs: the CLI as a user starts it.
  const bundle = join(REPO, 'dist/cli/main.js');
  if (existsSync(bundle) && !process.argv.includes('--tsc'))
    return { cmd: process.execPath, pre: [join(REPO, 'bin/berth')], how: 'bin/berth (npm run build first)' };
  const src = join(REPO, 'src/cli/main.ts');
  const out = join(tmp, 'dist');
  symlinkSync(join(REPO, 'node_modules'), join(tmp, 'node_modules'));
  spawnSync('npx', ['tsc', '-p', join(REPO, 'tsconfig.json'), '--outDir', out], {
    cwd: REPO,
    stdio: 'ignore',
  });
  const main = join(out, 'src/cli/main.js');
  if (existsSync(main))
    return { cmd: process.execPath, pre: [main], how: 'node <private tsc build>/src/cli/main.js' };
  return { cmd: process.execPath, pre: ['--import', 'tsx', src], how: 'node --import tsx src/cli/main.ts' };
}

async function main() {
  const t = tempDir('berth-bench-run-');
  const cli = berthCli(t.path);
  process.env.BERTH_TRACE = 'phases';
  const berth = await startTestDaemon({ berthArgv: [...DAEMON_NODE_FLAGS, ...cli.pre] });
  delete process.env.BERTH_TRACE;
  const dockerd = await startDockerd();
  try {
    const rootfs = join(t.path, 'rootfs');
    mkdirSync(rootfs);
    makeBusyboxRootfs(rootfs);
    const tar = join(t.path, 'busybox.tar');
    spawnSync('tar', ['-C', rootfs, '-cf', tar, '.']);
    const denv = { ...process.env, DOCKER_HOST: dockerd.host };
    // The daemons' memory right after start-up, before any container ran.
    const startBerth = rssOf((c) => c.includes(`${berth.root}/data`) && c.includes(' daemon ')).bytes;
    const startDocker = rssOf(
      (c) => (c.startsWith('dockerd ') || c.startsWith('containerd ')) && c.includes(dockerd.dir),
    ).bytes;
    const benv = berth.env;
    ok(benv, ['import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
    ok(denv, ['import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);

    const rows: [string, () => number][] = [
      [
        'docker → dockerd  (--network none)',
        () => timed(DOCKER, ['run', '--rm', '--network', 'none', 'busybox', 'true'], denv),
      ],
      [
        'docker → berth    (--network none)',
        () => timed(DOCKER, ['run', '--rm', '--network', 'none', 'busybox', 'true'], benv),
      ],
      ['docker → berth    (default bridge)', () => timed(DOCKER, ['run', '--rm', 'busybox', 'true'], benv)],
      [
        `berth run → berth (--network none)`,
        () => timed(cli.cmd, [...cli.pre, 'run', '--rm', '--network', 'none', 'busybox', 'true'], benv),
      ],
      ['berth CLI start-up (berth --help)', () => timed(cli.cmd, [...cli.pre, '--help'], benv)],
    ];
    // Warm up (page cache, JIT), then alternate the rows round by round so drift hits all of them.
    for (const [, fn] of rows) for (let i = 0; i < 2; i++) fn();
    const logLength = () => statSync(berth.logPath).size;
    const logStart = logLength();
    const times = rows.map(() => [] as number[]);
    // Which row each traced container belongs to: the row during which its create line was logged.
    const windows: { row: number; from: number; to: number }[] = [];
    for (let r = 0; r < RUNS; r++)
      for (const [i, [, fn]] of rows.entries()) {
        const from = logLength();
        times[i]!.push(fn());
        windows.push({ row: i, from, to: logLength() });
      }
    await new Promise((r) => setTimeout(r, 500)); // background clean-ups log their phases last

    console.log(`\nrun --rm busybox true, median of ${RUNS} (berth CLI: ${cli.how})`);
    const med = times.map(median);
    for (const [i, [label]] of rows.entries()) console.log(`  ${label.padEnd(42)} ${fmt(med[i]!)}`);
    console.log(`  ratio dockerd / berth (docker CLI, none):  ${(med[0]! / med[1]!).toFixed(2)}×`);
    console.log(`  ratio dockerd / berth (bridge):            ${(med[0]! / med[2]!).toFixed(2)}×`);
    console.log(`  ratio dockerd / berth run (none):          ${(med[0]! / med[3]!).toFixed(2)}×`);

    // berth's own phases during the timed rounds, per row.
    const log = readFileSync(berth.logPath);
    const rowOf = new Map<string, number>();
    const phases = rows.map(() => new Map<string, number[]>());
    let offset = 0;
    for (const line of log.toString('utf8').split('\n')) {
      const at = offset;
      offset += Buffer.byteLength(line) + 1;
      if (at < logStart) continue;
      const m = line.match(/^berth-trace (\S+) (\S+) (.*)$/);
      if (!m) continue;
      if (m[2] === 'create' && !rowOf.has(m[1]!)) {
        const w = windows.find((x) => at >= x.from && at < x.to);
        if (w) rowOf.set(m[1]!, w.row);
      }
      const row = rowOf.get(m[1]!);
      if (row === undefined) continue;
      for (const kv of m[3]!.split(' ')) {
        const [k, v] = kv.split('=');
        if (!k || v === undefined) continue;
        const key = `${m[2]}.${k}`;
        phases[row]!.set(key, [...(phases[row]!.get(key) ?? []), Number(v)]);
      }
    }
    for (const [i, [label]] of rows.entries()) {
      if (phases[i]!.size === 0) continue;
      console.log(`\nberth daemon phases, ${label.trim()} (median ms over the timed runs)`);
      for (const [k, v] of phases[i]!) console.log(`  ${k.padEnd(24)} ${median(v).toFixed(1).padStart(7)}`);
    }
    // Idle memory, then 50 detached containers on each.
    const berthDaemon = (c: string) => c.includes(`${berth.root}/data`) && c.includes(' daemon ');
    const berthMonitors = (c: string) => /^\S*conmon /.test(c) && c.includes(berth.root);
    const dockerDaemons = (c: string) =>
      (c.startsWith('dockerd ') || c.startsWith('containerd ')) && c.includes(dockerd.dir);
    const dockerShims = (c: string) => c.includes('containerd-shim') && c.includes(dockerd.dir);
    const idleBerth = rssOf(berthDaemon).bytes;
    const idleDocker = rssOf(dockerDaemons).bytes;
    const fleet = (env: NodeJS.ProcessEnv) => {
      const t0 = performance.now();
      const ids: string[] = [];
      for (let i = 0; i < CONTAINERS; i++)
        ids.push(ok(env, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '600']));
      const startMs = performance.now() - t0;
      return { ids, startMs };
    };
    // (The private dockerd has been seen to hang in "Removal In Progress" on a loaded host: bounded.)
    const removeAll = (env: NodeJS.ProcessEnv, ids: string[]) => {
      const t0 = performance.now();
      try {
        ok(env, ['rm', '-f', ...ids], 90_000);
      } catch (err) {
        console.log(`  (rm -f failed: ${(err as Error).message.split('\n').at(-1)})`);
        return Number.NaN;
      }
      return performance.now() - t0;
    };
    const bf = fleet(benv);
    const berthLoaded = rssOf(berthDaemon).bytes;
    const conmons = rssOf(berthMonitors);
    const berthRm = removeAll(benv, bf.ids);
    const df = fleet(denv);
    const dockerLoaded = rssOf(dockerDaemons).bytes;
    const shims = rssOf(dockerShims);
    const dockerRm = removeAll(denv, df.ids);

    console.log(`\n${CONTAINERS} × run -d busybox sleep 600, then rm -f of all`);
    console.log(
      `  start  berth ${fmt(bf.startMs)}   dockerd ${fmt(df.startMs)}   ratio ${(df.startMs / bf.startMs).toFixed(2)}×`,
    );
    console.log(
      `  rm -f  berth ${fmt(berthRm)}   dockerd ${fmt(dockerRm)}   ratio ${(dockerRm / berthRm).toFixed(2)}×`,
    );
    // A daemon's growth is noisy (a GC between the two readings can make it negative): floored at 0.
    const grow = (after: number, before: number) => Math.max(0, after - before);
    const perBerth = (grow(berthLoaded, idleBerth) + conmons.bytes) / CONTAINERS;
    const perDocker = (grow(dockerLoaded, idleDocker) + shims.bytes) / CONTAINERS;
    console.log(
      `  memory per container: berth ${mb(perBerth)} (daemon +${mb(berthLoaded - idleBerth)}, ${conmons.pids.length} conmon ${mb(conmons.bytes)})`,
    );
    console.log(
      `                        dockerd ${mb(perDocker)} (dockerd+containerd +${mb(dockerLoaded - idleDocker)}, ${shims.pids.length} shims ${mb(shims.bytes)})   ratio ${(perDocker / perBerth).toFixed(2)}×`,
    );
    // PSS counts a shared library page once across the monitors that map it (RSS counts it in each).
    const pssBerth = (grow(berthLoaded, idleBerth) + conmons.pss) / CONTAINERS;
    const pssDocker = (grow(dockerLoaded, idleDocker) + shims.pss) / CONTAINERS;
    console.log(
      `  by PSS: berth ${mb(pssBerth)} (conmon ${mb(conmons.pss / Math.max(1, conmons.pids.length))} each)   dockerd ${mb(pssDocker)} (shim ${mb(shims.pss / Math.max(1, shims.pids.length))} each)   ratio ${(pssDocker / pssBerth).toFixed(2)}×`,
    );
    const flags = DAEMON_NODE_FLAGS.length ? ` (node ${DAEMON_NODE_FLAGS.join(' ')})` : '';
    console.log(
      `  daemon RSS after start-up: berth ${mb(startBerth)}${flags}   dockerd+containerd ${mb(startDocker)}`,
    );
    console.log(
      `  daemon RSS idle after the timed runs: berth ${mb(idleBerth)}   dockerd+containerd ${mb(idleDocker)}`,
    );
    console.log(
      `  daemon RSS with ${CONTAINERS} running: berth ${mb(berthLoaded)}   dockerd+containerd ${mb(dockerLoaded)}`,
    );
    console.log(`  daemon RSS after the fleet was removed: berth ${mb(rssOf(berthDaemon).bytes)}`);
  } finally {
    await berth.stop();
    await dockerd.stop();
    t.cleanup();
  }
}

await main();
