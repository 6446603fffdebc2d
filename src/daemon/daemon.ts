// Daemon start-up and shutdown: the data root, the services, recovery and the API server.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createApiServer, type Handler, type Method, Router } from '../api/index.js';
import { registerContainerFileRoutes } from '../api/routes/container-files.js';
import { registerContainerRoutes } from '../api/routes/containers.js';
import { registerExecRoutes } from '../api/routes/exec.js';
import { registerImageRoutes } from '../api/routes/images.js';
import { registerNetworkRoutes } from '../api/routes/networks.js';
import { registerSystemRoutes } from '../api/routes/system.js';
import { registerVolumeRoutes } from '../api/routes/volumes.js';
import { ExecService } from '../containers/exec.js';
import { ContainerService } from '../containers/index.js';
import { ImageService } from '../images/index.js';
import { NetworkService } from '../network/index.js';
import { crunUsable, OciRuntime, pickRuntime } from '../runtime/index.js';
import { conflict, internal, randomId } from '../util/index.js';
import { VolumeService } from '../volumes/index.js';
import type { DaemonConfig } from './config.js';
import type { DaemonContext } from './context.js';
import { EventBus } from './events.js';

/**
 * Routes of rarely used, heavy modules (the builder, the registry client), loaded on their first
 * request: the daemon's idle memory does not carry them. Each list must name every route its module
 * registers (test/unit/daemon/lazy-routes.test.ts compares them).
 */
export const LAZY_ROUTES = {
  build: [
    ['POST', '/build/prune'],
    ['POST', '/build/cancel'],
    ['POST', '/build'],
  ],
  distribution: [
    ['POST', '/images/:name+/push'],
    ['POST', '/auth'],
    ['GET', '/distribution/:name+/json'],
  ],
} as const satisfies Record<string, readonly (readonly [Method, string])[]>;

/** A Router that only records what is registered on it (method and pattern → handler). */
export class RecordingRouter extends Router {
  readonly handlers = new Map<string, Handler>();
  override add(method: Method, pattern: string, handler: Handler): this {
    this.handlers.set(`${method} ${pattern}`, handler);
    return this;
  }
}

/** Registers `routes` on `router`; the first request loads `register`'s module and hands over to it. */
function lazyRoutes(
  router: Router,
  routes: readonly (readonly [Method, string])[],
  load: () => Promise<(r: Router) => void>,
): () => Promise<RecordingRouter> {
  let loaded: Promise<RecordingRouter> | undefined;
  const real = () => {
    loaded ??= load().then((register) => {
      const rec = new RecordingRouter();
      register(rec);
      return rec;
    });
    return loaded;
  };
  for (const [method, pattern] of routes) {
    router.add(method, pattern, async (req) => {
      const handler = (await real()).handlers.get(`${method} ${pattern}`);
      if (!handler) throw internal(`route ${method} ${pattern} is not registered by its module`);
      return handler(req);
    });
  }
  return real;
}

export interface RunningDaemon {
  context: DaemonContext;
  close(): Promise<void>;
}

/** The data root's identity, kept across restarts (Docker's `ID` in info). */
async function daemonId(dataRoot: string): Promise<string> {
  const path = join(dataRoot, 'engine-id');
  const existing = await readFile(path, 'utf8').catch(() => '');
  if (existing.trim()) return existing.trim();
  const id = randomId();
  await writeFile(path, `${id}\n`);
  return id;
}

/** One daemon per data root: a pid file whose process is alive means another daemon owns it. */
async function claimDataRoot(execRoot: string, dataRoot: string): Promise<string> {
  const pidFile = join(execRoot, 'berth.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    let alive = false;
    try {
      if (pid > 0 && pid !== process.pid) {
        process.kill(pid, 0);
        alive = readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('daemon');
      }
    } catch {
      alive = false;
    }
    if (alive) throw conflict(`another berth daemon (pid ${pid}) is using ${dataRoot}; stop it first`);
  }
  await writeFile(pidFile, `${process.pid}\n`);
  return pidFile;
}

function resolveRuntime(wanted: string): string {
  if (wanted === 'auto') return crunUsable() ? 'crun' : 'runc';
  return wanted;
}

export async function startDaemon(config: DaemonConfig): Promise<RunningDaemon> {
  await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  await mkdir(config.execRoot, { recursive: true, mode: 0o711 });
  const pidFile = await claimDataRoot(config.execRoot, config.dataRoot);

  const events = new EventBus();
  const images = new ImageService(config.dataRoot);
  await images.init();
  const runtimeName = resolveRuntime(config.runtime);
  const runtime = new OciRuntime({ runtime: runtimeName, stateRoot: join(config.execRoot, 'runtime') });
  const networks = new NetworkService({
    dataRoot: config.dataRoot,
    runDir: config.execRoot,
    defaultBridge: config.bridge,
    defaultSubnet: config.bridgeSubnet,
    pool: config.networkPool,
    chainPrefix: config.netPrefix?.toUpperCase(),
    netnsPrefix: config.netPrefix ? `${config.netPrefix.toLowerCase()}-` : undefined,
  });
  // The volumes service asks the container service who uses a volume; both exist before either is used.
  let containers: ContainerService | undefined;
  const volumes = new VolumeService(config.dataRoot, {
    usedBy: (name) => containers?.volumeUsers(name) ?? [],
  });
  await volumes.init();
  containers = new ContainerService({
    dataRoot: config.dataRoot,
    events,
    images,
    networks,
    volumes,
    runtime,
  });
  // A force-removed image's layers stay while a container still runs on them.
  images.setLayerUsers(() =>
    containers!.store.all().flatMap((c) => (c.ImageChainId ? [c.ImageChainId] : [])),
  );
  await networks.init({ isAlive: () => true });
  await containers.init();

  const runtimes = ['runc', 'crun']
    .map((name) => {
      try {
        return { name, path: pickRuntime(name) };
      } catch {
        return undefined;
      }
    })
    .filter((r): r is { name: string; path: string } => r !== undefined);
  const context: DaemonContext = {
    id: await daemonId(config.dataRoot),
    config,
    events,
    images,
    containers,
    networks,
    volumes,
    runtimes,
    defaultRuntime: runtimeName,
    cgroupVersion: existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1',
  };
  const execs = new ExecService(containers, runtime);
  const router = new Router();
  registerSystemRoutes(router, context);
  registerContainerRoutes(router, context);
  registerContainerFileRoutes(router, context);
  registerExecRoutes(router, execs);
  registerImageRoutes(router, context);
  const distribution = lazyRoutes(router, LAZY_ROUTES.distribution, async () => {
    const { registerDistributionRoutes } = await import('../api/routes/distribution.js');
    return (r) => registerDistributionRoutes(r, context);
  });
  // A pull (POST /images/create, a build's FROM) loads the registry client; registering it replaces this.
  const lazyPull: NonNullable<DaemonContext['pull']> = async (ref, opts) => {
    await distribution();
    if (context.pull === lazyPull) throw internal('the registry client did not register its pull');
    await context.pull!(ref, opts);
  };
  context.pull = lazyPull;
  registerNetworkRoutes(router, context);
  registerVolumeRoutes(router, context);
  lazyRoutes(router, LAZY_ROUTES.build, async () => {
    const { registerBuildRoutes } = await import('../api/routes/build.js');
    return (r) => registerBuildRoutes(r, context);
  });

  const server = await createApiServer(router, {
    socketPath: config.socketPath,
    socketGroup: config.socketGroup,
    tcp: config.tcp,
  });

  let closing: Promise<void> | undefined;
  return {
    context,
    close() {
      closing ??= (async () => {
        await server.close();
        await containers!.close();
        await networks.close();
        await rm(pidFile, { force: true });
      })();
      return closing;
    },
  };
}
