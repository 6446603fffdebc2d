// The flags of `create` and `run`, and their translation into the Engine API's create body, as the
// docker CLI does it (cli/command/container/opts.go): the daemon sees the same body from either CLI.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ContainerConfig, HostConfig, MountSpec } from '../../containers/record.js';
import { badRequest } from '../../util/index.js';
import { collect, parseBytes, parseDurationNs, splitKeyValue } from './units.js';

export interface CreateBody extends Partial<ContainerConfig> {
  HostConfig: HostConfig;
  NetworkingConfig?: {
    EndpointsConfig: Record<string, { Aliases?: string[]; IPAMConfig?: { IPv4Address?: string } }>;
  };
}

/** Adds every create/run flag to a commander command. */
export function addContainerOptions(cmd: Command): Command {
  return cmd
    .option('-a, --attach <stream>', 'Attach to STDIN, STDOUT or STDERR', collect, [])
    .option('--add-host <host:ip>', 'Add a custom host-to-IP mapping', collect, [])
    .option('--cap-add <cap>', 'Add Linux capabilities', collect, [])
    .option('--cap-drop <cap>', 'Drop Linux capabilities', collect, [])
    .option('--cidfile <file>', 'Write the container ID to the file')
    .option('--cpu-shares <n>', 'CPU shares (relative weight)')
    .option('--cpus <n>', 'Number of CPUs')
    .option('--dns <ip>', 'Set custom DNS servers', collect, [])
    .option('--dns-option <opt>', 'Set DNS options', collect, [])
    .option('--dns-search <domain>', 'Set custom DNS search domains', collect, [])
    .option('--domainname <name>', 'Container NIS domain name')
    .option('--entrypoint <cmd>', 'Overwrite the default ENTRYPOINT of the image')
    .option('-e, --env <k=v>', 'Set environment variables', collect, [])
    .option('--env-file <file>', 'Read in a file of environment variables', collect, [])
    .option('--expose <port>', 'Expose a port or a range of ports', collect, [])
    .option('--group-add <group>', 'Add additional groups to join', collect, [])
    .option('--health-cmd <cmd>', 'Command to run to check health')
    .option('--health-interval <d>', 'Time between running the check')
    .option('--health-retries <n>', 'Consecutive failures needed to report unhealthy')
    .option('--health-start-period <d>', 'Start period for the container to initialize')
    .option('--health-start-interval <d>', 'Time between running the check during the start period')
    .option('--health-timeout <d>', 'Maximum time to allow one check to run')
    .option('-h, --hostname <name>', 'Container host name')
    .option('--init', 'Run an init inside the container that forwards signals and reaps processes')
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('--ip <address>', 'IPv4 address')
    .option('-l, --label <k=v>', 'Set meta data on a container', collect, [])
    .option('--label-file <file>', 'Read in a line delimited file of labels', collect, [])
    .option('--log-driver <driver>', 'Logging driver for the container')
    .option('--log-opt <k=v>', 'Log driver options', collect, [])
    .option('-m, --memory <bytes>', 'Memory limit')
    .option('--memory-swap <bytes>', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    .option('--mount <mount>', 'Attach a filesystem mount to the container', collect, [])
    .option('--name <name>', 'Assign a name to the container')
    .option('--network, --net <network>', 'Connect a container to a network')
    .option('--network-alias <alias>', 'Add network-scoped alias for the container', collect, [])
    .option('--no-healthcheck', 'Disable any container-specified HEALTHCHECK')
    .option('--oom-score-adj <n>', "Tune host's OOM preferences (-1000 to 1000)")
    .option('--pids-limit <n>', 'Tune container pids limit (set -1 for unlimited)')
    .option('--platform <platform>', 'Set platform if server is multi-platform capable')
    .option('--privileged', 'Give extended privileges to this container')
    .option('-p, --publish <spec>', "Publish a container's port(s) to the host", collect, [])
    .option('-P, --publish-all', 'Publish all exposed ports to random ports')
    .option('--pull <policy>', 'Pull image before running ("always", "missing", "never")', 'missing')
    .option('-q, --quiet', 'Suppress the pull output')
    .option('--read-only', "Mount the container's root filesystem as read only")
    .option('--restart <policy>', 'Restart policy to apply when a container exits', 'no')
    .option('--rm', 'Automatically remove the container and its associated anonymous volumes when it exits')
    .option('--runtime <runtime>', 'Runtime to use for this container')
    .option('--security-opt <opt>', 'Security Options', collect, [])
    .option('--shm-size <bytes>', 'Size of /dev/shm')
    .option('--stop-signal <signal>', 'Signal to stop the container')
    .option('--stop-timeout <seconds>', 'Timeout (in seconds) to stop a container')
    .option('--sysctl <k=v>', 'Sysctl options', collect, [])
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('--tmpfs <path>', 'Mount a tmpfs directory', collect, [])
    .option('--ulimit <spec>', 'Ulimit options', collect, [])
    .option('-u, --user <user>', 'Username or UID (format: <name|uid>[:<group|gid>])')
    .option('-v, --volume <spec>', 'Bind mount a volume', collect, [])
    .option('--volumes-from <container>', 'Mount volumes from the specified container(s)', collect, [])
    .option('-w, --workdir <dir>', 'Working directory inside the container');
}

export interface ContainerFlags {
  attach: string[];
  addHost: string[];
  capAdd: string[];
  capDrop: string[];
  cidfile?: string;
  cpuShares?: string;
  cpus?: string;
  dns: string[];
  dnsOption: string[];
  dnsSearch: string[];
  domainname?: string;
  entrypoint?: string;
  env: string[];
  envFile: string[];
  expose: string[];
  groupAdd: string[];
  healthCmd?: string;
  healthInterval?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthStartInterval?: string;
  healthTimeout?: string;
  hostname?: string;
  init?: boolean;
  interactive?: boolean;
  ip?: string;
  label: string[];
  labelFile: string[];
  logDriver?: string;
  logOpt: string[];
  memory?: string;
  memorySwap?: string;
  mount: string[];
  name?: string;
  network?: string;
  /** `--net`: commander files both spellings under this name. */
  net?: string;
  networkAlias: string[];
  healthcheck: boolean;
  oomScoreAdj?: string;
  pidsLimit?: string;
  platform?: string;
  privileged?: boolean;
  publish: string[];
  publishAll?: boolean;
  pull: string;
  quiet?: boolean;
  readOnly?: boolean;
  restart: string;
  rm?: boolean;
  runtime?: string;
  securityOpt: string[];
  shmSize?: string;
  stopSignal?: string;
  stopTimeout?: string;
  sysctl: string[];
  tty?: boolean;
  tmpfs: string[];
  ulimit: string[];
  user?: string;
  volume: string[];
  volumesFrom: string[];
  workdir?: string;
}

/** Reads an env or label file as docker does: `#` comments, blank lines skipped, bare names taken from our env. */
export function readKeyValueFile(path: string, fromEnv: boolean): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw badRequest(
      `open ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
    );
  }
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const [key, value] = splitKeyValue(line);
    if (/\s/.test(key)) throw badRequest(`${path}:${index + 1}: variable '${key}' contains whitespaces`);
    if (value !== undefined) out.push(`${key}=${value}`);
    else if (fromEnv && process.env[key] !== undefined) out.push(`${key}=${process.env[key]}`);
    else if (!fromEnv) out.push(key);
  });
  return out;
}

function intFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim()))
    throw badRequest(
      `invalid argument "${value}" for "--${flag}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`,
    );
  return Number(value);
}

function parseRestart(value: string): HostConfig['RestartPolicy'] {
  const [name, count] = value.split(':');
  if (!['no', 'always', 'unless-stopped', 'on-failure', ''].includes(name!)) {
    throw badRequest(`invalid restart policy format: unknown policy '${name}'`);
  }
  if (count !== undefined) {
    if (name !== 'on-failure')
      throw badRequest(
        `invalid restart policy format: maximum retry count can only be used with 'on-failure'`,
      );
    if (!/^\d+$/.test(count))
      throw badRequest(`invalid restart policy format: maximum retry count must be an integer`);
  }
  return { Name: (name || 'no') as 'no', MaximumRetryCount: count ? Number(count) : 0 };
}

function parseUlimit(spec: string): { Name: string; Soft: number; Hard: number } {
  const [name, values] = splitKeyValue(spec);
  const parts = values?.split(':') ?? [];
  if (!values || parts.length > 2 || parts.some((p) => !/^-?\d+$/.test(p))) {
    throw badRequest(`invalid argument "${spec}" for "--ulimit" flag: invalid ulimit argument: ${spec}`);
  }
  const soft = Number(parts[0]);
  const hard = parts.length === 2 ? Number(parts[1]) : soft;
  if (soft > hard)
    throw badRequest(
      `invalid argument "${spec}" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`,
    );
  return { Name: name, Soft: soft, Hard: hard };
}

/** `--mount type=bind,src=/a,dst=/b,readonly` → the API's Mount object (docker CLI parses this client-side). */
export function parseMountFlag(spec: string): MountSpec {
  const mount: MountSpec = { Type: 'volume', Target: '' };
  for (const field of spec.split(',')) {
    const [rawKey, value] = splitKeyValue(field.trim());
    const key = rawKey.toLowerCase();
    const bool = value === undefined || value === 'true' || value === '1';
    switch (key) {
      case 'type':
        if (value !== 'bind' && value !== 'volume' && value !== 'tmpfs')
          throw badRequest(`invalid argument "${spec}" for "--mount" flag: unknown mount type: ${value}`);
        mount.Type = value;
        break;
      case 'source':
      case 'src':
        mount.Source = value ?? '';
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.Target = value ?? '';
        break;
      case 'readonly':
      case 'ro':
        mount.ReadOnly = bool;
        break;
      case 'bind-propagation':
        mount.BindOptions = { ...mount.BindOptions, Propagation: value };
        break;
      case 'volume-nocopy':
        mount.VolumeOptions = { ...mount.VolumeOptions, NoCopy: bool };
        break;
      case 'volume-driver':
        mount.VolumeOptions = {
          ...mount.VolumeOptions,
          DriverConfig: { ...mount.VolumeOptions?.DriverConfig, Name: value },
        };
        break;
      case 'volume-opt': {
        const [k, v] = splitKeyValue(value ?? '');
        const driver = mount.VolumeOptions?.DriverConfig ?? {};
        mount.VolumeOptions = {
          ...mount.VolumeOptions,
          DriverConfig: { ...driver, Options: { ...driver.Options, [k]: v ?? '' } },
        };
        break;
      }
      case 'volume-label': {
        const [k, v] = splitKeyValue(value ?? '');
        mount.VolumeOptions = {
          ...mount.VolumeOptions,
          Labels: { ...mount.VolumeOptions?.Labels, [k]: v ?? '' },
        };
        break;
      }
      case 'tmpfs-size':
        mount.TmpfsOptions = { ...mount.TmpfsOptions, SizeBytes: parseBytes(value ?? '', 'tmpfs-size') };
        break;
      case 'tmpfs-mode':
        mount.TmpfsOptions = { ...mount.TmpfsOptions, Mode: Number.parseInt(value ?? '', 8) };
        break;
      default:
        throw badRequest(
          `invalid argument "${spec}" for "--mount" flag: unexpected key '${rawKey}' in '${field}'`,
        );
    }
  }
  if (!mount.Target) throw badRequest(`invalid argument "${spec}" for "--mount" flag: target is required`);
  return mount;
}

function healthcheck(flags: ContainerFlags): ContainerConfig['Healthcheck'] | undefined {
  const any =
    flags.healthCmd !== undefined ||
    flags.healthInterval !== undefined ||
    flags.healthTimeout !== undefined ||
    flags.healthRetries !== undefined ||
    flags.healthStartPeriod !== undefined ||
    flags.healthStartInterval !== undefined;
  if (flags.healthcheck === false) {
    if (any) throw badRequest('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!any) return undefined;
  const check: NonNullable<ContainerConfig['Healthcheck']> = {};
  if (flags.healthCmd !== undefined) check.Test = ['CMD-SHELL', flags.healthCmd];
  if (flags.healthInterval) check.Interval = parseDurationNs(flags.healthInterval, 'health-interval');
  if (flags.healthTimeout) check.Timeout = parseDurationNs(flags.healthTimeout, 'health-timeout');
  if (flags.healthStartPeriod)
    check.StartPeriod = parseDurationNs(flags.healthStartPeriod, 'health-start-period');
  if (flags.healthStartInterval)
    check.StartInterval = parseDurationNs(flags.healthStartInterval, 'health-start-interval');
  if (flags.healthRetries) check.Retries = intFlag(flags.healthRetries, 'health-retries');
  if ((check.Interval ?? 0) < 0 || (check.Timeout ?? 0) < 0 || (check.Retries ?? 0) < 0) {
    throw badRequest('--health-interval, --health-timeout and --health-retries cannot be negative');
  }
  return check;
}

/** Parses `-p` specs into ExposedPorts and PortBindings, as nat.ParsePortSpecs does. */
export function parsePublish(
  specs: string[],
  expose: string[],
): {
  exposed: Record<string, object>;
  bindings: Record<string, { HostIp: string; HostPort: string }[]>;
} {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  const range = (text: string, what: string): [number, number] => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(text);
    const lo = m ? Number(m[1]) : Number.NaN;
    const hi = m?.[2] ? Number(m[2]) : lo;
    if (!m || lo < 1 || hi > 65535 || hi < lo) throw badRequest(`invalid ${what}: ${text}`);
    return [lo, hi];
  };
  for (const port of expose) {
    const [p, proto = 'tcp'] = port.split('/');
    const [lo, hi] = range(p!, 'range format for --expose');
    for (let n = lo; n <= hi; n++) exposed[`${n}/${proto}`] = {};
  }
  for (const spec of specs) {
    let rest = spec;
    let proto = 'tcp';
    const slash = rest.lastIndexOf('/');
    if (slash >= 0) {
      proto = rest.slice(slash + 1).toLowerCase();
      rest = rest.slice(0, slash);
      if (!['tcp', 'udp', 'sctp'].includes(proto)) throw badRequest(`invalid proto: ${proto}`);
    }
    let ip = '';
    let hostPart = '';
    let ctrPart = rest;
    const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
    if (v6) {
      ip = v6[1]!;
      [hostPart = '', ctrPart = ''] = splitLast(v6[2]!);
    } else {
      const parts = rest.split(':');
      if (parts.length === 3) [ip, hostPart, ctrPart] = parts as [string, string, string];
      else if (parts.length === 2) [hostPart, ctrPart] = parts as [string, string];
      else if (parts.length > 3) throw badRequest(`invalid port format: ${spec}`);
    }
    if (ip && !/^(\d{1,3}\.){3}\d{1,3}$/.test(ip) && !ip.includes(':'))
      throw badRequest(`invalid IP address: ${ip}`);
    if (!ctrPart) throw badRequest(`no port specified: ${spec}<empty>`);
    const [clo, chi] = range(ctrPart, 'containerPort');
    let hlo = 0;
    let hhi = 0;
    if (hostPart) [hlo, hhi] = range(hostPart, 'hostPort');
    const count = chi - clo + 1;
    if (hostPart && hhi - hlo + 1 !== count && hlo !== hhi) {
      throw badRequest(`invalid ranges specified for container and host Ports: ${ctrPart} and ${hostPart}`);
    }
    for (let i = 0; i < count; i++) {
      const key = `${clo + i}/${proto}`;
      exposed[key] = {};
      const hostPort = !hostPart ? '' : hlo === hhi && count > 1 ? `${hlo}` : `${hlo + i}`;
      (bindings[key] ??= []).push({ HostIp: ip, HostPort: hostPort });
    }
  }
  return { exposed, bindings };
}

/** opts.normalizeCapabilities: upper case with the CAP_ prefix; ALL stays ALL. */
function normalizeCaps(caps: string[]): string[] {
  return caps.map((c) => {
    const up = c.trim().toUpperCase();
    return up === 'ALL' || up.startsWith('CAP_') ? up : `CAP_${up}`;
  });
}

function splitLast(text: string): [string, string] {
  const i = text.lastIndexOf(':');
  return i < 0 ? ['', text] : [text.slice(0, i), text.slice(i + 1)];
}

/** Translates parsed flags + image + command into the create body the docker CLI would send. */
export function buildCreateBody(flags: ContainerFlags, image: string, command: string[]): CreateBody {
  const env = [
    ...flags.envFile.flatMap((f) => readKeyValueFile(f, true)),
    ...flags.env.map((e) => (e.includes('=') || process.env[e] === undefined ? e : `${e}=${process.env[e]}`)),
  ];
  const labels: Record<string, string> = {};
  for (const entry of [...flags.labelFile.flatMap((f) => readKeyValueFile(f, false)), ...flags.label]) {
    const [k, v] = splitKeyValue(entry);
    labels[k] = v ?? '';
  }
  const attach = flags.attach.map((s) => s.toLowerCase());
  for (const stream of attach) {
    if (!['stdin', 'stdout', 'stderr'].includes(stream))
      throw badRequest(
        `invalid argument "${stream}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`,
      );
  }
  const { exposed, bindings } = parsePublish(flags.publish, flags.expose);
  const tmpfs: Record<string, string> = {};
  for (const t of flags.tmpfs) {
    const colon = t.indexOf(':');
    tmpfs[colon < 0 ? t : t.slice(0, colon)] = colon < 0 ? '' : t.slice(colon + 1);
  }
  const sysctls: Record<string, string> = {};
  for (const s of flags.sysctl) {
    const [k, v] = splitKeyValue(s);
    if (v === undefined)
      throw badRequest(`invalid argument "${s}" for "--sysctl" flag: sysctl '${s}' is not allowed`);
    sysctls[k] = v;
  }
  const logConfig: Record<string, string> = {};
  for (const o of flags.logOpt) {
    const [k, v] = splitKeyValue(o);
    logConfig[k] = v ?? '';
  }
  if (flags.rm && flags.restart && flags.restart !== 'no')
    throw badRequest('Conflicting options: --restart and --rm');
  let nanoCpus: number | undefined;
  if (flags.cpus !== undefined) {
    const cpus = Number(flags.cpus);
    if (!Number.isFinite(cpus) || cpus < 0)
      throw badRequest(
        `invalid argument "${flags.cpus}" for "--cpus" flag: failed to parse ${flags.cpus} as a rational number`,
      );
    nanoCpus = Math.round(cpus * 1e9);
  }
  const network = flags.network ?? flags.net ?? 'default';
  const endpoint: { Aliases?: string[]; IPAMConfig?: { IPv4Address?: string } } = {};
  if (flags.networkAlias.length) endpoint.Aliases = flags.networkAlias;
  if (flags.ip) endpoint.IPAMConfig = { IPv4Address: flags.ip };
  const interactive = !!flags.interactive;
  const attachStdin = attach.length ? attach.includes('stdin') : interactive;
  const memorySwap =
    flags.memorySwap === undefined
      ? undefined
      : flags.memorySwap === '-1'
        ? -1
        : parseBytes(flags.memorySwap, 'memory-swap');
  const body: CreateBody = {
    Hostname: flags.hostname ?? '',
    Domainname: flags.domainname ?? '',
    User: flags.user ?? '',
    AttachStdin: attachStdin,
    AttachStdout: attach.length ? attach.includes('stdout') : true,
    AttachStderr: attach.length ? attach.includes('stderr') : true,
    ExposedPorts: exposed,
    Tty: !!flags.tty,
    OpenStdin: interactive,
    StdinOnce: interactive && attachStdin,
    Env: env,
    Cmd: command.length ? command : null,
    Image: image,
    Volumes: null,
    WorkingDir: flags.workdir ?? '',
    Entrypoint: flags.entrypoint === undefined ? null : flags.entrypoint === '' ? [''] : [flags.entrypoint],
    OnBuild: null,
    Labels: labels,
    HostConfig: {
      Binds: flags.volume,
      NetworkMode: network,
      PortBindings: bindings,
      RestartPolicy: parseRestart(flags.restart),
      AutoRemove: !!flags.rm,
      VolumesFrom: flags.volumesFrom,
      Mounts: flags.mount.map(parseMountFlag),
      CapAdd: normalizeCaps(flags.capAdd),
      CapDrop: normalizeCaps(flags.capDrop),
      Dns: flags.dns,
      DnsOptions: flags.dnsOption,
      DnsSearch: flags.dnsSearch,
      ExtraHosts: flags.addHost,
      GroupAdd: flags.groupAdd,
      Privileged: !!flags.privileged,
      PublishAllPorts: !!flags.publishAll,
      ReadonlyRootfs: !!flags.readOnly,
      SecurityOpt: flags.securityOpt,
      Tmpfs: tmpfs,
      Init: flags.init ? true : null,
      Memory: flags.memory ? parseBytes(flags.memory, 'memory') : 0,
      MemorySwap: memorySwap ?? 0,
      NanoCpus: nanoCpus ?? 0,
      CpuShares: intFlag(flags.cpuShares, 'cpu-shares') ?? 0,
      PidsLimit: intFlag(flags.pidsLimit, 'pids-limit') ?? null,
      Ulimits: flags.ulimit.map(parseUlimit),
      Sysctls: sysctls,
      ShmSize: flags.shmSize ? parseBytes(flags.shmSize, 'shm-size') : 0,
      OomScoreAdj: intFlag(flags.oomScoreAdj, 'oom-score-adj') ?? 0,
      LogConfig: { Type: flags.logDriver ?? '', Config: logConfig },
    },
    NetworkingConfig: { EndpointsConfig: Object.keys(endpoint).length ? { [network]: endpoint } : {} },
  };
  if (flags.runtime) body.HostConfig.Runtime = flags.runtime;
  const check = healthcheck(flags);
  if (check) body.Healthcheck = check;
  if (flags.stopSignal) body.StopSignal = flags.stopSignal;
  if (flags.stopTimeout !== undefined) body.StopTimeout = intFlag(flags.stopTimeout, 'stop-timeout');
  return body;
}
