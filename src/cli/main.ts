// The berth command line: Docker's command shapes over the Engine API.
import { Command } from 'commander';
import { register as registerBootstrap } from './commands/bootstrap.js';
import { register as registerCompose } from './commands/compose.js';
import { register as registerContainerFiles } from './commands/container-files.js';
import { register as registerContainers } from './commands/containers.js';
import { register as registerDaemon } from './commands/daemon.js';
import { register as registerDistribution } from './commands/distribution.js';
import { register as registerImages } from './commands/images.js';
import { register as registerNetworks } from './commands/networks.js';
import { register as registerRegistry } from './commands/registry.js';
import { register as registerSystem } from './commands/system.js';
import { register as registerVolumes } from './commands/volumes.js';
import { closeClient } from './connect.js';

// One entry per command module (src/cli/commands/<name>.ts exporting `register(program)`).
const modules: ((program: Command) => void)[] = [
  registerDaemon,
  registerCompose,
  registerRegistry,
  registerImages,
  registerDistribution,
  registerBootstrap,
  registerNetworks,
  registerVolumes,
  registerSystem,
  registerContainers,
  registerContainerFiles,
];

const program = new Command('berth');
program
  .description('A container platform that speaks the Docker Engine API')
  .version('0.1.0', '-v, --version')
  .enablePositionalOptions()
  .showHelpAfterError(false);
for (const register of modules) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Daemon errors print as the docker CLI prints them; usage errors exit 125 like docker's.
  const status = (err as { status?: number }).status;
  const fromDaemon = typeof status === 'number' && (err as Error).name === 'EngineError';
  console.error(
    fromDaemon ? `Error response from daemon: ${(err as Error).message}` : `berth: ${(err as Error).message}`,
  );
  process.exitCode = (err as { exitCode?: number }).exitCode ?? (fromDaemon ? 1 : 125);
} finally {
  closeClient();
}
