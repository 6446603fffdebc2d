// Container statistics in the Engine API's ContainerStatsResponse shape, read from cgroups v1 (one
// hierarchy per controller) or v2 (unified), plus /proc for network counters; and `top`.
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { badRequest, notFound, run } from '../util/index.js';

export interface CpuStats {
  cpu_usage: {
    total_usage: number;
    percpu_usage?: number[];
    usage_in_kernelmode: number;
    usage_in_usermode: number;
  };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface NetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

export interface ContainerStats {
  name?: string;
  id?: string;
  read: string;
  preread: string;
  num_procs: number;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: {
    io_service_bytes_recursive: BlkioEntry[] | null;
    io_serviced_recursive: BlkioEntry[] | null;
    io_queue_recursive: BlkioEntry[] | null;
    io_service_time_recursive: BlkioEntry[] | null;
    io_wait_time_recursive: BlkioEntry[] | null;
    io_merged_recursive: BlkioEntry[] | null;
    io_time_recursive: BlkioEntry[] | null;
    sectors_recursive: BlkioEntry[] | null;
  };
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: {
    usage?: number;
    max_usage?: number;
    failcnt?: number;
    limit?: number;
    stats?: Record<string, number>;
  };
  networks?: Record<string, NetworkStats>;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const CLK_TCK = 100;
const UNLIMITED_V1 = 0x7ffffffffffff000;

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};
const readNum = (path: string): number | undefined => {
  const t = readText(path)?.trim();
  if (t === undefined || t === '' || t === 'max') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
};
const keyValues = (text: string | undefined): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
};

export const CGROUP_ROOT = '/sys/fs/cgroup';

export function isCgroupV2(root = CGROUP_ROOT): boolean {
  return existsSync(join(root, 'cgroup.controllers'));
}

/** The container's cgroup directory for a controller (v1) or its unified directory (v2). */
export function cgroupDir(cgroupsPath: string, controller: string, root = CGROUP_ROOT): string {
  return isCgroupV2(root) ? join(root, cgroupsPath) : join(root, controller, cgroupsPath);
}

/** Host CPU time in nanoseconds, from the first line of /proc/stat (as Docker computes it). */
function systemCpuUsage(): number | undefined {
  const line = readText('/proc/stat')?.split('\n')[0];
  if (!line?.startsWith('cpu ')) return undefined;
  const ticks = line.trim().split(/\s+/).slice(1, 8).map(Number);
  return (ticks.reduce((a, b) => a + b, 0) * 1e9) / CLK_TCK;
}

/** Per-interface counters from /proc/<pid>/net/dev (the container's netns), without lo. */
export function networkStats(pid: number): Record<string, NetworkStats> | undefined {
  const text = readText(`/proc/${pid}/net/dev`);
  if (!text) return undefined;
  const out: Record<string, NetworkStats> = {};
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === 'lo') continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    out[name] = {
      rx_bytes: f[0] ?? 0,
      rx_packets: f[1] ?? 0,
      rx_errors: f[2] ?? 0,
      rx_dropped: f[3] ?? 0,
      tx_bytes: f[8] ?? 0,
      tx_packets: f[9] ?? 0,
      tx_errors: f[10] ?? 0,
      tx_dropped: f[11] ?? 0,
    };
  }
  return out;
}

function blkioV1(dir: string, file: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (readText(join(dir, file)) ?? '').split('\n')) {
    const [dev, op, value] = line.trim().split(/\s+/);
    if (!dev || !op || value === undefined || !dev.includes(':')) continue;
    const [major, minor] = dev.split(':').map(Number);
    out.push({ major: major!, minor: minor!, op, value: Number(value) });
  }
  return out;
}

function blkioV2(dir: string): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (readText(join(dir, 'io.stat')) ?? '').split('\n')) {
    const [dev, ...fields] = line.trim().split(/\s+/);
    if (!dev?.includes(':')) continue;
    const [major, minor] = dev.split(':').map(Number);
    const kv = Object.fromEntries(fields.map((f) => f.split('=')).map(([k, v]) => [k, Number(v)]));
    bytes.push({ major: major!, minor: minor!, op: 'read', value: kv.rbytes ?? 0 });
    bytes.push({ major: major!, minor: minor!, op: 'write', value: kv.wbytes ?? 0 });
    ios.push({ major: major!, minor: minor!, op: 'read', value: kv.rios ?? 0 });
    ios.push({ major: major!, minor: minor!, op: 'write', value: kv.wios ?? 0 });
  }
  return { bytes, ios };
}

const emptyCpu = (): CpuStats => ({
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});

/**
 * One stats sample. Pass the previous sample as `previous` to fill precpu_stats and preread the
 * way `docker stats` expects (it computes CPU % from the difference).
 */
export function readStats(
  input: { cgroupsPath: string; pid?: number; id?: string; name?: string; root?: string },
  previous?: ContainerStats,
): ContainerStats {
  const root = input.root ?? CGROUP_ROOT;
  const v2 = isCgroupV2(root);
  const cpu = emptyCpu();
  cpu.system_cpu_usage = systemCpuUsage();
  cpu.online_cpus = cpus().length;
  const memory: ContainerStats['memory_stats'] = {};
  const pids: ContainerStats['pids_stats'] = {};
  const blkio: ContainerStats['blkio_stats'] = {
    io_service_bytes_recursive: [],
    io_serviced_recursive: [],
    io_queue_recursive: [],
    io_service_time_recursive: [],
    io_wait_time_recursive: [],
    io_merged_recursive: [],
    io_time_recursive: [],
    sectors_recursive: [],
  };
  if (v2) {
    const dir = join(root, input.cgroupsPath);
    if (!existsSync(dir)) throw notFound(`no cgroup for the container at ${dir}`);
    const cs = keyValues(readText(join(dir, 'cpu.stat')));
    cpu.cpu_usage.total_usage = (cs.usage_usec ?? 0) * 1000;
    cpu.cpu_usage.usage_in_usermode = (cs.user_usec ?? 0) * 1000;
    cpu.cpu_usage.usage_in_kernelmode = (cs.system_usec ?? 0) * 1000;
    cpu.throttling_data = {
      periods: cs.nr_periods ?? 0,
      throttled_periods: cs.nr_throttled ?? 0,
      throttled_time: (cs.throttled_usec ?? 0) * 1000,
    };
    memory.usage = readNum(join(dir, 'memory.current'));
    memory.limit = readNum(join(dir, 'memory.max')) ?? totalmem();
    memory.stats = keyValues(readText(join(dir, 'memory.stat')));
    pids.current = readNum(join(dir, 'pids.current'));
    pids.limit = readNum(join(dir, 'pids.max'));
    const io = blkioV2(dir);
    blkio.io_service_bytes_recursive = io.bytes;
    blkio.io_serviced_recursive = io.ios;
  } else {
    const cpuacct = join(root, 'cpuacct', input.cgroupsPath);
    if (!existsSync(cpuacct)) throw notFound(`no cgroup for the container at ${cpuacct}`);
    cpu.cpu_usage.total_usage = readNum(join(cpuacct, 'cpuacct.usage')) ?? 0;
    const percpu = readText(join(cpuacct, 'cpuacct.usage_percpu'))?.trim();
    if (percpu) cpu.cpu_usage.percpu_usage = percpu.split(/\s+/).map(Number);
    const st = keyValues(readText(join(cpuacct, 'cpuacct.stat')));
    cpu.cpu_usage.usage_in_usermode = ((st.user ?? 0) * 1e9) / CLK_TCK;
    cpu.cpu_usage.usage_in_kernelmode = ((st.system ?? 0) * 1e9) / CLK_TCK;
    const th = keyValues(readText(join(root, 'cpu', input.cgroupsPath, 'cpu.stat')));
    cpu.throttling_data = {
      periods: th.nr_periods ?? 0,
      throttled_periods: th.nr_throttled ?? 0,
      throttled_time: th.throttled_time ?? 0,
    };
    const mem = join(root, 'memory', input.cgroupsPath);
    memory.usage = readNum(join(mem, 'memory.usage_in_bytes'));
    memory.max_usage = readNum(join(mem, 'memory.max_usage_in_bytes'));
    memory.failcnt = readNum(join(mem, 'memory.failcnt'));
    const limit = readNum(join(mem, 'memory.limit_in_bytes'));
    memory.limit = limit === undefined || limit >= UNLIMITED_V1 ? totalmem() : Math.min(limit, totalmem());
    memory.stats = keyValues(readText(join(mem, 'memory.stat')));
    const pidsDir = join(root, 'pids', input.cgroupsPath);
    pids.current = readNum(join(pidsDir, 'pids.current'));
    pids.limit = readNum(join(pidsDir, 'pids.max'));
    const blk = join(root, 'blkio', input.cgroupsPath);
    blkio.io_service_bytes_recursive = blkioV1(blk, 'blkio.throttle.io_service_bytes_recursive').filter(
      (e) => e.op !== 'Total',
    );
    blkio.io_serviced_recursive = blkioV1(blk, 'blkio.throttle.io_serviced_recursive').filter(
      (e) => e.op !== 'Total',
    );
  }
  const stats: ContainerStats = {
    read: new Date().toISOString(),
    preread: previous?.read ?? ZERO_TIME,
    num_procs: 0,
    pids_stats: pids,
    blkio_stats: blkio,
    storage_stats: {},
    cpu_stats: cpu,
    precpu_stats: previous?.cpu_stats ?? emptyCpu(),
    memory_stats: memory,
  };
  if (input.name !== undefined) stats.name = `/${input.name.replace(/^\//, '')}`;
  if (input.id !== undefined) stats.id = input.id;
  if (input.pid) {
    const nets = networkStats(input.pid);
    if (nets && Object.keys(nets).length > 0) stats.networks = nets;
  }
  return stats;
}

/** Pids of every process in the container's cgroup. */
export function cgroupPids(cgroupsPath: string, root = CGROUP_ROOT): number[] {
  const file = isCgroupV2(root)
    ? join(root, cgroupsPath, 'cgroup.procs')
    : join(root, 'pids', cgroupsPath, 'cgroup.procs');
  const text = readText(file) ?? readText(join(root, 'memory', cgroupsPath, 'cgroup.procs')) ?? '';
  return text
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/**
 * Docker's `top`: runs the host's ps with `psArgs` (default "-ef") and keeps the rows whose PID
 * column is one of `pids`.
 */
export async function top(pids: readonly number[], psArgs = '-ef'): Promise<TopResult> {
  const args = psArgs.trim() ? psArgs.trim().split(/\s+/) : [];
  if (args.some((a) => !/^[-\w,=:%+]+$/.test(a))) throw badRequest(`invalid ps arguments: ${psArgs}`);
  const result = await run('ps', args);
  if (result.code !== 0)
    throw badRequest(`ps ${psArgs} failed: ${result.stderr.trim() || result.stdout.trim()}`);
  const lines = result.stdout.split('\n').filter((l) => l.trim());
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw badRequest(`Couldn't find PID field in ps output`);
  const wanted = new Set(pids);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (!wanted.has(Number(fields[pidIndex]))) continue;
    // the last column (command) may contain spaces
    const head = fields.slice(0, titles.length - 1);
    head.push(fields.slice(titles.length - 1).join(' '));
    processes.push(head);
  }
  return { Titles: titles, Processes: processes };
}
