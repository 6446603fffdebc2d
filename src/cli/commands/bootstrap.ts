// `berth image bootstrap busybox[:TAG] | debian[:SUITE]`: base images without Docker Hub. The root filesystem
// is built here, client-side, and sent as a tar to POST /images/create?fromSrc=- with the image's config as
// `changes`, so it works against any daemon speaking the Engine API (berth or Docker) and never touches a
// data root.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  type BootstrapConfig,
  DEFAULT_DEBIAN_MIRROR,
  prepareBusyboxRootfs,
  prepareDebianRootfs,
  validDebianSuite,
} from '../../images/index.js';
import { tarDirectory } from '../../layers/index.js';
import { ensureDaemon } from '../connect.js';
import { CliError, commandGroup } from './container-common.js';
import { showProgress, splitRepoTag } from './images.js';

export interface BootstrapOptions {
  /** Name the image differently from KIND:TAG. */
  tag?: string;
  busybox?: string;
  mirror?: string;
  variant?: string;
  /** Scratch directory for the root filesystem (default /var/tmp). */
  tmpdir?: string;
}

/** Dockerfile-style changes for the import: CMD as JSON and ENV. */
export function bootstrapChanges(config: BootstrapConfig): string[] {
  return [`CMD ${JSON.stringify(config.cmd)}`, ...config.env.map((e) => `ENV ${e}`)];
}

/** Parses `busybox[:TAG]` / `debian[:SUITE]` into the kind and the image reference to create. */
export function parseBootstrapTarget(target: string): {
  kind: 'busybox' | 'debian';
  name: string;
  tag: string;
} {
  const { repo, tag } = splitRepoTag(target);
  if (repo === 'busybox') return { kind: 'busybox', name: repo, tag: tag ?? 'latest' };
  if (repo === 'debian') {
    const suite = tag ?? 'bookworm';
    if (!validDebianSuite(suite)) throw new CliError(`invalid Debian suite "${suite}"`);
    return { kind: 'debian', name: repo, tag: suite };
  }
  throw new CliError(
    `cannot bootstrap "${target}": only busybox[:TAG] and debian[:SUITE] can be bootstrapped`,
  );
}

async function bootstrap(target: string, opts: BootstrapOptions): Promise<void> {
  const parsed = parseBootstrapTarget(target);
  const client = await ensureDaemon();
  const dir = await mkdtemp(join(opts.tmpdir ?? '/var/tmp', `berth-bootstrap-${parsed.kind}-`));
  try {
    const config =
      parsed.kind === 'busybox'
        ? await prepareBusyboxRootfs(join(dir, 'rootfs'), opts.busybox)
        : await prepareDebianRootfs(join(dir, 'rootfs'), parsed.tag, {
            mirror: opts.mirror ?? DEFAULT_DEBIAN_MIRROR,
            variant: opts.variant,
          });
    const ref = opts.tag ? splitRepoTag(opts.tag) : { repo: parsed.name, tag: parsed.tag };
    const { stream, done } = tarDirectory(join(dir, 'rootfs'), { gzipLevel: 0 });
    await Promise.all([
      showProgress(
        client.images.import(stream, {
          repo: ref.repo,
          tag: ref.tag,
          changes: bootstrapChanges(config),
          message: config.createdBy,
        }),
        '/images/create',
      ),
      done,
    ]);
  } catch (err) {
    // Local failures (no busybox, debootstrap errors) are the command's own, not the daemon's: exit 1.
    if (typeof (err as { status?: number }).status === 'number' && (err as Error).name !== 'EngineError')
      throw new CliError((err as Error).message);
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function register(program: Command): void {
  commandGroup(program, 'image', 'Manage images')
    .command('bootstrap')
    .description(
      'Create a base image without a registry: busybox[:TAG] (busybox-static) or debian[:SUITE] (debootstrap)',
    )
    .argument('<busybox[:TAG]|debian[:SUITE]>')
    .option('-t, --tag <name[:tag]>', 'Name the image (default: the argument)')
    .option('--busybox <path>', 'Static busybox binary to use (default /bin/busybox)')
    .option('--mirror <url>', `Debian mirror (default ${DEFAULT_DEBIAN_MIRROR})`)
    .option('--variant <name>', 'debootstrap variant (default minbase)')
    .option('--tmpdir <dir>', 'Scratch directory for the root filesystem (default /var/tmp)')
    .action(bootstrap);
}
