// Projections of a container record into the Engine API's shapes: ps summaries and inspect output.
import { existsSync } from 'node:fs';
import type { ContainerRecord } from './record.js';

/** Docker's units.HumanDuration: "Less than a second", "About a minute", "3 hours"… */
export function humanDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.round(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3600000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** The STATUS column: "Up 3 seconds (healthy)", "Exited (0) 2 minutes ago", "Created"… */
export function statusText(rec: ContainerRecord, now = Date.now()): string {
  const s = rec.State;
  const since = (iso: string) => humanDuration(now - Date.parse(iso));
  switch (s.Status) {
    case 'running': {
      const health = s.Health
        ? ` (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})`
        : '';
      return `Up ${since(s.StartedAt)}${health}`;
    }
    case 'paused':
      return `Up ${since(s.StartedAt)} (Paused)`;
    case 'restarting':
      return `Restarting (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'exited':
      return s.FinishedAt.startsWith('0001')
        ? `Exited (${s.ExitCode})`
        : `Exited (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
    default:
      return 'Created';
  }
}

/** The COMMAND column's source: path and args joined as Docker does (quoted by the CLI when shown). */
export function commandText(rec: ContainerRecord): string {
  return [rec.Path, ...rec.Args].filter((p) => p !== '').join(' ');
}

export interface PortSummary {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

export function portSummaries(rec: ContainerRecord): PortSummary[] {
  const out: PortSummary[] = [];
  const running = rec.State.Running;
  const keys = new Set([...Object.keys(rec.Config.ExposedPorts ?? {}), ...Object.keys(rec.Ports ?? {})]);
  for (const key of keys) {
    const [port, proto = 'tcp'] = key.split('/');
    const bindings = running ? rec.Ports[key] : null;
    if (!bindings || bindings.length === 0) {
      out.push({ PrivatePort: Number(port), Type: proto });
      continue;
    }
    for (const b of bindings) {
      out.push({
        IP: b.HostIp || '0.0.0.0',
        PrivatePort: Number(port),
        PublicPort: Number(b.HostPort),
        Type: proto,
      });
    }
  }
  return out;
}

const EMPTY_ENDPOINT = {
  IPAMConfig: null,
  Links: null,
  Aliases: null,
  NetworkID: '',
  EndpointID: '',
  Gateway: '',
  IPAddress: '',
  IPPrefixLen: 0,
  IPv6Gateway: '',
  GlobalIPv6Address: '',
  GlobalIPv6PrefixLen: 0,
  MacAddress: '',
  DriverOpts: null,
};

/** The container's networks as Docker lists them: `none` and `host` appear as (empty) endpoints too. */
function displayNetworks(rec: ContainerRecord): ContainerRecord['Networks'] {
  const mode = rec.HostConfig.NetworkMode;
  if (Object.keys(rec.Networks).length === 0 && (mode === 'none' || mode === 'host'))
    return { [mode]: EMPTY_ENDPOINT as unknown as ContainerRecord['Networks'][string] };
  return rec.Networks;
}

const CGROUP_V2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** HostConfig with the defaults dockerd fills in at create, for fields the client left empty. */
function hostConfigView(hc: ContainerRecord['HostConfig']) {
  const out: Record<string, unknown> = { ...hc };
  const empty = (v: unknown) => v === undefined || v === null || v === '';
  const fill = (key: string, value: unknown) => {
    if (empty(out[key])) out[key] = value;
  };
  if (empty((hc.LogConfig as { Type?: string } | undefined)?.Type))
    out.LogConfig = {
      Type: 'json-file',
      Config: (hc.LogConfig as { Config?: unknown } | undefined)?.Config ?? {},
    };
  fill('CgroupnsMode', CGROUP_V2 ? 'private' : 'host');
  fill('IpcMode', 'private');
  fill('Runtime', 'runc');
  if (!out.ShmSize) out.ShmSize = 64 * 1024 * 1024;
  if (out.MemorySwappiness === -1) out.MemorySwappiness = null;
  if (!hc.Privileged) {
    fill('MaskedPaths', MASKED_PATHS);
    fill('ReadonlyPaths', READONLY_PATHS);
  }
  return out;
}

/** Config without the empty maps dockerd leaves out (null Volumes, no ExposedPorts key). */
function configView(config: ContainerRecord['Config']) {
  const out: Record<string, unknown> = { ...config };
  if (!config.Volumes || Object.keys(config.Volumes).length === 0) out.Volumes = null;
  if (!config.ExposedPorts || Object.keys(config.ExposedPorts).length === 0) delete out.ExposedPorts;
  return out;
}

function networkSettings(rec: ContainerRecord) {
  const first = Object.values(rec.Networks)[0];
  return {
    Bridge: '',
    SandboxID: rec.State.Running ? rec.Id : '',
    SandboxKey: rec.SandboxKey,
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: rec.State.Running ? rec.Ports : {},
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: rec.Networks.bridge?.EndpointID ?? '',
    Gateway: rec.Networks.bridge?.Gateway ?? '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: rec.Networks.bridge?.IPAddress ?? '',
    IPPrefixLen: rec.Networks.bridge?.IPPrefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: rec.Networks.bridge?.MacAddress ?? first?.MacAddress ?? '',
    Networks: displayNetworks(rec),
  };
}

export interface SummaryOptions {
  sizeRw?: number;
  sizeRootFs?: number;
}

/** `GET /containers/json` item (swagger ContainerSummary). */
export function containerSummary(rec: ContainerRecord, opts: SummaryOptions = {}) {
  return {
    Id: rec.Id,
    Names: [`/${rec.Name}`],
    Image: rec.ImageName,
    ImageID: rec.Image,
    Command: commandText(rec),
    Created: Math.floor(Date.parse(rec.Created) / 1000),
    Ports: portSummaries(rec),
    ...(opts.sizeRw !== undefined ? { SizeRw: opts.sizeRw, SizeRootFs: opts.sizeRootFs ?? 0 } : {}),
    Labels: rec.Config.Labels ?? {},
    State: rec.State.Status,
    Status: statusText(rec),
    HostConfig: { NetworkMode: rec.HostConfig.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: displayNetworks(rec) },
    Mounts: rec.Mounts,
  };
}

export interface InspectPaths {
  resolvConfPath: string;
  hostnamePath: string;
  hostsPath: string;
  logPath: string;
  upperDir: string;
  workDir: string;
  mergedDir: string;
  lowerDirs: string;
}

/** `GET /containers/{id}/json` (swagger ContainerInspectResponse). */
export function containerInspect(rec: ContainerRecord, paths: InspectPaths, opts: SummaryOptions = {}) {
  return {
    Id: rec.Id,
    Created: rec.Created,
    Path: rec.Path,
    Args: rec.Args,
    State: rec.State,
    Image: rec.Image,
    ResolvConfPath: paths.resolvConfPath,
    HostnamePath: paths.hostnamePath,
    HostsPath: paths.hostsPath,
    LogPath: paths.logPath,
    Name: `/${rec.Name}`,
    RestartCount: rec.RestartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: hostConfigView(rec.HostConfig),
    GraphDriver: {
      Name: 'overlay2',
      Data: {
        LowerDir: paths.lowerDirs,
        MergedDir: paths.mergedDir,
        UpperDir: paths.upperDir,
        WorkDir: paths.workDir,
      },
    },
    ...(opts.sizeRw !== undefined ? { SizeRw: opts.sizeRw, SizeRootFs: opts.sizeRootFs ?? 0 } : {}),
    Mounts: rec.Mounts,
    Config: configView(rec.Config),
    NetworkSettings: networkSettings(rec),
  };
}
