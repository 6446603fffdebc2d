// `berth pull`, `push`, `login`, `logout` (and `image pull` / `image push`): registry commands over the
// Engine API. Credentials come from the docker CLI's config file and travel in X-Registry-Auth.
import type { Command } from 'commander';
import type { AuthConfig } from '../../client/index.js';
import type { RegistryAuth } from '../../distribution/index.js';
import { ensureDaemon } from '../connect.js';
import { displayJsonMessages, type JsonMessage, ProgressError } from '../format/index.js';

// The registry client and the image store's reference parser are loaded on first use: their barrels pull
// in tar handling that `berth pull` itself never needs before the daemon answers.
const distribution = () => import('../../distribution/index.js');
const references = () => import('../../images/index.js');

interface PullOpts {
  platform?: string;
  allTags?: boolean;
  quiet?: boolean;
}

interface PushOpts {
  allTags?: boolean;
  quiet?: boolean;
}

interface LoginOpts {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

function toAuthConfig(a: RegistryAuth | undefined): AuthConfig | undefined {
  if (!a) return undefined;
  const out: AuthConfig & { identitytoken?: string } = {};
  if (a.username !== undefined) out.username = a.username;
  if (a.password !== undefined) out.password = a.password;
  if (a.identitytoken) out.identitytoken = a.identitytoken;
  if (a.serveraddress) out.serveraddress = a.serveraddress;
  return out;
}

async function credentialsFor(ref: string): Promise<AuthConfig | undefined> {
  const [{ CredentialStore }, { parseNormalized }] = await Promise.all([distribution(), references()]);
  const host = parseNormalized(ref).domain;
  return toAuthConfig(await new CredentialStore().get(host));
}

/** Shows a progress stream (bars on a TTY, status lines otherwise, nothing when quiet). */
async function show(messages: AsyncIterable<JsonMessage>, quiet: boolean): Promise<boolean> {
  try {
    if (quiet) {
      for await (const m of messages) if (m.error) throw new ProgressError(m.errorDetail?.message ?? m.error);
    } else {
      await displayJsonMessages(messages, process.stdout, {
        terminal: process.stdout.isTTY === true,
        width: process.stdout.columns ?? 200,
      });
    }
    return true;
  } catch (err) {
    if (!(err instanceof ProgressError)) throw err;
    // Docker prints registry failures as daemon errors, exit status 1.
    console.error(`Error response from daemon: ${err.message}`);
    process.exitCode = 1;
    return false;
  }
}

async function pull(ref: string, opts: PullOpts): Promise<void> {
  const [client, { parseNormalized }] = await Promise.all([ensureDaemon(), references()]);
  const parsed = parseNormalized(ref);
  if (opts.allTags && (parsed.tag || parsed.digest)) {
    throw Object.assign(new Error("tag can't be used with --all-tags/-a"), { exitCode: 125 });
  }
  const withTag = opts.allTags || parsed.tag || parsed.digest ? ref : `${ref}:latest`;
  if (!opts.quiet && !opts.allTags && !parsed.tag && !parsed.digest) console.log('Using default tag: latest');
  const auth = await credentialsFor(ref);
  const stream = client.images.pull(withTag, {
    ...(opts.platform ? { platform: opts.platform } : {}),
    ...(auth ? { auth } : {}),
  });
  if (!(await show(stream as AsyncIterable<JsonMessage>, opts.quiet === true))) return;
  // Docker prints the canonical reference last (all tags: the repository name).
  const full = parseNormalized(withTag);
  console.log(
    opts.allTags
      ? `${full.domain}/${full.path}`
      : `${full.domain}/${full.path}${full.tag ? `:${full.tag}` : ''}${full.digest ? `@${full.digest}` : ''}`,
  );
}

async function push(ref: string, opts: PushOpts): Promise<void> {
  const [client, { familiarString, parseNormalized }] = await Promise.all([ensureDaemon(), references()]);
  const parsed = parseNormalized(ref);
  if (opts.allTags && parsed.tag)
    throw Object.assign(new Error("tag can't be used with --all-tags/-a"), { exitCode: 125 });
  if (parsed.digest) throw Object.assign(new Error('cannot push a digest reference'), { exitCode: 125 });
  const name = `${parsed.domain}/${parsed.path}`;
  if (!opts.allTags && !parsed.tag && !opts.quiet) console.log('Using default tag: latest');
  const tag = opts.allTags ? undefined : (parsed.tag ?? 'latest');
  const auth = (await credentialsFor(ref)) ?? {};
  const stream = client.images.push(familiarString({ domain: parsed.domain, path: parsed.path }), {
    ...(tag ? { tag } : {}),
    auth,
  });
  if (!(await show(stream as AsyncIterable<JsonMessage>, opts.quiet === true))) return;
  if (opts.quiet) console.log(tag ? `${name}:${tag}` : name);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function prompt(question: string, hidden: boolean): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: process.stdin.isTTY === true,
  });
  if (hidden && process.stdin.isTTY) {
    // Keep typed characters off the screen.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  }
  try {
    const answer = await rl.question(question);
    if (hidden) process.stdout.write('\n');
    return answer.trim();
  } finally {
    rl.close();
  }
}

async function login(server: string | undefined, opts: LoginOpts): Promise<void> {
  const usage = (m: string) => Object.assign(new Error(m), { exitCode: 125 });
  if (opts.password && opts.passwordStdin)
    throw usage('--password and --password-stdin are mutually exclusive');
  let password = opts.password;
  if (opts.passwordStdin) {
    if (!opts.username) throw usage('Must provide --username with --password-stdin');
    password = await readStdin();
  } else if (password !== undefined) {
    console.error('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
  }
  const { CredentialStore, configKey, loginHost } = await distribution();
  const host = loginHost(server);
  const address = server ?? configKey(host);
  const store = new CredentialStore();
  let username = opts.username;
  if (username === undefined && password === undefined) {
    const saved = await store.get(host);
    if (saved?.username && saved.password) {
      username = saved.username;
      password = saved.password;
    }
  }
  if (username === undefined) username = await prompt('Username: ', false);
  if (!username) throw usage('Username is required');
  if (password === undefined) password = await prompt('Password: ', true);
  if (!password) throw usage('Error: Password Required');
  const client = await ensureDaemon();
  const res = await client.system.auth({ username, password, serveraddress: address });
  // A token service that hands out a refresh token gets that kept instead of the password, as docker does.
  await store.store(
    host,
    res.IdentityToken
      ? { username, identitytoken: res.IdentityToken, serveraddress: address }
      : { username, password, serveraddress: address },
  );
  console.log('Login Succeeded');
}

async function logout(server: string | undefined): Promise<void> {
  const { CredentialStore, configKey, loginHost } = await distribution();
  const host = loginHost(server);
  const key = configKey(host);
  if (await new CredentialStore().erase(host)) console.log(`Removing login credentials for ${key}`);
  else console.log(`Not logged in to ${key}`);
}

function addPull(parent: Command, name: string): void {
  parent
    .command(name)
    .description('Download an image from a registry')
    .argument('<name>', 'NAME[:TAG|@DIGEST]')
    .option('-a, --all-tags', 'Download all tagged images in the repository')
    .option('--platform <platform>', 'Set platform if server is multi-platform capable')
    .option('-q, --quiet', 'Suppress verbose output')
    .action((ref: string, opts: PullOpts) => pull(ref, opts));
}

function addPush(parent: Command, name: string): void {
  parent
    .command(name)
    .description('Upload an image to a registry')
    .argument('<name>', 'NAME[:TAG]')
    .option('-a, --all-tags', 'Push all tags of an image to the repository')
    .option('-q, --quiet', 'Suppress verbose output')
    .action((ref: string, opts: PushOpts) => push(ref, opts));
}

export function register(program: Command): void {
  addPull(program, 'pull');
  addPush(program, 'push');
  program
    .command('login')
    .description('Authenticate to a registry')
    .argument('[server]', 'registry (default: Docker Hub)')
    .option('-u, --username <username>', 'Username')
    .option('-p, --password <password>', 'Password or Personal Access Token')
    .option('--password-stdin', 'Take the Password or Personal Access Token from stdin')
    .action((server: string | undefined, opts: LoginOpts) => login(server, opts));
  program
    .command('logout')
    .description('Log out from a registry')
    .argument('[server]', 'registry (default: Docker Hub)')
    .action((server: string | undefined) => logout(server));
  // `image pull` / `image push`: under the image group when another module made it, else a new one.
  const image =
    program.commands.find((c) => c.name() === 'image') ??
    program.command('image').description('Manage images');
  addPull(image, 'pull');
  addPush(image, 'push');
}
