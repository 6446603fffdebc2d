// `berth build`: tars the context client-side (honouring .dockerignore), POSTs it to /build and prints
// the daemon's stream, like the docker CLI's legacy builder path.
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { Command } from 'commander';
import { pack as tarPack } from 'tar-stream';
import {
  IgnoreMatcher,
  parseDockerfile,
  parseSshSpecs,
  readDockerignore,
  runChecks,
  walkContext,
} from '../../build/client.js';
import { ensureDaemon } from '../connect.js';
import { collect } from '../opts/index.js';

interface BuildFlags {
  tag: string[];
  file?: string;
  buildArg: string[];
  label: string[];
  target?: string;
  cache?: boolean;
  pull?: boolean;
  quiet?: boolean;
  iidfile?: string;
  check?: boolean;
  network?: string;
  platform?: string;
  rm?: boolean;
  forceRm?: boolean;
  secret: string[];
  ssh: string[];
}

/** `--secret id=x,src=path` or `id=x,env=VAR` (BuildKit's syntax). */
function readSecrets(specs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const fields = Object.fromEntries(
      spec.split(',').map((kv) => {
        const eq = kv.indexOf('=');
        return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
      }),
    ) as Record<string, string>;
    const id = fields.id;
    if (!id) throw new UsageError(`invalid --secret ${spec}: id is required`);
    const src = fields.src ?? fields.source;
    if (src) {
      if (!existsSync(src)) throw new UsageError(`invalid --secret ${spec}: ${src} does not exist`);
      out[id] = readFileSync(src, 'utf8');
    } else {
      const name = fields.env ?? id;
      const value = process.env[name];
      if (value === undefined)
        throw new UsageError(`invalid --secret ${spec}: environment variable ${name} is not set`);
      out[id] = value;
    }
  }
  return out;
}

class UsageError extends Error {
  exitCode = 125;
}

function keyValues(list: string[], flag: string, fromEnv: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq === 0) throw new UsageError(`invalid ${flag} "${item}": empty key`);
    if (eq < 0) {
      // `--build-arg NAME` takes the value from the environment (skipped when unset), as docker does.
      if (fromEnv) {
        if (process.env[item] !== undefined) out[item] = process.env[item]!;
      } else out[item] = '';
    } else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

const SMALL_FILE = 256 * 1024;
const COALESCE = 256 * 1024;

/** Streams the context directory as a tar, skipping what .dockerignore excludes (Dockerfile kept). */
function tarContext(
  dir: string,
  matcher: IgnoreMatcher,
  extra?: { name: string; content: Buffer },
): Readable {
  const pack = tarPack();
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  // The pack emits a header, a body and padding per entry: coalesced into large writes, the request
  // makes a few socket writes instead of three per file.
  let held: Buffer[] = [];
  let size = 0;
  const flush = () => {
    if (size === 0) return true;
    const ok = out.write(held.length === 1 ? held[0]! : Buffer.concat(held, size));
    held = [];
    size = 0;
    return ok;
  };
  pack.on('data', (data: unknown) => {
    const chunk = data as Buffer;
    held.push(chunk);
    size += chunk.length;
    if (size >= COALESCE && !flush()) {
      pack.pause();
      out.once('drain', () => pack.resume());
    }
  });
  pack.once('end', () => {
    flush();
    out.end();
  });
  pack.once('error', (err) => out.destroy(err));
  (async () => {
    for await (const e of walkContext(dir, matcher)) {
      const st = e.stats;
      const base = { name: e.path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      if (st.isDirectory()) await entry(pack, { ...base, type: 'directory' });
      else if (st.isSymbolicLink()) {
        const { readlinkSync } = await import('node:fs');
        await entry(pack, { ...base, type: 'symlink', linkname: readlinkSync(e.absolutePath) });
      } else if (st.isFile()) {
        // Small files are read whole: a stream per file costs more than its content.
        const body = st.size <= SMALL_FILE ? readFileSync(e.absolutePath) : createReadStream(e.absolutePath);
        if (Buffer.isBuffer(body) && body.length !== st.size)
          throw new Error(`${e.absolutePath} changed while the context was sent`);
        await entry(pack, { ...base, type: 'file', size: st.size }, body);
      }
    }
    if (extra)
      await entry(pack, { name: extra.name, mode: 0o644, size: extra.content.length }, extra.content);
    pack.finalize();
  })().catch((err: unknown) => out.destroy(err as Error));
  return out;
}

function entry(
  pack: ReturnType<typeof tarPack>,
  header: Parameters<ReturnType<typeof tarPack>['entry']>[0],
  body?: Readable | Buffer,
): Promise<void> {
  return new Promise((res, rej) => {
    if (body === undefined || Buffer.isBuffer(body)) {
      const done = (err?: Error | null) => (err ? rej(err) : res());
      if (body === undefined) pack.entry(header, done);
      else pack.entry(header, body, done);
      return;
    }
    const sink = pack.entry(header, (err) => (err ? rej(err) : res()));
    body.on('error', rej);
    body.pipe(sink);
  });
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function runBuild(contextArg: string, flags: BuildFlags): Promise<void> {
  const query: Record<string, string | string[] | boolean | undefined> = {
    t: flags.tag,
    buildargs: JSON.stringify(keyValues(flags.buildArg, '--build-arg', true)),
    labels: JSON.stringify(keyValues(flags.label, '--label', false)),
    target: flags.target,
    nocache: flags.cache === false,
    pull: flags.pull,
    q: flags.quiet,
    rm: flags.rm !== false,
    forcerm: flags.forceRm,
    networkmode: flags.network,
    platform: flags.platform,
  };
  let body: Readable;
  let dockerfileText: string | undefined;
  let dockerfileName = flags.file ?? 'Dockerfile';
  if (contextArg === '-') {
    if (flags.file === '-')
      throw new UsageError('cannot read both the context and the Dockerfile from stdin');
    const pass = new PassThrough();
    process.stdin.pipe(pass);
    body = pass;
    if (flags.file) query.dockerfile = flags.file;
  } else {
    const dir = resolve(contextArg);
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new UsageError(`unable to prepare context: path "${contextArg}" not found`);
    let extra: { name: string; content: Buffer } | undefined;
    let dockerfilePath: string | undefined;
    if (flags.file === '-') {
      extra = { name: `.dockerfile.${Math.random().toString(16).slice(2, 14)}`, content: await readStdin() };
      dockerfileName = 'Dockerfile';
    } else {
      dockerfilePath = resolve(flags.file ? flags.file : `${dir}/Dockerfile`);
      if (!existsSync(dockerfilePath))
        throw new UsageError(
          `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${dockerfilePath}: no such file or directory`,
        );
      const rel = dockerfilePath.startsWith(`${dir}/`) ? dockerfilePath.slice(dir.length + 1) : undefined;
      if (rel === undefined) {
        // A Dockerfile outside the context travels inside the tar under a private name.
        extra = {
          name: `.dockerfile.${Math.random().toString(16).slice(2, 14)}`,
          content: readFileSync(dockerfilePath),
        };
      } else query.dockerfile = rel;
    }
    if (extra) query.dockerfile = extra.name;
    dockerfileText = (extra?.content ?? readFileSync(dockerfilePath!)).toString('utf8');
    const ignore = await readDockerignore(dir, dockerfilePath);
    const patterns = [...ignore.patterns];
    // The Dockerfile and .dockerignore always reach the daemon, as the docker CLI ensures.
    if (patterns.length > 0) {
      patterns.push('!.dockerignore');
      if (typeof query.dockerfile === 'string' && !query.dockerfile.startsWith('.dockerfile.'))
        patterns.push(`!${query.dockerfile}`);
    }
    const matcher = new IgnoreMatcher(patterns);
    // Build checks print as warnings before the build (or are the whole job with --check).
    const df = parseDockerfile(dockerfileText, { filename: dockerfileName });
    const report = runChecks(df, {
      hasDockerignore: ignore.found,
      ignore: new IgnoreMatcher(ignore.patterns),
      buildArgs: keyValues(flags.buildArg, '--build-arg', true),
      ...(flags.target ? { target: flags.target } : {}),
    });
    const print = flags.check
      ? (s: string) => process.stdout.write(s)
      : (s: string) => process.stderr.write(s);
    for (const v of report.violations) print(`WARNING: ${v.text}\n`);
    if (flags.check) {
      print(
        report.violations.length === 0
          ? 'Check complete, no warnings found.\n'
          : `Check complete, ${report.violations.length} warning${report.violations.length === 1 ? ' has' : 's have'} been found!\n`,
      );
      if (report.violations.length > 0) process.exitCode = 1;
      return;
    }
    if (report.failed) {
      const err = new Error('build checks failed (check=error=true)');
      (err as Error & { exitCode: number }).exitCode = 1;
      throw err;
    }
    body = tarContext(dir, matcher, extra);
  }
  if (flags.check) throw new UsageError('--check needs a context directory');
  const headers: Record<string, string> = { 'Content-Type': 'application/x-tar' };
  const secrets = readSecrets(flags.secret);
  if (Object.keys(secrets).length > 0)
    headers['X-Berth-Build-Secrets'] = Buffer.from(JSON.stringify(secrets)).toString('base64');
  const ssh = parseSshSpecs(flags.ssh);
  if (Object.keys(ssh).length > 0)
    headers['X-Berth-Build-Ssh'] = Buffer.from(JSON.stringify(ssh)).toString('base64');
  const client = await ensureDaemon();
  let imageId: string | undefined;
  const stream = client.jsonStream<{
    stream?: string;
    aux?: { ID?: string };
    error?: string;
    errorDetail?: { code?: number; message?: string };
  }>('POST', '/build', {
    query,
    body,
    headers,
    yieldErrors: true,
  });
  for await (const msg of stream) {
    if (msg.errorDetail || msg.error) {
      const message = msg.errorDetail?.message ?? msg.error ?? 'build failed';
      const err = new Error(message);
      (err as Error & { exitCode: number }).exitCode =
        msg.errorDetail?.code && msg.errorDetail.code < 256 ? msg.errorDetail.code : 1;
      throw err;
    }
    if (msg.aux?.ID) imageId = msg.aux.ID;
    if (msg.stream !== undefined && !flags.quiet) process.stdout.write(msg.stream);
  }
  if (flags.quiet && imageId) process.stdout.write(`${imageId}\n`);
  if (flags.iidfile && imageId) await writeFile(flags.iidfile, imageId);
}

export function register(program: Command): void {
  program
    .command('build')
    .description('Build an image from a Dockerfile')
    .argument('<context>', 'context directory, or - for a tar on stdin')
    .option('-t, --tag <name:tag>', 'name and optionally a tag (repeatable)', collect, [])
    .option('-f, --file <path>', "name of the Dockerfile (default: 'PATH/Dockerfile'; - for stdin)")
    .option('--build-arg <key=value>', 'set build-time variables (repeatable)', collect, [])
    .option('--label <key=value>', 'set metadata for an image (repeatable)', collect, [])
    .option('--target <stage>', 'set the target build stage to build')
    .option('--no-cache', 'do not use cache when building the image')
    .option('--pull', 'always attempt to pull a newer version of the image')
    .option('-q, --quiet', 'suppress the build output and print image ID on success')
    .option('--iidfile <file>', 'write the image ID to the file')
    .option('--check', 'run the build checks only and print them')
    .option('--network <mode>', 'networking mode for the RUN instructions during build')
    .option('--platform <platform>', 'set platform if server is multi-platform capable')
    .option('--no-rm', 'keep intermediate containers after a successful build')
    .option('--force-rm', 'always remove intermediate containers')
    .option(
      '--secret <id=x,src=path|env=VAR>',
      'a secret for RUN --mount=type=secret (repeatable)',
      collect,
      [],
    )
    .option(
      '--ssh <default|id=socket>',
      'an ssh-agent socket for RUN --mount=type=ssh (default: $SSH_AUTH_SOCK; repeatable)',
      collect,
      [],
    )
    .action((context: string, flags: BuildFlags) => runBuild(context, flags));
}
