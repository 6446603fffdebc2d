// `berth registry serve` and `berth registry gc`: the registry server runs in-process (no daemon).
import type { Command } from 'commander';
import { configFromFlags, garbageCollect, loadConfigFile, startRegistry } from '../../registry/index.js';

interface ServeOptions {
  addr?: string;
  root?: string;
  config?: string;
  htpasswd?: string;
  tlsCert?: string;
  tlsKey?: string;
  quiet?: boolean;
}

interface GcOptions {
  root?: string;
  config?: string;
  dryRun?: boolean;
  deleteUntagged?: boolean;
  json?: boolean;
}

const human = (bytes: number) =>
  bytes < 1024
    ? `${bytes} B`
    : bytes < 1 << 20
      ? `${(bytes / 1024).toFixed(1)} KiB`
      : `${(bytes / (1 << 20)).toFixed(1)} MiB`;

export function register(program: Command): void {
  const registry = program.command('registry').description('Run and maintain an OCI registry');

  registry
    .command('serve')
    .description('Serve an OCI Distribution (v2) registry from a storage directory')
    .option('--addr <host:port>', 'address to listen on (default 127.0.0.1:5000)')
    .option('--root <dir>', 'storage root directory')
    .option('--config <file>', 'YAML config file (addr, root, auth, tls, limits); flags take precedence')
    .option('--htpasswd <file>', 'htpasswd file with bcrypt entries: enables basic auth')
    .option('--tls-cert <file>', 'TLS certificate (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('-q, --quiet', 'do not log requests')
    .action(async (opts: ServeOptions) => {
      const config = await configFromFlags(opts);
      if (!opts.quiet) config.log = (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      const running = await startRegistry(config);
      process.stdout.write(`registry listening on ${running.url} (root ${config.root})\n`);
      const stop = (signal: string) => {
        process.stderr.write(`${signal}: shutting down\n`);
        running.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });

  registry
    .command('gc')
    .description('Delete blobs no manifest references (run while the registry is stopped)')
    .option('--root <dir>', 'storage root directory')
    .option('--config <file>', 'YAML config file to take the root from')
    .option('--dry-run', 'only print what would be deleted')
    .option('--delete-untagged', 'also delete manifests that no tag points at')
    .option('--json', 'print the report as JSON')
    .action(async (opts: GcOptions) => {
      const root = opts.root ?? (opts.config ? (await loadConfigFile(opts.config)).root : undefined);
      if (!root) throw new Error('registry gc: --root (or --config with root:) is required');
      const report = await garbageCollect(root, { dryRun: opts.dryRun, deleteUntagged: opts.deleteUntagged });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const verb = report.dryRun ? 'would delete' : 'deleted';
      for (const m of report.manifestsDeleted)
        process.stdout.write(`${verb} manifest ${m.repository}@${m.digest}\n`);
      for (const b of report.blobsDeleted)
        process.stdout.write(`${verb} blob ${b.digest} (${human(b.size)})\n`);
      process.stdout.write(
        `${report.manifestsDeleted.length} manifests and ${report.blobsDeleted.length} blobs ` +
          `${report.dryRun ? 'would be deleted' : 'deleted'}, ` +
          `${human(report.bytesFreed)} freed; ${report.blobsKept} blobs kept\n`,
      );
    });
}
