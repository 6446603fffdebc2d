// `berth volume create/ls/inspect/rm/prune`: Docker's volume commands over the Engine API.
import type { Command } from 'commander';
import { ensureDaemon } from '../connect.js';
import { formatRows, humanSize, VOLUMES_FORMAT, volumeRow } from '../format/index.js';
import { collect } from '../opts/units.js';
import { CliError, commandGroup } from './container-common.js';
import { confirm, forEachArg, inspectAll, keyValues, parseFilters } from './images.js';
import { naturalLess } from './networks.js';

interface CreateOpts {
  driver: string;
  opt: string[];
  label: string[];
  name?: string;
}

async function create(name: string | undefined, opts: CreateOpts): Promise<void> {
  if (name && opts.name && name !== opts.name)
    throw new CliError('conflicting options: either specify --name or provide positional arg, not both');
  const client = await ensureDaemon();
  const vol = await client.volumes.create({
    Name: name ?? opts.name ?? '',
    Driver: opts.driver,
    DriverOpts: keyValues(opts.opt),
    Labels: keyValues(opts.label),
  });
  process.stdout.write(`${vol.Name}\n`);
}

async function list(opts: { quiet?: boolean; filter?: string[]; format?: string }): Promise<void> {
  const client = await ensureDaemon();
  const res = await client.volumes.list({ filters: parseFilters(opts.filter) });
  const volumes = [...(res.Volumes ?? [])].sort((a, b) => naturalLess(a.Name, b.Name));
  const format = opts.quiet ? VOLUMES_FORMAT.quiet : opts.format;
  process.stdout.write(formatRows(format, volumes.map(volumeRow), VOLUMES_FORMAT));
}

/** `docker volume prune` output (also used by `system prune`). */
export async function pruneVolumes(
  all: boolean,
  filter: Record<string, string[]>,
): Promise<{ text: string; reclaimed: number }> {
  const client = await ensureDaemon();
  const report = await client.volumes.prune({ filters: filter, all });
  const deleted = report.VolumesDeleted ?? [];
  const text = deleted.length > 0 ? `Deleted Volumes:\n${deleted.map((v) => `${v}\n`).join('')}` : '';
  return { text, reclaimed: report.SpaceReclaimed ?? 0 };
}

export function register(program: Command): void {
  const volume = commandGroup(program, 'volume', 'Manage volumes');

  volume
    .command('create')
    .description('Create a volume')
    .argument('[VOLUME]')
    .option('-d, --driver <string>', 'Specify volume driver name', 'local')
    .option('-o, --opt <key=value>', 'Set driver specific options', collect, [])
    .option('--label <label>', 'Set metadata for a volume', collect, [])
    .option('--name <string>', 'Specify volume name')
    .action(create);

  volume
    .command('ls')
    .alias('list')
    .description('List volumes')
    .option('-f, --filter <filter>', "Provide filter values (e.g. 'dangling=true')", collect, [])
    .option('--format <string>', 'Format output using a custom template')
    .option('-q, --quiet', 'Only display volume names')
    .action(list);

  volume
    .command('inspect')
    .description('Display detailed information on one or more volumes')
    .argument('<VOLUME...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action(async (names: string[], opts: { format?: string }) => {
      const client = await ensureDaemon();
      await inspectAll(names, (n) => client.volumes.inspect(n), opts.format);
    });

  volume
    .command('rm')
    .alias('remove')
    .description('Remove one or more volumes')
    .argument('<VOLUME...>')
    .option('-f, --force', 'Force the removal of one or more volumes')
    .action(async (names: string[], opts: { force?: boolean }) => {
      const client = await ensureDaemon();
      await forEachArg(names, async (name) => {
        await client.volumes.remove(name, { force: opts.force });
        process.stdout.write(`${name}\n`);
      });
    });

  volume
    .command('prune')
    .description('Remove unused local volumes')
    .option('-a, --all', 'Remove all unused volumes, not just anonymous ones')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<label>")', collect, [])
    .action(async (opts: { all?: boolean; force?: boolean; filter?: string[] }) => {
      const filters = parseFilters(opts.filter) as Record<string, string[]>;
      const warning = opts.all
        ? 'WARNING! This will remove all local volumes not used by at least one container.'
        : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
      if (!opts.force && !(await confirm(warning))) return;
      const { text, reclaimed } = await pruneVolumes(opts.all === true, filters);
      if (text) process.stdout.write(`${text}\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed, 4)}\n`);
    });
}
