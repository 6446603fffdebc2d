// `run`, `create`, `start`, `attach` and `exec`: the commands that create containers or wire their stdio,
// following the docker CLI's sequence (create → attach → wait → start) and exit codes.
import { existsSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  type EngineClient,
  EngineError,
  type ExecConfig,
  type HijackedStream,
  pipeStdio,
} from '../../client/index.js';
import { ensureDaemon } from '../connect.js';
import { displayJsonMessages } from '../format/index.js';
import {
  addContainerOptions,
  buildCreateBody,
  type ContainerFlags,
  collect,
  readKeyValueFile,
} from '../opts/index.js';
import { action, CliError, dockerUsage, errorText } from './container-common.js';

interface RunFlags extends ContainerFlags {
  detach?: boolean;
  sigProxy?: boolean;
  detachKeys?: string;
}

/** docker's toStatusError: 127 when the command is missing, 126 when it cannot be executed, else 125. */
export function startFailureCode(message: string): number {
  if (
    /executable file not found|no such file or directory|system cannot find the file specified/.test(message)
  )
    return 127;
  if (/permission denied|is a directory/i.test(message)) return 126;
  return 125;
}

/** `image` → `image:latest` as the docker CLI names it in "Unable to find image" (digests untouched). */
function withTag(image: string): string {
  if (image.includes('@')) return image;
  const slash = image.lastIndexOf('/');
  return image.slice(slash + 1).includes(':') ? image : `${image}:latest`;
}

async function pullImage(client: EngineClient, image: string, platform: string | undefined, quiet: boolean) {
  const messages = client.images.pull(withTag(image), { platform });
  await displayJsonMessages(messages, quiet ? process.stderr : process.stderr, {
    terminal: process.stderr.isTTY === true,
  });
}

/** Creates the container, pulling the image first per --pull (docker's createContainer). */
async function createContainer(
  client: EngineClient,
  flags: ContainerFlags,
  image: string,
  command: string[],
) {
  let body: ReturnType<typeof buildCreateBody>;
  try {
    body = buildCreateBody(flags, image, command);
  } catch (err) {
    throw new CliError(`berth: ${(err as Error).message}\nSee 'berth run --help'.`, 125);
  }
  if (!['always', 'missing', 'never'].includes(flags.pull))
    throw new CliError(
      `berth: invalid pull option: '${flags.pull}': must be one of "always", "missing" or "never"`,
      125,
    );
  if (flags.cidfile && existsSync(flags.cidfile))
    throw new CliError(
      `berth: container ID file found, make sure the other container isn't running or delete ${flags.cidfile}`,
      125,
    );
  const opts = { name: flags.name, platform: flags.platform };
  if (flags.pull === 'always') await pullImage(client, image, flags.platform, !!flags.quiet);
  let created: { Id: string; Warnings?: string[] };
  try {
    created = await client.containers.create(body as never, opts);
  } catch (err) {
    const missing = err instanceof EngineError && err.status === 404 && /no such image/i.test(err.message);
    if (!missing || flags.pull !== 'missing') throw err;
    process.stderr.write(`Unable to find image '${withTag(image)}' locally\n`);
    await pullImage(client, image, flags.platform, !!flags.quiet);
    created = await client.containers.create(body as never, opts);
  }
  for (const w of created.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
  if (flags.cidfile) writeFileSync(flags.cidfile, created.Id);
  return { id: created.Id, body };
}

interface Attached {
  stream: HijackedStream;
  done: Promise<void>;
}

/** Attaches to a container's streams and pipes them to ours (before start, so no output is lost). */
async function attachStdio(
  client: EngineClient,
  id: string,
  wants: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
  detachKeys?: string,
): Promise<Attached> {
  const stream = await client.containers.attach(id, {
    stream: true,
    stdin: wants.stdin,
    stdout: wants.stdout,
    stderr: wants.stderr,
    detachKeys,
  });
  const done = pipeStdio(stream, {
    tty: wants.tty,
    stdin: wants.stdin ? process.stdin : undefined,
    stdout: process.stdout,
    stderr: process.stderr,
    resize: (size) => client.containers.resize(id, size).catch(() => {}),
  });
  return { stream, done };
}

/** Registers a wait on the daemon (headers received) and returns the pending exit code. */
async function waitFor(
  client: EngineClient,
  id: string,
  condition: 'next-exit' | 'removed' | 'not-running',
): Promise<{ code: Promise<number> }> {
  const res = await client.request('POST', `/containers/${encodeURIComponent(id)}/wait`, {
    query: { condition },
  });
  const code = res.json<{ StatusCode: number; Error?: { Message?: string } | null }>().then((r) => {
    if (r.Error?.Message) process.stderr.write(`${r.Error.Message}\n`);
    return r.StatusCode;
  });
  return { code };
}

/** --sig-proxy: signals this process receives go to the container while attached without a TTY. */
function proxySignals(client: EngineClient, id: string): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  const handler = (signal: NodeJS.Signals) => {
    void client.containers.kill(id, { signal }).catch(() => {});
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}

/** docker's check before attaching a terminal: -it needs a terminal on our side. */
function checkTty(attachStdin: boolean, tty: boolean): void {
  if (attachStdin && tty && !process.stdin.isTTY) throw new CliError('the input device is not a TTY', 1);
}

function resizeNow(client: EngineClient, id: string, exec = false): void {
  const out = process.stdout;
  if (!out.isTTY || !out.rows || !out.columns) return;
  const size = { h: out.rows, w: out.columns };
  void (exec ? client.exec.resize(id, size) : client.containers.resize(id, size)).catch(() => {});
}

async function runAction(image: string, command: string[], flags: RunFlags): Promise<void> {
  const client = await ensureDaemon().catch((err) => {
    throw new CliError(`berth: ${errorText(err)}`, 125);
  });
  if (flags.detach && flags.attach.length)
    throw new CliError('berth: conflicting options: cannot specify both --attach and --detach', 125);
  if (!flags.detach) checkTty(!!flags.interactive, !!flags.tty);
  let created: Awaited<ReturnType<typeof createContainer>>;
  try {
    created = await createContainer(client, flags, image, command);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`berth: ${errorText(err)}\n\nRun 'berth run --help' for more information`, 125);
  }
  const { id, body } = created;
  if (flags.detach) {
    try {
      await client.containers.start(id);
    } catch (err) {
      throw new CliError(
        `berth: ${errorText(err)}\n\nRun 'berth run --help' for more information`,
        startFailureCode((err as Error).message),
      );
    }
    process.stdout.write(`${id}\n`);
    return;
  }
  const wants = {
    stdin: !!body.AttachStdin,
    stdout: !!body.AttachStdout,
    stderr: !!body.AttachStderr,
    tty: !!body.Tty,
  };
  const attached =
    wants.stdin || wants.stdout || wants.stderr
      ? await attachStdio(client, id, wants, flags.detachKeys)
      : undefined;
  const exit = await waitFor(client, id, flags.rm ? 'removed' : 'next-exit');
  try {
    await client.containers.start(id);
  } catch (err) {
    attached?.stream.destroy();
    exit.code.catch(() => {});
    throw new CliError(
      `berth: ${errorText(err)}\n\nRun 'berth run --help' for more information`,
      startFailureCode((err as Error).message),
    );
  }
  if (wants.tty) resizeNow(client, id);
  const unproxy = flags.sigProxy !== false && !wants.tty ? proxySignals(client, id) : undefined;
  if (attached) await attached.done.catch(() => {});
  unproxy?.();
  let code: number;
  try {
    code = await exit.code;
  } catch (err) {
    throw new CliError(errorText(err), 125);
  }
  if (wants.stdin) process.stdin.destroy();
  process.exitCode = code;
}

async function createAction(image: string, command: string[], flags: ContainerFlags): Promise<void> {
  const client = await ensureDaemon();
  try {
    const { id } = await createContainer(client, flags, image, command);
    process.stdout.write(`${id}\n`);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(errorText(err), 1);
  }
}

/** Attaches to a running container (start -a, attach) and returns its exit code once the stream ends. */
async function attachAndWait(
  client: EngineClient,
  id: string,
  opts: { stdin: boolean; start: boolean; detachKeys?: string },
): Promise<void> {
  const info = await client.containers.inspect(id);
  const tty = !!info.Config?.Tty;
  const stdin = opts.stdin && !!info.Config?.OpenStdin;
  const attached = await attachStdio(client, id, { stdin, stdout: true, stderr: true, tty }, opts.detachKeys);
  const exit = await waitFor(client, id, opts.start ? 'next-exit' : 'not-running');
  if (opts.start) {
    try {
      await client.containers.start(id);
    } catch (err) {
      attached.stream.destroy();
      exit.code.catch(() => {});
      throw err;
    }
  }
  if (tty) resizeNow(client, id);
  const unproxy = tty ? undefined : proxySignals(client, id);
  await attached.done.catch(() => {});
  unproxy?.();
  // The output ends when the container exits, or on a detach sequence (the container runs on): wait a moment
  // for the exit code, then look.
  exit.code.catch(() => {});
  const settled = await Promise.race([
    exit.code.then(
      (code) => ({ code }),
      () => ({ code: undefined }),
    ),
    new Promise<undefined>((r) => setTimeout(r, 1500)),
  ]);
  if (stdin) process.stdin.destroy();
  if (settled?.code !== undefined) {
    process.exitCode = settled.code;
    return;
  }
  const state = (await client.containers.inspect(id).catch(() => undefined))?.State;
  if (state?.Running) return;
  process.exitCode = await exit.code;
}

interface ExecFlags {
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  env: string[];
  envFile: string[];
  user?: string;
  workdir?: string;
  privileged?: boolean;
  detachKeys?: string;
}

async function execAction(container: string, command: string[], flags: ExecFlags): Promise<void> {
  if (!flags.detach) checkTty(!!flags.interactive, !!flags.tty);
  const client = await ensureDaemon();
  let env: string[];
  try {
    env = [...flags.envFile.flatMap((f) => readKeyValueFile(f, true)), ...flags.env];
  } catch (err) {
    throw new CliError(`berth: ${(err as Error).message}`, 125);
  }
  const config: ExecConfig = {
    AttachStdin: !!flags.interactive && !flags.detach,
    AttachStdout: !flags.detach,
    AttachStderr: !flags.detach,
    Tty: !!flags.tty,
    Env: env,
    Cmd: command,
    Privileged: !!flags.privileged,
    User: flags.user ?? '',
    WorkingDir: flags.workdir ?? '',
    DetachKeys: flags.detachKeys ?? '',
  };
  const out = process.stdout;
  if (flags.tty && out.isTTY && out.rows && out.columns) config.ConsoleSize = [out.rows, out.columns];
  const { Id: execId } = await client.exec.create(container, config);
  if (flags.detach) {
    await client.exec.startDetached(execId, { Tty: !!flags.tty });
    return;
  }
  const stream = await client.exec.start(execId, {
    Tty: !!flags.tty,
    ConsoleSize: config.ConsoleSize as [number, number] | undefined,
  });
  await pipeStdio(stream, {
    tty: !!flags.tty,
    stdin: flags.interactive ? process.stdin : undefined,
    stdout: process.stdout,
    stderr: process.stderr,
    resize: (size) => client.exec.resize(execId, size).catch(() => {}),
  }).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
  });
  if (flags.interactive) process.stdin.destroy();
  // The stream ends before the daemon records the exit code at times: poll briefly.
  for (let i = 0; i < 50; i++) {
    const info = await client.exec.inspect(execId);
    if (!info.Running) {
      process.exitCode = info.ExitCode ?? 0;
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.exitCode = 1;
}

function positionalOnly(cmd: Command): Command {
  // Flags after the image/container belong to the command run in the container, as in docker.
  return cmd.passThroughOptions();
}

export function registerRunCommands(parent: Command): void {
  dockerUsage(
    positionalOnly(
      addContainerOptions(
        parent
          .command('run')
          .description('Create and run a new container from an image')
          .argument('<image>')
          .argument('[command...]')
          .option('-d, --detach', 'Run container in background and print container ID')
          .option(
            '--sig-proxy [bool]',
            'Proxy received signals to the process (default true)',
            (v: string) => v !== 'false' && v !== '0',
            true,
          )
          .option('--detach-keys <keys>', 'Override the key sequence for detaching a container'),
      ),
    ),
  ).action(action(runAction));

  dockerUsage(
    positionalOnly(
      addContainerOptions(
        parent
          .command('create')
          .description('Create a new container')
          .argument('<image>')
          .argument('[command...]'),
      ),
    ),
  ).action(action(createAction));

  dockerUsage(
    parent
      .command('start')
      .description('Start one or more stopped containers')
      .argument('<container...>')
      .option('-a, --attach', 'Attach STDOUT/STDERR and forward signals')
      .option('-i, --interactive', "Attach container's STDIN")
      .option('--detach-keys <keys>', 'Override the key sequence for detaching a container'),
  ).action(
    action(
      async (
        containers: string[],
        flags: { attach?: boolean; interactive?: boolean; detachKeys?: string },
      ) => {
        const client = await ensureDaemon();
        if (flags.attach || flags.interactive) {
          if (containers.length > 1)
            throw new CliError('Error: you cannot start and attach multiple containers at once', 1);
          await attachAndWait(client, containers[0]!, {
            stdin: !!flags.interactive,
            start: true,
            detachKeys: flags.detachKeys,
          });
          return;
        }
        const failed: string[] = [];
        const errors: string[] = [];
        for (const c of containers) {
          try {
            await client.containers.start(c);
            process.stdout.write(`${c}\n`);
          } catch (err) {
            errors.push(errorText(err));
            failed.push(c);
          }
        }
        if (failed.length)
          throw new CliError(
            `${errors.join('\n')}\nError: failed to start containers: ${failed.join(', ')}`,
            1,
          );
      },
    ),
  );

  dockerUsage(
    parent
      .command('attach')
      .description('Attach local standard input, output, and error streams to a running container')
      .argument('<container>')
      .option('--no-stdin', 'Do not attach STDIN')
      .option('--sig-proxy', 'Proxy all received signals to the process (default true)')
      .option('--detach-keys <keys>', 'Override the key sequence for detaching a container'),
  ).action(
    action(async (container: string, flags: { stdin: boolean; detachKeys?: string }) => {
      const client = await ensureDaemon();
      const info = await client.containers.inspect(container);
      if (!info.State?.Running)
        throw new CliError('You cannot attach to a stopped container, start it first', 1);
      if (info.State.Paused)
        throw new CliError('You cannot attach to a paused container, unpause it first', 1);
      checkTty(flags.stdin !== false, !!info.Config?.Tty);
      await attachAndWait(client, info.Id ?? container, {
        stdin: flags.stdin !== false,
        start: false,
        detachKeys: flags.detachKeys,
      });
    }),
  );

  dockerUsage(
    positionalOnly(
      parent
        .command('exec')
        .description('Execute a command in a running container')
        .argument('<container>')
        .argument('<command...>')
        .option('-d, --detach', 'Detached mode: run command in the background')
        .option('--detach-keys <keys>', 'Override the key sequence for detaching a container')
        .option('-e, --env <k=v>', 'Set environment variables', collect, [])
        .option('--env-file <file>', 'Read in a file of environment variables', collect, [])
        .option('-i, --interactive', 'Keep STDIN open even if not attached')
        .option('--privileged', 'Give extended privileges to the command')
        .option('-t, --tty', 'Allocate a pseudo-TTY')
        .option('-u, --user <user>', 'Username or UID (format: "<name|uid>[:<group|gid>]")')
        .option('-w, --workdir <dir>', 'Working directory inside the container'),
    ),
  ).action(action(execAction));
}
