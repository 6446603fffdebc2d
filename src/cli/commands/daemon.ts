// `berth daemon`: runs the daemon in the foreground.
import type { Command } from 'commander';
import {
  type DaemonConfig,
  DEFAULT_CONFIG_FILE,
  defaultConfig,
  loadConfigFile,
} from '../../daemon/config.js';

interface DaemonFlags {
  config?: string;
  dataRoot?: string;
  execRoot?: string;
  host?: string;
  group?: string;
  runtime?: string;
  logLevel?: string;
  bridge?: string;
  bip?: string;
  netPrefix?: string;
}

export function register(program: Command): void {
  program
    .command('daemon')
    .description('Run the berth daemon in the foreground')
    .option('--config <file>', 'Daemon configuration file', undefined)
    .option('--data-root <dir>', 'Root directory of persistent state')
    .option('--exec-root <dir>', 'Root directory of runtime state')
    .option('-H, --host <socket>', 'Socket to listen on (unix:///path)')
    .option('-G, --group <group>', 'Group for the unix socket')
    .option('--runtime <runtime>', 'Default OCI runtime (runc, crun, auto)')
    .option('--log-level <level>', 'Logging level (debug, info, warn, error)')
    .option('--bridge <name>', 'Linux bridge of the default network (default berth0)')
    .option('--bip <cidr>', 'Subnet of the default bridge network')
    .option('--net-prefix <prefix>', 'Prefix of iptables chains and netns names (for side-by-side daemons)')
    .action(async (flags: DaemonFlags) => {
      const fromFile = await loadConfigFile(flags.config ?? DEFAULT_CONFIG_FILE, flags.config !== undefined);
      const config: DaemonConfig = { ...defaultConfig(), ...fromFile };
      if (flags.dataRoot) config.dataRoot = flags.dataRoot;
      if (flags.execRoot) config.execRoot = flags.execRoot;
      if (flags.host) {
        if (!flags.host.startsWith('unix://'))
          throw new Error(`unsupported host ${flags.host}: use unix:///path`);
        config.socketPath = flags.host.slice('unix://'.length);
      }
      if (flags.group) config.socketGroup = flags.group;
      if (flags.runtime) config.runtime = flags.runtime;
      if (flags.logLevel) config.logLevel = flags.logLevel as DaemonConfig['logLevel'];
      if (flags.bridge) config.bridge = flags.bridge;
      if (flags.bip) config.bridgeSubnet = flags.bip;
      if (flags.netPrefix) config.netPrefix = flags.netPrefix;
      if (process.env.BERTH_NETWORK_POOL) config.networkPool = process.env.BERTH_NETWORK_POOL;
      // Loaded here, not at the top: `berth --help` registers this command without needing the daemon.
      const { startDaemon } = await import('../../daemon/daemon.js');
      const daemon = await startDaemon(config);
      console.error(`berth daemon listening on unix://${config.socketPath} (data root ${config.dataRoot})`);
      const stop = async (signal: string) => {
        console.error(`berth daemon: ${signal}, shutting down (containers keep running)`);
        await daemon.close();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
    });
}
