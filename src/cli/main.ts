// The berth command line: Docker's command shapes over the Engine API.
import { Command } from 'commander';
import { register as registerDaemon } from './commands/daemon.js';
import { register as registerRegistry } from './commands/registry.js';

const program = new Command('berth');
program
  .description('A container platform that speaks the Docker Engine API')
  .version('0.1.0', '-v, --version')
  .enablePositionalOptions();

registerDaemon(program);
registerRegistry(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const status = (err as { status?: number }).status;
  console.error(
    `Error response from daemon: ${(err as Error).message}`.replace(
      /^Error response from daemon: /,
      status ? 'Error response from daemon: ' : 'Error: ',
    ),
  );
  process.exit(status === 125 || status === undefined ? 125 : 1);
}
