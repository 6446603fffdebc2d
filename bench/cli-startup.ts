// CLI start-up, side by side in one run against one private berth daemon: the docker 28 CLI
// (`docker version`, `docker ps`) against berth's (`berth version`, `berth ps`, `berth --help`), with bare
// `node -e 0` as the floor a Node CLI cannot go under. Prints, per row, the median and fastest wall time,
// the mean CPU time (user + sys of the child: steadier than wall time on a loaded machine), and ratios.
//
//   npm run build && node --import tsx bench/cli-startup.ts [--runs 21] [--before <dir>]
//
// `--before <dir>`: also time `node <dir>/dist/src/cli/main.js`, e.g. an older tree built with tsc
// (git archive <commit> | tar -x -C <dir>; ln -s $PWD/node_modules <dir>; npx tsc -p <dir>).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon } from '../test/helpers/daemon.js';
import { median } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const RUNS = Number(opt('--runs') ?? 21);
const BEFORE = opt('--before');
const DOCKER = '/usr/local/bin/docker';
const REPO = join(import.meta.dirname, '..');
const BIN = join(REPO, 'bin/berth');
const BUNDLE = join(REPO, 'dist/cli/main.js');

/** User + system CPU time (ms) of this process's waited-for children so far (/proc/self/stat). */
function childCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 (cutime, cstime) in clock ticks (100 per second on Linux); the list starts at 3.
  return (Number(fields[16 - 3]) + Number(fields[17 - 3])) * 10;
}

interface Sample {
  wall: number;
  cpu: number;
}

function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Sample {
  const c0 = childCpuMs();
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { wall, cpu: childCpuMs() - c0 };
}

async function main() {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build first`);
  if (!existsSync(DOCKER)) throw new Error(`${DOCKER} (the docker 28 CLI) is missing`);
  const daemon = await startTestDaemon({ berthArgv: [BIN] });
  const env = { ...daemon.env };
  try {
    const node = process.execPath;
    const rows: [string, () => Sample][] = [
      ['node -e 0', () => timed(node, ['-e', '0'], env)],
      ['docker version (28 CLI)', () => timed(DOCKER, ['version'], env)],
      ['docker ps (28 CLI)', () => timed(DOCKER, ['ps'], env)],
      ['berth version', () => timed(BIN, ['version'], env)],
      ['berth ps', () => timed(BIN, ['ps'], env)],
      ['berth --help', () => timed(BIN, ['--help'], env)],
    ];
    if (BEFORE) {
      const before = join(BEFORE, 'dist/src/cli/main.js');
      rows.push(['berth version (--before)', () => timed(node, [before, 'version'], env)]);
      rows.push(['berth ps (--before)', () => timed(node, [before, 'ps'], env)]);
      rows.push(['berth --help (--before)', () => timed(node, [before, '--help'], env)]);
    }
    // Warm up (page cache, JIT of the daemon's handlers), then alternate the rows round by round so drift
    // and other load hit all of them alike.
    for (const [, fn] of rows) for (let i = 0; i < 2; i++) fn();
    const samples = rows.map(() => [] as Sample[]);
    for (let i = 0; i < RUNS; i++) {
      for (const [j, [, fn]] of rows.entries()) samples[j]!.push(fn());
    }

    const stats = samples.map((s) => ({
      wall: median(s.map((x) => x.wall)),
      min: Math.min(...s.map((x) => x.wall)),
      cpu: s.reduce((a, x) => a + x.cpu, 0) / s.length,
    }));
    const byName = (name: string) => stats[rows.findIndex(([n]) => n === name)]!;
    const floor = byName('node -e 0');
    const docker = byName('docker version (28 CLI)');
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(`CLI start-up, ${RUNS} runs per row, interleaved (load average ${load})`);
    console.log(
      `${'command'.padEnd(30)}${'wall med'.padStart(10)}${'wall min'.padStart(10)}${'cpu mean'.padStart(10)}` +
        `${'- node'.padStart(10)}${'/ docker'.padStart(10)}`,
    );
    rows.forEach(([name], j) => {
      const s = stats[j]!;
      const ms = (x: number) => `${x.toFixed(0)} ms`.padStart(10);
      console.log(
        `${name.padEnd(30)}${ms(s.wall)}${ms(s.min)}${ms(s.cpu)}${ms(s.wall - floor.wall)}` +
          `${`${(s.wall / docker.wall).toFixed(2)}×`.padStart(10)}`,
      );
    });
    console.log(
      '(- node: median wall time above `node -e 0`; / docker: median wall time over `docker version`)',
    );
  } finally {
    await daemon.stop();
  }
}

await main();
