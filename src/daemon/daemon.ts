// Daemon start-up and shutdown: the data root, the services, recovery and the API server.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createApiServer, Router } from '../api/index.js';
import { registerBuildRoutes } from '../api/routes/build.js';
import { registerContainerFileRoutes } from '../api/routes/container-files.js';
import { registerContainerRoutes } from '../api/routes/containers.js';
import { registerDistributionRoutes } from '../api/routes/distribution.js';
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
import { conflict, randomId } from '../util/index.js';
import { VolumeService } from '../volumes/index.js';
import type { DaemonConfig } from './config.js';
import type { DaemonContext } from './context.js';
import { EventBus } from './events.js';

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
  registerDistributionRoutes(router, context);
  registerNetworkRoutes(router, context);
  registerVolumeRoutes(router, context);
  registerBuildRoutes(router, context);

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
