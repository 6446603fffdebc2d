// System routes: /version, /info, /events, /system/df.
import { readFileSync } from 'node:fs';
import { arch, cpus, hostname, release, totalmem } from 'node:os';
import type { DaemonContext } from '../../daemon/context.js';
import { type EngineEvent, eventMatches } from '../../daemon/events.js';
import { badRequest } from '../../util/index.js';
import { API_VERSION, type ApiRequest, jsonStream, MIN_API_VERSION, type Router } from '../index.js';

/** The Engine release whose API level berth serves (API 1.47 = Engine 27.3). */
export const ENGINE_COMPAT_VERSION = '27.3.1';
export const BERTH_VERSION = '0.1.0';

const EVENT_FILTERS = [
  'config',
  'container',
  'daemon',
  'event',
  'image',
  'label',
  'network',
  'node',
  'plugin',
  'scope',
  'secret',
  'service',
  'type',
  'volume',
];

function goArch(): string {
  return arch() === 'x64' ? 'amd64' : arch();
}

function operatingSystem(): string {
  try {
    const line = readFileSync('/etc/os-release', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('PRETTY_NAME='));
    return line ? line.slice('PRETTY_NAME='.length).replace(/^"|"$/g, '') : 'Linux';
  } catch {
    return 'Linux';
  }
}

export function versionBody() {
  const details = {
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: 'berth',
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: goArch(),
    KernelVersion: release(),
    BuildTime: '',
  };
  return {
    Platform: { Name: `berth ${BERTH_VERSION}` },
    Components: [
      { Name: 'Engine', Version: ENGINE_COMPAT_VERSION, Details: { ...details, Berth: BERTH_VERSION } },
    ],
    Version: ENGINE_COMPAT_VERSION,
    ...details,
  };
}

function parseEventTime(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

export function registerSystemRoutes(router: Router, ctx: DaemonContext): void {
  router.get('/version', () => ({ json: versionBody() }));

  router.get('/info', async () => {
    const containers = ctx.containers.list({ all: true });
    const running = containers.filter((c) => c.State.Status === 'running').length;
    const paused = containers.filter((c) => c.State.Status === 'paused').length;
    const images = await ctx.images.list({ all: false });
    return {
      json: {
        ID: ctx.id,
        Containers: containers.length,
        ContainersRunning: running,
        ContainersPaused: paused,
        ContainersStopped: containers.length - running - paused,
        Images: images.length,
        Driver: 'overlay2',
        DriverStatus: [
          ['Backing Filesystem', 'extfs'],
          ['Supports d_type', 'true'],
        ],
        Plugins: {
          Volume: ['local'],
          Network: ['bridge', 'host', 'none'],
          Authorization: null,
          Log: ['k8s-file'],
        },
        MemoryLimit: true,
        SwapLimit: true,
        CpuCfsPeriod: true,
        CpuCfsQuota: true,
        CPUShares: true,
        CPUSet: true,
        PidsLimit: true,
        OomKillDisable: false,
        IPv4Forwarding: true,
        Debug: ctx.config.logLevel === 'debug',
        NFd: 0,
        NGoroutines: 0,
        SystemTime: new Date().toISOString(),
        LoggingDriver: 'k8s-file',
        CgroupDriver: 'cgroupfs',
        CgroupVersion: ctx.cgroupVersion,
        NEventsListener: 0,
        KernelVersion: release(),
        OperatingSystem: operatingSystem(),
        OSVersion: '',
        OSType: 'linux',
        Architecture: arch() === 'x64' ? 'x86_64' : arch(),
        IndexServerAddress: 'https://index.docker.io/v1/',
        RegistryConfig: {
          InsecureRegistryCIDRs: ['127.0.0.0/8'],
          IndexConfigs: {},
          Mirrors: [],
        },
        NCPU: cpus().length,
        MemTotal: totalmem(),
        DockerRootDir: ctx.config.dataRoot,
        Name: hostname(),
        Labels: [],
        ExperimentalBuild: false,
        ServerVersion: ENGINE_COMPAT_VERSION,
        Runtimes: Object.fromEntries(ctx.runtimes.map((r) => [r.name, { path: r.path }])),
        DefaultRuntime: ctx.defaultRuntime,
        LiveRestoreEnabled: true,
        Isolation: '',
        InitBinary: 'docker-init',
        SecurityOptions: ['name=seccomp,profile=builtin'],
        Warnings: [],
      },
    };
  });

  router.get('/events', async (req: ApiRequest) => {
    const filters = req.filters();
    for (const key of filters.keys())
      if (!EVENT_FILTERS.includes(key)) throw badRequest(`invalid filter '${key}'`);
    const since = parseEventTime(req.query.get('since'));
    const until = parseEventTime(req.query.get('until'));
    const stream = jsonStream(req);
    const send = (e: EngineEvent) => {
      if (eventMatches(e, filters)) stream.write(e);
    };
    if (since !== undefined) for (const e of ctx.events.past(since, until)) send(e);
    if (until !== undefined && until <= Date.now() / 1000) {
      stream.end();
      return;
    }
    await new Promise<void>((resolve) => {
      const unsubscribe = ctx.events.subscribe((e) => {
        if (until !== undefined && e.time > until) return finish();
        send(e);
      });
      const timer = until !== undefined ? setTimeout(finish, until * 1000 - Date.now()) : undefined;
      function finish() {
        unsubscribe();
        if (timer) clearTimeout(timer);
        stream.end();
        resolve();
      }
      req.signal.addEventListener('abort', finish, { once: true });
    });
  });

  router.get('/system/df', async () => {
    const images = await ctx.images.list({ all: false });
    const containers = await Promise.all(
      ctx.containers.list({ all: true }).map((c) => ctx.containers.summary(c, { size: true })),
    );
    // With UsageData (size, ref count): the docker CLI dereferences it.
    const volumes = await ctx.volumes.df();
    return {
      json: {
        LayersSize: images.reduce((sum, i) => sum + (i.Size ?? 0), 0),
        Images: images.map((i) => ({
          ...i,
          Containers: containers.filter((c) => c.ImageID === i.Id).length,
        })),
        Containers: containers,
        Volumes: volumes,
        BuildCache: [],
      },
    };
  });
}
