// OCI runtime spec generation from a merged container config and host config, as dockerd does it
// (daemon/oci_linux.go + oci/defaults.go): namespaces, default mounts, masked paths, capabilities,
// seccomp, rlimits, cgroup resources, user and working directory.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { badRequest } from '../util/index.js';
import { computeCapabilities } from './caps.js';
import { computeRlimits, type HostLimits, RLIM_INFINITY, type Ulimit } from './limits.js';
import { type ContainerConfig, commandOf } from './merge.js';
import type {
  OciDevice,
  OciDeviceRule,
  OciMount,
  OciNamespace,
  OciProcess,
  OciSeccomp,
  OciSpec,
} from './oci.js';
import { mkdirInRoot } from './rootfs.js';
import { defaultSeccompProfile } from './seccomp.js';
import { resolveUser } from './user.js';

/** The Engine API HostConfig fields the runtime spec depends on. */
export interface HostConfig {
  Privileged?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  Ulimits?: Ulimit[] | null;
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean | null;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  BlkioWeight?: number;
  Tmpfs?: Record<string, string> | null;
  Init?: boolean | null;
  Sysctls?: Record<string, string> | null;
  OomScoreAdj?: number;
  GroupAdd?: string[] | null;
  ShmSize?: number;
  CgroupParent?: string;
  Devices?: { PathOnHost: string; PathInContainer: string; CgroupPermissions?: string }[] | null;
  /** "host" shares the host's; "" / "private" a fresh one. container:<id> is resolved by the caller (joinNamespaces). */
  PidMode?: string;
  /** "host" (host's IPC and /dev/shm), "none" (no /dev/shm), "" / "private" / "shareable". */
  IpcMode?: string;
  /** "host" shares the host's hostname. */
  UTSMode?: string;
}

/** A mount already resolved by the volumes module. */
export interface ResolvedMount {
  source: string;
  destination: string;
  type: string;
  options?: string[];
}

export interface SpecInput {
  id: string;
  /** Host path of the container's root filesystem (already mounted). */
  rootfs: string;
  /** Merged config (see mergeConfig). */
  config: ContainerConfig;
  hostConfig?: HostConfig;
  mounts?: readonly ResolvedMount[];
  /** Host files bind-mounted at /etc/hosts, /etc/resolv.conf, /etc/hostname. */
  etc?: { hosts?: string; resolvConf?: string; hostname?: string };
  /** A netns path to join, 'host' for the host's network, or undefined for a fresh netns (loopback only). */
  netns?: string;
  /** Path of a tini-like init on the host; default: /usr/bin/docker-init or /usr/bin/catatonit. */
  initPath?: string;
  /** For tests: the limits to clamp against (default: this process's). */
  hostLimits?: HostLimits;
  /** Whether the host can limit swap (memory.memsw on cgroup v1); default: detected. */
  swapLimit?: boolean;
  /** Namespaces to join, e.g. `{ pid: '/proc/123/ns/pid' }` for --pid container:<id>. */
  joinNamespaces?: Partial<Record<'pid' | 'ipc' | 'uts', string>>;
}

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
export const CGROUP_PARENT = '/berth';

export const MASKED_PATHS = [
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
  '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Devices every container may use (the cgroup allow list of Docker's default spec). */
const DEFAULT_DEVICE_RULES: OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: null, minor: null, access: 'm' },
  { allow: true, type: 'b', major: null, minor: null, access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 136, minor: null, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

function defaultMounts(shmSize: number, privileged: boolean): OciMount[] {
  const ro = privileged ? [] : ['ro'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...ro] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', ...ro],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`],
    },
  ];
}

/** The init binary Docker would use, if one is installed. */
export function findInit(): string | undefined {
  return ['/usr/bin/docker-init', '/usr/bin/catatonit', '/usr/libexec/podman/catatonit'].find((p) =>
    existsSync(p),
  );
}

let swapDetected: boolean | undefined;
function hostSwapLimit(): boolean {
  swapDetected ??=
    existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') ||
    existsSync('/sys/fs/cgroup/cgroup.controllers');
  return swapDetected;
}

/** Every char/block device under /dev, for --privileged (skipping the container's own pts/shm/mqueue). */
function hostDevices(dir = '/dev'): OciDevice[] {
  const out: OciDevice[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (['/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console'].includes(path)) continue;
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(path, { throwIfNoEntry: false } as never) as ReturnType<typeof statSync>;
    } catch {
      continue;
    }
    if (!st) continue;
    if (st.isDirectory()) out.push(...hostDevices(path));
    else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const rdev = Number(st.rdev);
      out.push({
        type: st.isCharacterDevice() ? 'c' : 'b',
        path,
        major: (rdev >> 8) & 0xfff,
        minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
        fileMode: Number(st.mode) & 0o777,
        uid: Number(st.uid),
        gid: Number(st.gid),
      });
    }
  }
  return out;
}

/** Parses a --tmpfs value ("rw,noexec,size=64m") into mount options over Docker's defaults. */
export function tmpfsOptions(value: string): string[] {
  const opts = ['noexec', 'nosuid', 'nodev'];
  const given = value ? value.split(',').filter(Boolean) : [];
  const opposite: Record<string, string> = {
    exec: 'noexec',
    noexec: 'exec',
    suid: 'nosuid',
    nosuid: 'suid',
    dev: 'nodev',
    nodev: 'dev',
  };
  let out = opts;
  for (const o of given) {
    const opp = opposite[o];
    if (opp) out = out.filter((x) => x !== opp);
    const key = o.split('=')[0]!;
    out = out.filter((x) => x.split('=')[0] !== key);
    out.push(o);
  }
  return out;
}

function parseSecurityOpts(opts: readonly string[]): { noNewPrivileges: boolean; seccomp?: string } {
  let noNewPrivileges = false;
  let seccomp: string | undefined;
  for (const raw of opts) {
    const eq = raw.indexOf('=');
    const colon = raw.indexOf(':');
    const sep = eq < 0 ? colon : colon < 0 ? eq : Math.min(eq, colon);
    const key = sep < 0 ? raw : raw.slice(0, sep);
    const value = sep < 0 ? '' : raw.slice(sep + 1);
    switch (key) {
      case 'no-new-privileges':
        if (value !== '' && value !== 'true' && value !== 'false') {
          throw badRequest(`invalid --security-opt: ${raw}`);
        }
        noNewPrivileges = value !== 'false';
        break;
      case 'seccomp':
        seccomp = value;
        break;
      case 'apparmor':
      case 'label':
        break; // no LSM policy managed here
      default:
        throw badRequest(`invalid --security-opt: ${raw}`);
    }
  }
  return { noNewPrivileges, seccomp };
}

function seccompFor(value: string | undefined, caps: string[], privileged: boolean): OciSeccomp | undefined {
  if (value === 'unconfined' || (privileged && value === undefined)) return undefined;
  if (value === undefined || value === 'builtin' || value === '') return defaultSeccompProfile(caps);
  try {
    const parsed = JSON.parse(value) as OciSeccomp & { archMap?: unknown };
    if (typeof parsed.defaultAction !== 'string') throw new Error('missing defaultAction');
    const { archMap: _ignored, ...profile } = parsed;
    return profile;
  } catch (err) {
    throw badRequest(`invalid seccomp profile: ${(err as Error).message}`);
  }
}

/** Builds the OCI runtime spec; creates the working directory in the rootfs if it is missing. */
export function generateSpec(input: SpecInput): OciSpec {
  const { config } = input;
  const hc = input.hostConfig ?? {};
  const privileged = hc.Privileged === true;
  const args = commandOf(config);
  if (args.length === 0) throw badRequest('No command specified');

  const user = resolveUser(input.rootfs, config.User, hc.GroupAdd ?? []);
  const cwd = config.WorkingDir ? posix.normalize(`/${config.WorkingDir}`) : '/';
  if (config.WorkingDir && !config.WorkingDir.startsWith('/')) {
    throw badRequest(
      `the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`,
    );
  }
  if (cwd !== '/') mkdirInRoot(input.rootfs, cwd, user.uid, user.gid);

  const caps = computeCapabilities(hc.CapAdd ?? [], hc.CapDrop ?? [], privileged);
  const security = parseSecurityOpts(hc.SecurityOpt ?? []);

  for (const [name, mode] of [
    ['PidMode', hc.PidMode],
    ['UTSMode', hc.UTSMode],
  ] as const) {
    if (mode && mode !== 'host' && mode !== 'private' && !mode.startsWith('container:')) {
      throw badRequest(`invalid ${name}: ${mode}`);
    }
  }
  if (hc.IpcMode && !/^(host|none|private|shareable|container:.+)$/.test(hc.IpcMode)) {
    throw badRequest(`invalid IpcMode: ${hc.IpcMode}`);
  }
  const utsHost = hc.UTSMode === 'host';
  const hostname = utsHost ? undefined : config.Hostname || input.id.slice(0, 12);
  const env: string[] = [];
  const userEnv = config.Env ?? [];
  if (!userEnv.some((e) => e.startsWith('PATH='))) env.push(DEFAULT_PATH);
  if (hostname) env.push(`HOSTNAME=${hostname}`);
  if (config.Tty) env.push('TERM=xterm');
  env.push(...userEnv);

  // Mounts: defaults first, then the caller's; a caller's mount replaces a default at the same place.
  const user_mounts: OciMount[] = [];
  for (const m of input.mounts ?? []) {
    if (!m.destination.startsWith('/'))
      throw badRequest(`invalid mount destination ${m.destination}: not absolute`);
    user_mounts.push({
      destination: m.destination,
      type: m.type,
      source: m.source,
      options: m.options ?? [],
    });
  }
  for (const [dest, value] of Object.entries(hc.Tmpfs ?? {})) {
    if (!dest.startsWith('/')) throw badRequest(`invalid tmpfs mount ${dest}: destination must be absolute`);
    user_mounts.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(value) });
  }
  const etc: [string, string | undefined][] = [
    ['/etc/resolv.conf', input.etc?.resolvConf],
    ['/etc/hostname', input.etc?.hostname],
    ['/etc/hosts', input.etc?.hosts],
  ];
  for (const [dest, source] of etc) {
    if (source) user_mounts.push({ destination: dest, type: 'bind', source, options: ['rbind', 'rprivate'] });
  }
  const initPath = hc.Init ? (input.initPath ?? findInit()) : undefined;
  if (hc.Init && !initPath)
    throw badRequest('--init requested but no init binary (docker-init or catatonit) is installed');
  if (initPath) {
    user_mounts.push({
      destination: '/sbin/docker-init',
      type: 'bind',
      source: initPath,
      options: ['bind', 'ro'],
    });
  }
  const taken = new Set(user_mounts.map((m) => posix.normalize(m.destination)));
  const mounts = [
    ...defaultMounts(hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : DEFAULT_SHM_SIZE, privileged)
      .filter((m) => !taken.has(m.destination))
      .flatMap((m): OciMount[] => {
        if (m.destination !== '/dev/shm') return [m];
        if (hc.IpcMode === 'none') return [];
        if (hc.IpcMode === 'host') {
          return [
            { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] },
          ];
        }
        return [m];
      }),
    // Sorted by depth so a parent is mounted before what is mounted inside it.
    ...user_mounts.sort((a, b) => depth(a.destination) - depth(b.destination)),
  ];
  const namespaces: OciNamespace[] = [{ type: 'mount' }];
  const modes: Record<'pid' | 'ipc' | 'uts', string | undefined> = {
    pid: hc.PidMode,
    ipc: hc.IpcMode,
    uts: hc.UTSMode,
  };
  for (const type of ['uts', 'pid', 'ipc'] as const) {
    const nsPath = input.joinNamespaces?.[type];
    if (nsPath) namespaces.push({ type, path: nsPath });
    else if (modes[type] !== 'host') namespaces.push({ type });
  }
  if (input.netns === undefined) namespaces.push({ type: 'network' });
  else if (input.netns !== 'host') namespaces.push({ type: 'network', path: input.netns });

  const resources = buildResources(hc, input.swapLimit ?? hostSwapLimit());
  const devices = privileged ? hostDevices() : [];
  for (const d of hc.Devices ?? [])
    devices.push(...deviceFromHost(d.PathOnHost, d.PathInContainer || d.PathOnHost));
  if (privileged) resources.devices = [{ allow: true, access: 'rwm' }];
  else {
    for (const d of hc.Devices ?? []) {
      for (const dev of deviceFromHost(d.PathOnHost, d.PathInContainer || d.PathOnHost)) {
        resources.devices!.push({
          allow: true,
          type: dev.type === 'b' ? 'b' : 'c',
          major: dev.major,
          minor: dev.minor,
          access: d.CgroupPermissions || 'rwm',
        });
      }
    }
  }

  const spec: OciSpec = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: config.Tty === true,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args: initPath ? ['/sbin/docker-init', '--', ...args] : args,
      env,
      cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: computeRlimits(hc.Ulimits ?? [], input.hostLimits),
      noNewPrivileges: security.noNewPrivileges,
      oomScoreAdj: hc.OomScoreAdj ?? 0,
    },
    root: { path: input.rootfs, readonly: hc.ReadonlyRootfs === true },
    mounts,
    linux: {
      namespaces,
      cgroupsPath: `${hc.CgroupParent || CGROUP_PARENT}/${input.id}`,
      resources,
      devices,
      maskedPaths: privileged ? [] : [...MASKED_PATHS],
      readonlyPaths: privileged ? [] : [...READONLY_PATHS],
      sysctl: { ...(hc.Sysctls ?? {}) },
    },
  };
  if (hostname) spec.hostname = hostname;
  if (config.Domainname && !utsHost) spec.domainname = config.Domainname;
  const seccomp = seccompFor(security.seccomp, caps, privileged);
  if (seccomp) spec.linux.seccomp = seccomp;
  return spec;
}

const depth = (p: string): number => posix.normalize(p).split('/').filter(Boolean).length;

function deviceFromHost(hostPath: string, containerPath: string): OciDevice[] {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(hostPath);
  } catch {
    throw badRequest(
      `error gathering device information while adding custom device "${hostPath}": no such file or directory`,
    );
  }
  if (st.isDirectory()) {
    return hostDevices(hostPath).map((d) => ({
      ...d,
      path: posix.join(containerPath, d.path.slice(hostPath.length)),
    }));
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw badRequest(`${hostPath} is not a device node`);
  const rdev = Number(st.rdev);
  return [
    {
      type: st.isCharacterDevice() ? 'c' : 'b',
      path: containerPath,
      major: (rdev >> 8) & 0xfff,
      minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
      fileMode: Number(st.mode) & 0o777,
      uid: 0,
      gid: 0,
    },
  ];
}

function buildResources(hc: HostConfig, swapLimit: boolean): NonNullable<OciSpec['linux']['resources']> {
  const resources: NonNullable<OciSpec['linux']['resources']> = { devices: [...DEFAULT_DEVICE_RULES] };
  const memory: NonNullable<typeof resources.memory> = {};
  const mem = hc.Memory ?? 0;
  if (mem < 0) throw badRequest('invalid Memory: must not be negative');
  if (mem > 0 && mem < 6 * 1024 * 1024) throw badRequest('Minimum memory limit allowed is 6MB');
  if (mem > 0) memory.limit = mem;
  let swap = hc.MemorySwap ?? 0;
  if (mem > 0 && swap === 0) swap = mem * 2; // Docker: swap defaults to the memory limit again
  if (swap > 0 && mem > 0 && swap < mem) {
    throw badRequest('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (swap > 0 && mem === 0)
    throw badRequest('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (swapLimit && mem > 0 && swap !== 0) memory.swap = swap;
  if (hc.MemoryReservation) memory.reservation = hc.MemoryReservation;
  if (hc.MemorySwappiness !== undefined && hc.MemorySwappiness !== null && hc.MemorySwappiness >= 0) {
    if (hc.MemorySwappiness > 100)
      throw badRequest(`invalid MemorySwappiness ${hc.MemorySwappiness}: 0 to 100`);
    memory.swappiness = hc.MemorySwappiness;
  }
  if (hc.OomKillDisable) memory.disableOOMKiller = true;
  if (Object.keys(memory).length > 0) resources.memory = memory;

  const cpu: NonNullable<typeof resources.cpu> = {};
  if (hc.NanoCpus) {
    if (hc.CpuQuota || hc.CpuPeriod) {
      throw badRequest('Conflicting options: Nano CPUs and CPU Period / CPU Quota cannot both be set');
    }
    if (hc.NanoCpus < 0) throw badRequest('invalid NanoCpus: must not be negative');
    cpu.period = 100000;
    cpu.quota = Math.round((hc.NanoCpus * cpu.period) / 1e9);
    if (cpu.quota < 1000) throw badRequest('Range of CPUs is from 0.01 to the number of CPUs available');
  }
  if (hc.CpuPeriod) cpu.period = hc.CpuPeriod;
  if (hc.CpuQuota) cpu.quota = hc.CpuQuota;
  if (hc.CpuShares) {
    if (hc.CpuShares < 0) throw badRequest('invalid CpuShares: must not be negative');
    cpu.shares = Math.max(2, hc.CpuShares);
  }
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if (Object.keys(cpu).length > 0) resources.cpu = cpu;

  if (hc.PidsLimit !== undefined && hc.PidsLimit !== null && hc.PidsLimit !== 0) {
    resources.pids = { limit: hc.PidsLimit < 0 ? -1 : hc.PidsLimit };
  }
  if (hc.BlkioWeight) resources.blockIO = { weight: hc.BlkioWeight };
  return resources;
}

/** The Engine API exec create body fields that shape the process. */
export interface ExecConfig {
  Cmd: string[];
  Env?: string[] | null;
  User?: string;
  WorkingDir?: string;
  Tty?: boolean;
  Privileged?: boolean;
}

/**
 * The process spec for `docker exec`: the container's process with the exec's command; Env merged
 * by key over the container's; User resolved in the rootfs (default: the container's user);
 * WorkingDir default: the container's; Privileged grants every capability.
 */
export function execProcessSpec(container: OciSpec, rootfs: string, exec: ExecConfig): OciProcess {
  if (!exec.Cmd || exec.Cmd.length === 0) throw badRequest('No exec command specified');
  if (exec.WorkingDir && !exec.WorkingDir.startsWith('/')) {
    throw badRequest(
      `the working directory '${exec.WorkingDir}' is invalid, it needs to be an absolute path`,
    );
  }
  const base = container.process;
  const env = [...base.env];
  if (exec.Tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  for (const e of exec.Env ?? []) {
    const key = e.includes('=') ? e.slice(0, e.indexOf('=')) : e;
    const at = env.findIndex((x) => x === key || x.startsWith(`${key}=`));
    if (at >= 0) env[at] = e;
    else env.push(e);
  }
  let user = base.user;
  if (exec.User) {
    const u = resolveUser(rootfs, exec.User);
    user = { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids };
  }
  const caps = exec.Privileged ? computeCapabilities([], [], true) : undefined;
  return {
    ...base,
    terminal: exec.Tty === true,
    args: [...exec.Cmd],
    env,
    cwd: exec.WorkingDir || base.cwd,
    user,
    capabilities: caps ? { bounding: caps, effective: caps, permitted: caps } : base.capabilities,
  };
}

/** config.json text; unlimited rlimits are written as 2^64-1 exactly (JS numbers would round it). */
export function serializeSpec(spec: OciSpec | OciProcess): string {
  const text = JSON.stringify(spec, null, 2);
  return text.replaceAll(String(RLIM_INFINITY), '18446744073709551615');
}
