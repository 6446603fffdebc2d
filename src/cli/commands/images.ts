// `berth images`, `image ls/inspect/history/tag/rm/prune/save/load/import`, `rmi`, `commit`: Docker's image
// commands over the Engine API. Also the small helpers the other resource commands here share (CliError and
// the command groups are container-common's).
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import {
  EngineError,
  type Filters,
  type ImageHistoryResponseItem,
  type ProgressMessage,
} from '../../client/index.js';
import { ensureDaemon } from '../connect.js';
import {
  displayJsonMessages,
  ellipsis,
  formatInspect,
  formatRows,
  humanSize,
  IMAGES_DIGESTS_TABLE,
  IMAGES_FORMAT,
  imageRows,
  type JsonMessage,
  ProgressError,
  timeAgo,
  truncateId,
} from '../format/index.js';
import { collect } from '../opts/units.js';
import { CliError, commandGroup } from './container-common.js';

/** `--filter key=value` flags → the API's filters, with Docker's complaint about a malformed one. */
export function parseFilters(values: string[] | undefined): Filters {
  const out: Record<string, string[]> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new CliError(`bad format of filter (expected name=value)`);
    const key = v.slice(0, eq).trim().toLowerCase();
    out[key] = [...(out[key] ?? []), v.slice(eq + 1)];
  }
  return out;
}

/** `KEY=VALUE` list flags (--label, --opt) → a record; a bare key maps to ''. */
export function keyValues(values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq === 0) throw new CliError(`invalid argument "${v}": key is empty`);
    if (eq < 0) out[v] = '';
    else out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** Docker's prune prompt: `[y/N]` on stdout, one line read from stdin; anything but y/yes declines. */
export async function confirm(message: string): Promise<boolean> {
  process.stdout.write(`${message}\nAre you sure you want to continue? [y/N] `);
  const rl = createInterface({ input: process.stdin });
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', (line) => resolve(line));
    rl.once('close', () => resolve(''));
  });
  rl.close();
  process.stdin.destroy();
  return ['y', 'yes'].includes(answer.trim().toLowerCase());
}

/** Runs `fn` for each argument; errors are printed as docker prints them and make the exit status 1. */
export async function forEachArg(args: string[], fn: (arg: string) => Promise<void>): Promise<void> {
  let failed = false;
  for (const arg of args) {
    try {
      await fn(arg);
    } catch (err) {
      failed = true;
      process.stderr.write(`${errorLine(err)}\n`);
    }
  }
  if (failed) process.exitCode = 1;
}

export function errorLine(err: unknown): string {
  if (err instanceof EngineError) return `Error response from daemon: ${err.message}`;
  return `Error: ${(err as Error).message}`;
}

/** `inspect` of several objects: JSON (or --format) of those found, then an error line per missing one. */
export async function inspectAll<T>(
  names: string[],
  get: (name: string) => Promise<T>,
  format: string | undefined,
): Promise<void> {
  const found: T[] = [];
  const errors: string[] = [];
  for (const name of names) {
    try {
      found.push(await get(name));
    } catch (err) {
      if (!(err instanceof EngineError) || err.status !== 404) throw err;
      errors.push(`Error: ${err.message}`);
    }
  }
  if (found.length > 0 || !format) process.stdout.write(formatInspect(found, format));
  for (const e of errors) process.stderr.write(`${e}\n`);
  if (errors.length > 0) process.exitCode = 1;
}

/** Shows a progress stream; a stream error becomes a daemon error (exit status 1). */
export async function showProgress(messages: AsyncIterable<ProgressMessage>, path: string): Promise<void> {
  try {
    await displayJsonMessages(messages as AsyncIterable<JsonMessage>, process.stdout, {
      terminal: process.stdout.isTTY === true,
      width: process.stdout.columns,
    });
  } catch (err) {
    if (err instanceof ProgressError) throw new EngineError(err.code ?? 500, err.message, 'POST', path);
    throw err;
  }
}

/** `name[:tag]` → repo and tag (the tag after the last colon that follows the last slash). */
export function splitRepoTag(ref: string): { repo: string; tag?: string } {
  if (ref.includes('@')) return { repo: ref };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref };
}

interface ListOpts {
  all?: boolean;
  quiet?: boolean;
  digests?: boolean;
  trunc?: boolean;
  filter?: string[];
  format?: string;
}

async function listImages(repository: string | undefined, opts: ListOpts): Promise<void> {
  const client = await ensureDaemon();
  const filters = parseFilters(opts.filter);
  if (repository) filters.reference = [...(filters.reference ?? []), repository];
  const images = await client.images.list({ all: opts.all, digests: opts.digests, filters });
  const trunc = opts.trunc !== false;
  const rows = images.flatMap((img) => imageRows(img, { trunc, digests: opts.digests }));
  let format = opts.format;
  if (opts.quiet) format = IMAGES_FORMAT.quiet;
  else if (opts.digests && (!format || format === 'table')) format = IMAGES_DIGESTS_TABLE;
  process.stdout.write(formatRows(format, rows, IMAGES_FORMAT));
}

const HISTORY_FORMAT = {
  defaultTable: 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
  headers: {
    ID: 'IMAGE',
    CreatedSince: 'CREATED',
    CreatedAt: 'CREATED AT',
    CreatedBy: 'CREATED BY',
    Size: 'SIZE',
    Comment: 'COMMENT',
  },
};

function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A `docker history` row. */
export function historyRow(
  h: ImageHistoryResponseItem,
  opts: { trunc: boolean; human: boolean; now?: number },
) {
  const createdBy = h.CreatedBy.replace(/\t/g, ' ');
  return {
    Comment: h.Comment,
    CreatedAt: rfc3339(h.Created),
    CreatedBy: opts.trunc ? ellipsis(createdBy, 45) : createdBy,
    CreatedSince: opts.human ? timeAgo(h.Created, opts.now) : rfc3339(h.Created),
    ID: h.Id === '<missing>' || !opts.trunc ? h.Id : truncateId(h.Id),
    Size: opts.human ? humanSize(h.Size, 3) : String(h.Size),
  };
}

/** Parses Docker's bool flag values (`-H=false`, `--pause false`). */
export function parseBool(value: string | boolean | undefined, flag: string, dflt: boolean): boolean {
  if (value === undefined) return dflt;
  if (typeof value === 'boolean') return value;
  const v = value.replace(/^=/, '').toLowerCase();
  if (['1', 't', 'true'].includes(v)) return true;
  if (['0', 'f', 'false'].includes(v)) return false;
  throw new CliError(
    `invalid argument "${value}" for "--${flag}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`,
  );
}

async function history(
  image: string,
  opts: { trunc?: boolean; quiet?: boolean; human?: string | boolean; format?: string },
): Promise<void> {
  const client = await ensureDaemon();
  const items = await client.images.history(image);
  const trunc = opts.trunc !== false;
  const human = parseBool(opts.human, 'human', true);
  const rows = items.map((h) => historyRow(h, { trunc, human }));
  process.stdout.write(formatRows(opts.quiet ? '{{.ID}}' : opts.format, rows, HISTORY_FORMAT));
}

async function tag(source: string, target: string): Promise<void> {
  const client = await ensureDaemon();
  const { repo, tag } = splitRepoTag(target);
  if (!repo) throw new CliError(`invalid reference format`);
  await client.images.tag(source, repo, tag ?? 'latest');
}

async function removeImages(images: string[], opts: { force?: boolean; prune?: boolean }): Promise<void> {
  const client = await ensureDaemon();
  await forEachArg(images, async (name) => {
    const items = await client.images.remove(name, { force: opts.force, noprune: opts.prune === false });
    for (const item of items) {
      if (item.Untagged) process.stdout.write(`Untagged: ${item.Untagged}\n`);
      if (item.Deleted) process.stdout.write(`Deleted: ${item.Deleted}\n`);
    }
  });
}

/** `docker image prune` output: the deleted list, then the total (also used by `system prune`). */
export async function pruneImages(
  all: boolean,
  filter: Filters,
): Promise<{ text: string; reclaimed: number }> {
  const client = await ensureDaemon();
  const filters: Filters = { ...filter, dangling: [all ? 'false' : 'true'] };
  const report = await client.images.prune({ filters });
  let text = '';
  if ((report.ImagesDeleted ?? []).length > 0) {
    text = 'Deleted Images:\n';
    for (const st of report.ImagesDeleted ?? []) {
      text += st.Untagged ? `untagged: ${st.Untagged}\n` : `deleted: ${st.Deleted}\n`;
    }
  }
  return { text, reclaimed: report.SpaceReclaimed ?? 0 };
}

async function save(images: string[], opts: { output?: string }): Promise<void> {
  if (images.length === 0) throw new CliError('"save" requires at least 1 argument.');
  if (!opts.output && process.stdout.isTTY)
    throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
  const client = await ensureDaemon();
  const stream = await client.images.save(images);
  if (!opts.output) {
    // A reader that stops early (`| head`) is not an error of ours.
    await pipeline(stream, process.stdout).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
    return;
  }
  // Written beside the target and renamed: a failed save leaves no truncated archive behind.
  const tmp = `${opts.output}.berth-tmp-${process.pid}`;
  try {
    await pipeline(stream, createWriteStream(tmp));
    await rename(tmp, opts.output);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function inputStream(path: string | undefined, what: string): Readable {
  if (path && path !== '-') return createReadStream(path);
  if (process.stdin.isTTY) throw new CliError(`requested ${what} from stdin, but stdin is empty`);
  return process.stdin;
}

async function openInput(path: string | undefined, what: string): Promise<Readable> {
  const stream = inputStream(path, what);
  if (stream === process.stdin) return stream;
  // Surface a missing file as docker does (before talking to the daemon).
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err) => reject(new CliError(err.message)));
  });
  return stream;
}

async function load(opts: { input?: string; quiet?: boolean }): Promise<void> {
  const body = await openInput(opts.input, 'load');
  const client = await ensureDaemon();
  await showProgress(client.images.load(body, { quiet: opts.quiet }), '/images/load');
}

async function importImage(
  file: string,
  reference: string | undefined,
  opts: { change?: string[]; message?: string; platform?: string },
): Promise<void> {
  if (/^https?:\/\//.test(file))
    throw new CliError('importing from a URL is not supported: download the file first');
  const body = await openInput(file, 'import');
  const client = await ensureDaemon();
  const ref = reference ? splitRepoTag(reference) : undefined;
  await showProgress(
    client.images.import(body, {
      repo: ref?.repo,
      tag: ref?.tag,
      message: opts.message,
      changes: opts.change,
      platform: opts.platform,
    }),
    '/images/create',
  );
}

async function commit(
  container: string,
  reference: string | undefined,
  opts: { author?: string; change?: string[]; message?: string; pause?: string | boolean },
): Promise<void> {
  const client = await ensureDaemon();
  const ref = reference ? splitRepoTag(reference) : undefined;
  const res = await client.json<{ Id: string }>('POST', '/commit', {
    query: {
      container,
      repo: ref?.repo,
      tag: ref?.tag,
      comment: opts.message,
      author: opts.author,
      pause: parseBool(opts.pause, 'pause', true),
      changes: opts.change,
    },
    body: {},
  });
  process.stdout.write(`${res.Id}\n`);
}

function addListOptions(cmd: Command): Command {
  return cmd
    .argument('[REPOSITORY[:TAG]]')
    .option('-a, --all', 'Show all images (default hides intermediate images)')
    .option('--digests', 'Show digests')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect, [])
    .option(
      '--format <string>',
      "Format output using a custom template ('table', 'table TEMPLATE', 'json', TEMPLATE)",
    )
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only show image IDs')
    .action(listImages);
}

function addHistory(cmd: Command): Command {
  return cmd
    .description('Show the history of an image')
    .argument('<IMAGE>')
    .option('--format <string>', 'Format output using a custom template')
    .option('-H, --human [bool]', 'Print sizes and dates in human readable format (default true)')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only show image IDs')
    .action(history);
}

function addTag(cmd: Command): Command {
  return cmd
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<SOURCE_IMAGE[:TAG]>')
    .argument('<TARGET_IMAGE[:TAG]>')
    .action(tag);
}

function addRemove(cmd: Command): Command {
  return cmd
    .description('Remove one or more images')
    .argument('<IMAGE...>')
    .option('-f, --force', 'Force removal of the image')
    .option('--no-prune', 'Do not delete untagged parents')
    .action(removeImages);
}

function addSave(cmd: Command): Command {
  return cmd
    .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .argument('<IMAGE...>')
    .option('-o, --output <file>', 'Write to a file, instead of STDOUT')
    .action(save);
}

function addLoad(cmd: Command): Command {
  return cmd
    .description('Load an image from a tar archive or STDIN')
    .option('-i, --input <file>', 'Read from tar archive file, instead of STDIN')
    .option('-q, --quiet', 'Suppress the load output')
    .action(load);
}

function addImport(cmd: Command): Command {
  return cmd
    .description('Import the contents from a tarball to create a filesystem image')
    .argument('<file|URL|->')
    .argument('[REPOSITORY[:TAG]]')
    .option('-c, --change <instruction>', 'Apply Dockerfile instruction to the created image', collect, [])
    .option('-m, --message <string>', 'Set commit message for imported image')
    .option('--platform <string>', 'Set platform if server is multi-platform capable')
    .action(importImage);
}

function addCommit(cmd: Command): Command {
  return cmd
    .description("Create a new image from a container's changes")
    .argument('<CONTAINER>')
    .argument('[REPOSITORY[:TAG]]')
    .option('-a, --author <string>', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option('-c, --change <instruction>', 'Apply Dockerfile instruction to the created image', collect, [])
    .option('-m, --message <string>', 'Commit message')
    .option('-p, --pause [bool]', 'Pause container during commit (default true)')
    .action(commit);
}

export function register(program: Command): void {
  addListOptions(program.command('images').description('List images'));
  addHistory(program.command('history'));
  addTag(program.command('tag'));
  addRemove(program.command('rmi'));
  addSave(program.command('save'));
  addLoad(program.command('load'));
  addImport(program.command('import'));
  addCommit(program.command('commit'));

  const image = commandGroup(program, 'image', 'Manage images');
  addListOptions(image.command('ls').alias('list').description('List images'));
  image
    .command('inspect')
    .description('Display detailed information on one or more images')
    .argument('<IMAGE...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action(async (names: string[], opts: { format?: string }) => {
      const client = await ensureDaemon();
      await inspectAll(names, (n) => client.images.inspect(n), opts.format);
    });
  addHistory(image.command('history'));
  addTag(image.command('tag'));
  addRemove(image.command('rm').alias('remove'));
  addSave(image.command('save'));
  addLoad(image.command('load'));
  addImport(image.command('import'));
  image
    .command('prune')
    .description('Remove unused images')
    .option('-a, --all', 'Remove all unused images, not just dangling ones')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect, [])
    .action(async (opts: { all?: boolean; force?: boolean; filter?: string[] }) => {
      const filters = parseFilters(opts.filter);
      const warning = opts.all
        ? 'WARNING! This will remove all images without at least one container associated to them.'
        : 'WARNING! This will remove all dangling images.';
      if (!opts.force && !(await confirm(warning))) return;
      const { text, reclaimed } = await pruneImages(opts.all === true, filters);
      if (text) process.stdout.write(`${text}\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed, 4)}\n`);
    });
}
