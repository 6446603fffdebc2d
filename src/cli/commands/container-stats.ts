// `stats`: a live table of resource usage (redrawn each second) or one sample with --no-stream, computed
// as the docker CLI computes CPU %, memory without page cache, network and block I/O.
import type { Command } from 'commander';
import type { ContainerStats, EngineClient } from '../../client/index.js';
import { ensureDaemon } from '../connect.js';
import { bytesSize, formatRows, humanSize, truncateId } from '../format/index.js';
import { action, CliError, dockerUsage, errorText } from './container-common.js';

export const STATS_FORMAT = {
  defaultTable:
    'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}',
  headers: {
    ID: 'CONTAINER ID',
    Container: 'CONTAINER',
    Name: 'NAME',
    CPUPerc: 'CPU %',
    MemUsage: 'MEM USAGE / LIMIT',
    MemPerc: 'MEM %',
    NetIO: 'NET I/O',
    BlockIO: 'BLOCK I/O',
    PIDs: 'PIDS',
  },
};

/** One `docker stats` row from a sample; `container` is the name or ID the user gave (the Container column). */
export function statsRow(s: ContainerStats, container: string, trunc = true) {
  const cpu = s.cpu_stats?.cpu_usage?.total_usage ?? 0;
  const preCpu = s.precpu_stats?.cpu_usage?.total_usage ?? 0;
  const system = s.cpu_stats?.system_cpu_usage ?? 0;
  const preSystem = s.precpu_stats?.system_cpu_usage ?? 0;
  const online = s.cpu_stats?.online_cpus || s.cpu_stats?.cpu_usage?.percpu_usage?.length || 1;
  const cpuDelta = cpu - preCpu;
  const sysDelta = system - preSystem;
  const cpuPerc = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * online * 100 : 0;
  const mem = s.memory_stats ?? {};
  const stats = mem.stats ?? {};
  // cgroup v1 reports total_inactive_file, v2 inactive_file: page cache that is not "used"
  const inactive = stats.total_inactive_file ?? stats.inactive_file ?? 0;
  const usage = Math.max(0, (mem.usage ?? 0) - (inactive < (mem.usage ?? 0) ? inactive : 0));
  const limit = mem.limit ?? 0;
  const memPerc = limit > 0 ? (usage / limit) * 100 : 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  let read = 0;
  let write = 0;
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') read += e.value;
    else if (op === 'write') write += e.value;
  }
  const id = s.id ?? '';
  return {
    BlockIO: `${humanSize(read, 3)} / ${humanSize(write, 3)}`,
    CPUPerc: `${cpuPerc.toFixed(2)}%`,
    Container: container,
    ID: trunc ? truncateId(id) : id,
    MemPerc: `${memPerc.toFixed(2)}%`,
    MemUsage: `${bytesSize(usage)} / ${bytesSize(limit)}`,
    Name: (s.name ?? '').replace(/^\//, ''),
    NetIO: `${humanSize(rx, 3)} / ${humanSize(tx, 3)}`,
    PIDs: String(s.pids_stats?.current ?? 0),
  };
}

async function sample(client: EngineClient, targets: string[], trunc: boolean) {
  const rows: ReturnType<typeof statsRow>[] = [];
  const errors: string[] = [];
  for (const t of targets) {
    try {
      rows.push(statsRow(await client.containers.stats(t), t, trunc));
    } catch (err) {
      errors.push(errorText(err));
    }
  }
  return { rows, errors };
}

async function statsAction(
  containers: string[],
  flags: { all?: boolean; stream: boolean; trunc: boolean; format?: string },
): Promise<void> {
  const client = await ensureDaemon();
  const explicit = containers.length > 0;
  const targets = async () =>
    explicit
      ? containers
      : (await client.containers.list({ all: !!flags.all })).map((c) => truncateId(c.Id ?? ''));
  if (!flags.stream) {
    const { rows, errors } = await sample(client, await targets(), flags.trunc);
    if (explicit && errors.length) throw new CliError(errors.join('\n'), 1);
    process.stdout.write(formatRows(flags.format, rows, STATS_FORMAT));
    return;
  }
  // Redraw the table in place each second, as docker does on a terminal; until interrupted.
  const tty = process.stdout.isTTY === true;
  for (;;) {
    const { rows, errors } = await sample(client, await targets(), flags.trunc);
    if (explicit && errors.length && rows.length === 0) throw new CliError(errors.join('\n'), 1);
    const text = formatRows(flags.format, rows, STATS_FORMAT);
    process.stdout.write(tty ? `\x1b[2J\x1b[H${text}` : text);
    await new Promise((r) => setTimeout(r, 800));
  }
}

export function registerStatsCommand(parent: Command): void {
  dockerUsage(
    parent
      .command('stats')
      .description('Display a live stream of container(s) resource usage statistics')
      .argument('[container...]')
      .option('-a, --all', 'Show all containers (default shows just running)')
      .option('--format <format>', 'Format output using a custom template')
      .option('--no-stream', 'Disable streaming stats and only pull the first result')
      .option('--no-trunc', 'Do not truncate output'),
  ).action(action(statsAction));
}
