// `berth version`, `info`, `events`, `system df`, `system prune`: Docker's system commands over the Engine API.
import type { Command } from 'commander';
import {
  CLIENT_API_VERSION,
  type ContainerSummary,
  type EventMessage,
  type Filters,
  type ImageSummary,
  type SystemInfo,
  type Volume,
} from '../../client/index.js';
import { ensureDaemon, getClient } from '../connect.js';
import {
  containerRow,
  formatRows,
  humanSize,
  IMAGES_FORMAT,
  imageRows,
  parseTemplate,
  VOLUMES_FORMAT,
  volumeRow,
} from '../format/index.js';
import { collect, parseDurationNs } from '../opts/units.js';
import { CliError, commandGroup } from './container-common.js';
import { confirm, parseFilters, pruneImages } from './images.js';
import { pruneNetworks } from './networks.js';
import { pruneVolumes } from './volumes.js';

const BERTH_VERSION = '0.1.0';

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** A Go template `--format` applied to one object, with `json` meaning `{{json .}}`. */
function formatOne(format: string, value: unknown): string {
  const source = format === 'json' ? '{{json .}}' : format;
  return `${parseTemplate(source).execute(value)}\n`;
}

function clientVersion() {
  return {
    Platform: { Name: 'berth' },
    Version: BERTH_VERSION,
    ApiVersion: CLIENT_API_VERSION,
    DefaultAPIVersion: CLIENT_API_VERSION,
    GitCommit: 'berth',
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: goArch(),
    BuildTime: '',
    Context: 'default',
  };
}

function pad(label: string, width: number): string {
  return `${label}:`.padEnd(width);
}

async function version(opts: { format?: string }): Promise<void> {
  const client = getClient();
  let server: Record<string, unknown> | undefined;
  let serverError: unknown;
  try {
    await ensureDaemon();
    server = (await client.system.version()) as Record<string, unknown>;
  } catch (err) {
    serverError = err;
  }
  const cli = clientVersion();
  const negotiated = server ? await client.apiVersion().catch(() => CLIENT_API_VERSION) : CLIENT_API_VERSION;
  cli.ApiVersion = negotiated;
  if (opts.format) {
    process.stdout.write(formatOne(opts.format, { Client: cli, Server: server ?? null }));
  } else {
    let out = 'Client:\n';
    const apiNote = negotiated !== CLIENT_API_VERSION ? ` (downgraded from ${CLIENT_API_VERSION})` : '';
    out += ` ${pad('Version', 19)}${cli.Version}\n`;
    out += ` ${pad('API version', 19)}${negotiated}${apiNote}\n`;
    out += ` ${pad('Go version', 19)}${cli.GoVersion}\n`;
    out += ` ${pad('Git commit', 19)}${cli.GitCommit}\n`;
    out += ` ${pad('Built', 19)}${cli.BuildTime}\n`;
    out += ` ${pad('OS/Arch', 19)}${cli.Os}/${cli.Arch}\n`;
    out += ` ${pad('Context', 19)}${cli.Context}\n`;
    if (server) {
      const platform = (server.Platform as { Name?: string } | undefined)?.Name ?? '';
      out += `\nServer:${platform ? ` ${platform}` : ''}\n`;
      const components =
        (server.Components as { Name: string; Version: string; Details?: Record<string, unknown> }[]) ?? [];
      for (const c of components) {
        out += ` ${c.Name}:\n`;
        out += `  ${pad('Version', 18)}${c.Version}\n`;
        if (c.Name === 'Engine') {
          const d = c.Details ?? {};
          out += `  ${pad('API version', 18)}${d.ApiVersion ?? ''} (minimum version ${d.MinAPIVersion ?? ''})\n`;
          out += `  ${pad('Go version', 18)}${d.GoVersion ?? ''}\n`;
          out += `  ${pad('Git commit', 18)}${d.GitCommit ?? ''}\n`;
          out += `  ${pad('Built', 18)}${d.BuildTime ?? ''}\n`;
          out += `  ${pad('OS/Arch', 18)}${d.Os ?? ''}/${d.Arch ?? ''}\n`;
          out += `  ${pad('Experimental', 18)}${d.Experimental ?? 'false'}\n`;
        } else if (c.Details?.GitCommit) {
          out += `  ${pad('GitCommit', 18)}${c.Details.GitCommit}\n`;
        }
      }
    }
    process.stdout.write(out);
  }
  if (serverError) throw serverError;
}

function infoText(info: SystemInfo & Record<string, unknown>): string {
  const lines: string[] = [];
  const kv = (indent: string, k: string, v: unknown) => lines.push(`${indent}${k}: ${v}`);
  lines.push('Client:');
  // docker aligns the client section's values
  lines.push(` Version:    ${BERTH_VERSION}`, ' Context:    default', ' Debug Mode: false');
  lines.push('');
  lines.push('Server:');
  kv(' ', 'Containers', info.Containers ?? 0);
  kv('  ', 'Running', info.ContainersRunning ?? 0);
  kv('  ', 'Paused', info.ContainersPaused ?? 0);
  kv('  ', 'Stopped', info.ContainersStopped ?? 0);
  kv(' ', 'Images', info.Images ?? 0);
  kv(' ', 'Server Version', info.ServerVersion ?? '');
  kv(' ', 'Storage Driver', info.Driver ?? '');
  for (const [k, v] of (info.DriverStatus as [string, string][] | null | undefined) ?? []) kv('  ', k, v);
  kv(' ', 'Logging Driver', info.LoggingDriver ?? '');
  kv(' ', 'Cgroup Driver', info.CgroupDriver ?? '');
  kv(' ', 'Cgroup Version', info.CgroupVersion ?? '');
  const plugins = (info.Plugins ?? {}) as Record<string, string[] | null>;
  lines.push(' Plugins:');
  for (const kind of ['Volume', 'Network', 'Log']) kv('  ', kind, (plugins[kind] ?? []).join(' '));
  const runtimes = Object.keys((info.Runtimes as Record<string, unknown> | undefined) ?? {}).sort();
  kv(' ', 'Runtimes', runtimes.join(' '));
  kv(' ', 'Default Runtime', info.DefaultRuntime ?? '');
  if (Array.isArray(info.SecurityOptions) && info.SecurityOptions.length > 0) {
    lines.push(' Security Options:');
    for (const o of info.SecurityOptions as string[]) {
      const fields = o.split(',');
      lines.push(`  ${fields[0]!.replace(/^name=/, '')}`);
      for (const f of fields.slice(1)) {
        const [k, v] = f.split('=');
        lines.push(`   ${k!.charAt(0).toUpperCase()}${k!.slice(1)}: ${v}`);
      }
    }
  }
  kv(' ', 'Kernel Version', info.KernelVersion ?? '');
  kv(' ', 'Operating System', info.OperatingSystem ?? '');
  kv(' ', 'OSType', info.OSType ?? '');
  kv(' ', 'Architecture', info.Architecture ?? '');
  kv(' ', 'CPUs', info.NCPU ?? 0);
  kv(' ', 'Total Memory', bytesBinary(Number(info.MemTotal ?? 0)));
  kv(' ', 'Name', info.Name ?? '');
  kv(' ', 'ID', info.ID ?? '');
  kv(' ', 'Docker Root Dir', info.DockerRootDir ?? '');
  kv(' ', 'Debug Mode', info.Debug ? 'true' : 'false');
  kv(' ', 'Experimental', info.ExperimentalBuild ? 'true' : 'false');
  kv(' ', 'Live Restore Enabled', info.LiveRestoreEnabled ? 'true' : 'false');
  const warnings = (info.Warnings as string[] | null | undefined) ?? [];
  return `${lines.join('\n')}\n${warnings.length ? `\n${warnings.join('\n')}\n` : ''}`;
}

/** units.BytesSize with Docker info's two decimals (15.53GiB). */
function bytesBinary(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Math.round(v * 100) / 100}${units[i]}`;
}

async function info(opts: { format?: string }): Promise<void> {
  const client = await ensureDaemon();
  const data = (await client.system.info()) as SystemInfo & Record<string, unknown>;
  if (opts.format) {
    const clientInfo = { Debug: false, Context: 'default', Plugins: [], Warnings: null };
    process.stdout.write(formatOne(opts.format, { ...data, ClientInfo: clientInfo, ServerErrors: null }));
    return;
  }
  process.stdout.write(infoText(data));
}

const DF_FORMAT = {
  defaultTable: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
  headers: { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
};

function withPercent(reclaimable: number, total: number): string {
  const h = humanSize(reclaimable, 4);
  return total > 0 ? `${h} (${Math.trunc((reclaimable * 100) / total)}%)` : h;
}

/** The four rows of `docker system df` (docker's formatter.DiskUsageContext). */
export function diskUsageRows(du: {
  LayersSize?: number;
  Images?: ImageSummary[] | null;
  Containers?: ContainerSummary[] | null;
  Volumes?: Volume[] | null;
}) {
  const images = du.Images ?? [];
  const totalImages = du.LayersSize ?? 0;
  let usedImages = 0;
  for (const i of images) {
    if ((i.Containers ?? 0) !== 0 && i.Size !== -1 && i.SharedSize !== -1)
      usedImages += (i.Size ?? 0) - (i.SharedSize ?? 0);
  }
  const containers = du.Containers ?? [];
  const active = (c: ContainerSummary) => /running|paused|restarting/.test(c.State ?? '');
  const ctrSize = containers.reduce((s, c) => s + (c.SizeRw ?? 0), 0);
  const ctrReclaim = containers.filter((c) => !active(c)).reduce((s, c) => s + (c.SizeRw ?? 0), 0);
  const volumes = du.Volumes ?? [];
  let volSize = 0;
  let volReclaim = 0;
  for (const v of volumes) {
    const size = v.UsageData?.Size ?? -1;
    if (size === -1) continue;
    volSize += size;
    if ((v.UsageData?.RefCount ?? 0) === 0) volReclaim += size;
  }
  return [
    {
      Type: 'Images',
      TotalCount: String(images.length),
      Active: String(images.filter((i) => (i.Containers ?? 0) > 0).length),
      Size: humanSize(totalImages, 4),
      Reclaimable: withPercent(totalImages - usedImages, totalImages),
    },
    {
      Type: 'Containers',
      TotalCount: String(containers.length),
      Active: String(containers.filter(active).length),
      Size: humanSize(ctrSize, 4),
      Reclaimable: withPercent(ctrReclaim, ctrSize),
    },
    {
      Type: 'Local Volumes',
      TotalCount: String(volumes.length),
      Active: String(volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length),
      Size: humanSize(volSize, 4),
      Reclaimable: withPercent(volReclaim, volSize),
    },
    { Type: 'Build Cache', TotalCount: '0', Active: '0', Size: '0B', Reclaimable: '0B' },
  ];
}

async function df(opts: { verbose?: boolean; format?: string }): Promise<void> {
  const client = await ensureDaemon();
  const du = await client.system.df();
  if (!opts.verbose) {
    process.stdout.write(formatRows(opts.format, diskUsageRows(du), DF_FORMAT));
    return;
  }
  let out = 'Images space usage:\n\n';
  const imgRows = (du.Images ?? []).flatMap((i) => imageRows({ ...i, Containers: i.Containers ?? 0 }));
  out += formatRows(
    'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}',
    imgRows,
    IMAGES_FORMAT,
  );
  out += '\nContainers space usage:\n\n';
  out += formatRows(
    'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}',
    // docker's df shows a container's own (writable layer) size only
    (du.Containers ?? []).map((c) => containerRow({ ...c, SizeRootFs: 0 })),
    {
      defaultTable: '',
      headers: {
        ID: 'CONTAINER ID',
        Image: 'IMAGE',
        Command: 'COMMAND',
        LocalVolumes: 'LOCAL VOLUMES',
        Size: 'SIZE',
        RunningFor: 'CREATED',
        Status: 'STATUS',
        Names: 'NAMES',
      },
    },
  );
  out += '\nLocal Volumes space usage:\n\n';
  out += formatRows(
    'table {{.Name}}\t{{.Links}}\t{{.Size}}',
    (du.Volumes ?? []).map(volumeRow),
    VOLUMES_FORMAT,
  );
  out +=
    '\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n';
  process.stdout.write(out);
}

async function systemPrune(opts: { all?: boolean; volumes?: boolean; force?: boolean; filter?: string[] }) {
  const filters = parseFilters(opts.filter) as Record<string, string[]>;
  if (!opts.force) {
    const items = [
      'all stopped containers',
      'all networks not used by at least one container',
      ...(opts.volumes ? ['all anonymous volumes not used by at least one container'] : []),
      opts.all ? 'all images without at least one container associated to them' : 'all dangling images',
      opts.all ? 'all build cache' : 'unused build cache',
    ];
    const warning = `WARNING! This will remove:\n${items.map((i) => `  - ${i}\n`).join('')}`;
    if (!(await confirm(warning))) return;
  }
  const client = await ensureDaemon();
  let reclaimed = 0;
  let out = '';
  // The order docker uses: containers first, so that networks, volumes and images they held become unused.
  const containers = await client.containers.prune({ filters });
  reclaimed += containers.SpaceReclaimed ?? 0;
  if ((containers.ContainersDeleted ?? []).length > 0)
    out += `Deleted Containers:\n${(containers.ContainersDeleted ?? []).map((c) => `${c}\n`).join('')}\n`;
  const networks = await pruneNetworks(filters);
  if (networks) out += `${networks}\n`;
  if (opts.volumes) {
    const { text, reclaimed: r } = await pruneVolumes(false, filters);
    reclaimed += r;
    if (text) out += `${text}\n`;
  }
  const images = await pruneImages(opts.all === true, filters);
  reclaimed += images.reclaimed;
  if (images.text) out += `${images.text}\n`;
  try {
    const cache = await client.images.buildPrune({ all: opts.all, filters });
    reclaimed += cache.SpaceReclaimed ?? 0;
    if ((cache.CachesDeleted ?? []).length > 0)
      out += `Deleted build cache objects:\n${(cache.CachesDeleted ?? []).map((c) => `${c}\n`).join('')}\n`;
  } catch (err) {
    // A daemon without a builder has no build cache to prune.
    if (![404, 501].includes((err as { status?: number }).status ?? 0)) throw err;
  }
  process.stdout.write(`${out}Total reclaimed space: ${humanSize(reclaimed, 4)}\n`);
}

/**
 * docker's timetypes.GetTimestamp: a Go duration (`10m`) counts back from now, a unix time passes through, a
 * date (RFC 3339 or a prefix of it, local time without a zone) is converted; the result is `seconds[.nanos]`.
 */
export function eventTimestamp(value: string, now: number = Date.now()): string {
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    const ns = BigInt(now) * 1_000_000n - BigInt(parseDurationNs(value));
    return `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new CliError(`invalid value for "since"/"until": "${value}" is not a time or duration`);
  return `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1_000_000).padStart(9, '0')}`;
}

/** Go's time.Format(RFC3339NanoFixed) in the local zone: 2006-01-02T15:04:05.000000000Z07:00. */
function rfc3339NanoFixed(nanos: bigint): string {
  const ms = Number(nanos / 1_000_000n);
  const off = -new Date(ms).getTimezoneOffset();
  const local = new Date(ms + off * 60_000).toISOString().slice(0, 19);
  const frac = String(nanos % 1_000_000_000n).padStart(9, '0');
  const zone =
    off === 0
      ? 'Z'
      : `${off > 0 ? '+' : '-'}${String(Math.trunc(Math.abs(off) / 60)).padStart(2, '0')}:${String(Math.abs(off) % 60).padStart(2, '0')}`;
  return `${local}.${frac}${zone}`;
}

/** docker's prettyPrintEvent. */
export function eventLine(e: EventMessage): string {
  let out = '';
  if (e.timeNano) out += `${rfc3339NanoFixed(BigInt(e.timeNano))} `;
  else if (e.time) out += `${rfc3339NanoFixed(BigInt(e.time) * 1_000_000_000n)} `;
  out += `${e.Type} ${e.Action} ${e.Actor?.ID ?? ''}`;
  const attrs = e.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length > 0) out += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(', ')})`;
  return `${out}\n`;
}

async function events(opts: { since?: string; until?: string; filter?: string[]; format?: string }) {
  const filters: Filters = parseFilters(opts.filter);
  const since = opts.since ? eventTimestamp(opts.since) : undefined;
  const until = opts.until ? eventTimestamp(opts.until) : undefined;
  const tmpl = opts.format ? parseTemplate(opts.format === 'json' ? '{{json .}}' : opts.format) : undefined;
  const client = await ensureDaemon();
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  try {
    for await (const e of client.system.events({ since, until, filters, signal: abort.signal })) {
      process.stdout.write(tmpl ? `${tmpl.execute(e)}\n` : eventLine(e));
    }
  } catch (err) {
    if (abort.signal.aborted) return;
    throw err;
  }
}

function addEvents(cmd: Command): Command {
  return cmd
    .description('Get real time events from the server')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect, [])
    .option('--format <string>', 'Format output using a custom template')
    .option('--since <string>', 'Show all events created since timestamp')
    .option('--until <string>', 'Stream events until this timestamp')
    .action(events);
}

function addInfo(cmd: Command): Command {
  return cmd
    .description('Display system-wide information')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action(info);
}

export function register(program: Command): void {
  program
    .command('version')
    .description('Show the berth version information')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action(version);
  addInfo(program.command('info'));
  addEvents(program.command('events'));

  const system = commandGroup(program, 'system', 'Manage berth');
  addInfo(system.command('info'));
  addEvents(system.command('events'));
  system
    .command('df')
    .description('Show docker disk usage')
    .option('-v, --verbose', 'Show detailed information on space usage')
    .option('--format <string>', 'Format output using a custom template')
    .action(df);
  system
    .command('prune')
    .description('Remove unused data')
    .option('-a, --all', 'Remove all unused images not just dangling ones')
    .option('--volumes', 'Prune anonymous volumes')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<key>=<value>")', collect, [])
    .action(systemPrune);
}
