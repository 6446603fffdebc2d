// The berth command line: Docker's command shapes over the Engine API.
import { Command } from 'commander';

const program = new Command('berth');
program.description('A container platform that speaks the Docker Engine API').version('0.1.0');

await program.parseAsync(process.argv);
