// `berth compose`: docker compose v2's commands over the Engine API (the reconcile engine lives in
// src/compose; this file parses flags, prints progress and streams logs).
import { type Command, Option } from 'commander';
import type { ContainerSummary, EngineClient, Port } from '../../client/index.js';
import { demux, pipeStdio } from '../../client/index.js';
import {
  COMPOSE_VERSION,
  ComposeEngine,
  LABEL,
  listImages,
  listNetworks,
  listProfiles,
  listServices,
  listVolumes,
  loadProject,
  nameOf,
  type ProgressEvent,
  type Project,
  serviceOf,
  toJson,
  toYaml,
} from '../../compose/index.js';
import { BerthError, badRequest } from '../../util/index.js';
import { ensureDaemon } from '../connect.js';
import { formatRows } from '../format/index.js';

interface GlobalOpts {
  file?: string[];
  projectName?: string;
  projectDirectory?: string;
  envFile?: string[];
  profile?: string[];
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function globals(cmd: Command): GlobalOpts {
  let c: Command | null = cmd;
  while (c && c.name() !== 'compose') c = c.parent;
  return (c?.opts() ?? {}) as GlobalOpts;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function load(cmd: Command, services?: string[]): Promise<Project> {
  const g = globals(cmd);
  const { project, warnings } = await loadProject({
    files: g.file,
    stdin: g.file?.includes('-') ? await readStdin() : undefined,
    projectName: g.projectName,
    projectDirectory: g.projectDirectory,
    envFiles: g.envFile,
    profiles: g.profile,
    services,
  });
  for (const w of warnings) process.stderr.write(`WARN[0000] ${w}\n`);
  return project;
}

/** Commands that only need the project name (down, ps, logs…) still load the model when it is there. */
async function loadForName(cmd: Command): Promise<Project> {
  try {
    return await load(cmd);
  } catch (err) {
    const g = globals(cmd);
    if (g.projectName && /no configuration file provided|not found/i.test((err as Error).message))
      return {
        name: g.projectName,
        workingDir: process.cwd(),
        composeFiles: [],
        services: {},
        disabledServices: {},
        networks: {},
        volumes: {},
        secrets: {},
        configs: {},
        profiles: [],
        extensions: {},
        environment: {},
      };
    throw err;
  }
}

function printProgress(e: ProgressEvent): void {
  process.stderr.write(` ${e.kind} ${e.name}  ${e.status}\n`);
}

async function engineFor(cmd: Command, services?: string[], quiet = false): Promise<ComposeEngine> {
  const project = await load(cmd, services);
  const client = await ensureDaemon();
  return new ComposeEngine(client, project, {
    progress: quiet ? undefined : printProgress,
    warn: (m) => process.stderr.write(`WARN[0000] ${m}\n`),
  });
}

async function engineForName(cmd: Command): Promise<ComposeEngine> {
  const project = await loadForName(cmd);
  const client = await ensureDaemon();
  return new ComposeEngine(client, project, {
    progress: printProgress,
    warn: (m) => process.stderr.write(`WARN[0000] ${m}\n`),
  });
}

function parseScale(values: string[] = []): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const m = /^([^=]+)=(\d+)$/.exec(v);
    if (!m) throw badRequest(`--scale: invalid value ${JSON.stringify(v)}, expected SERVICE=NUM`);
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

function parseEnv(values: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i < 0) {
      const fromEnv = process.env[v];
      if (fromEnv !== undefined) out[v] = fromEnv;
    } else out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

const timeoutOpt = () =>
  new Option('-t, --timeout <seconds>', 'shutdown timeout in seconds').argParser(Number);

// ---------- log streaming

const COLORS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

/** The prefix of a container's log lines: `web-1  | `, coloured per service on a terminal. */
class Prefixer {
  private readonly colors = new Map<string, number>();
  private width = 0;
  constructor(private readonly color: boolean) {}
  label(c: ContainerSummary, project: string): string {
    const name = nameOf(c);
    return name.startsWith(`${project}-`) ? name.slice(project.length + 1) : name;
  }
  fit(labels: string[]): void {
    for (const l of labels) this.width = Math.max(this.width, l.length);
  }
  prefix(label: string, service: string): string {
    const padded = `${label.padEnd(this.width)}  | `;
    if (!this.color) return padded;
    if (!this.colors.has(service))
      this.colors.set(service, COLORS[this.colors.size % COLORS.length] as number);
    return `\x1b[${this.colors.get(service)}m${padded}\x1b[0m`;
  }
}

/** Copies a (possibly multiplexed) log stream to stdout, each line prefixed. */
async function pipePrefixed(
  client: EngineClient,
  c: ContainerSummary,
  prefix: string,
  opts: { follow?: boolean; tail?: string; timestamps?: boolean },
): Promise<void> {
  const info = await client.containers.inspect(c.Id as string);
  const raw = await client.containers.logs(c.Id as string, {
    stdout: true,
    stderr: true,
    follow: opts.follow,
    tail: opts.tail,
    timestamps: opts.timestamps,
  });
  const sources = info.Config?.Tty
    ? [raw]
    : (() => {
        const d = demux(raw);
        return [d.stdout, d.stderr];
      })();
  await Promise.all(
    sources.map(
      (s) =>
        new Promise<void>((resolve) => {
          let rest = '';
          s.on('data', (b: Buffer) => {
            const text = rest + b.toString('utf8');
            const lines = text.split('\n');
            rest = lines.pop() ?? '';
            for (const l of lines) process.stdout.write(`${prefix}${l}\n`);
          });
          s.on('end', () => {
            if (rest) process.stdout.write(`${prefix}${rest}\n`);
            resolve();
          });
          s.on('error', () => resolve());
        }),
    ),
  );
}

// ---------- ps rows

function portsText(ports: Port[] | undefined): string {
  const out: string[] = [];
  for (const p of ports ?? []) {
    if (p.PublicPort) out.push(`${p.IP || '0.0.0.0'}:${p.PublicPort}->${p.PrivatePort}/${p.Type}`);
    else out.push(`${p.PrivatePort}/${p.Type}`);
  }
  return [...new Set(out)].join(', ');
}

function psRow(c: ContainerSummary) {
  const labels = c.Labels ?? {};
  return {
    ID: c.Id,
    Name: nameOf(c),
    Names: nameOf(c),
    Image: c.Image,
    Command: `"${(c.Command ?? '').slice(0, 20)}${(c.Command ?? '').length > 20 ? '…' : ''}"`,
    Project: labels[LABEL.project],
    Service: labels[LABEL.service],
    CreatedAt: new Date((c.Created ?? 0) * 1000).toISOString(),
    State: c.State,
    Status: c.Status,
    Health: /\((healthy|unhealthy|health: starting)\)/.exec(c.Status ?? '')?.[1] ?? '',
    ExitCode: Number(/Exited \((\d+)\)/.exec(c.Status ?? '')?.[1] ?? 0),
    Ports: portsText(c.Ports),
    Publishers: (c.Ports ?? []).map((p) => ({
      URL: p.IP ?? '',
      TargetPort: p.PrivatePort,
      PublishedPort: p.PublicPort ?? 0,
      Protocol: p.Type,
    })),
    Labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Type === 'volume').length),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
    Mounts: (c.Mounts ?? []).map((m) => m.Name ?? m.Source).join(','),
  };
}

// ---------- commands

export function register(program: Command): void {
  const compose = program
    .command('compose')
    .description('Define and run multi-container applications')
    .enablePositionalOptions()
    .option('-f, --file <file>', 'compose configuration files', collect)
    .option('-p, --project-name <name>', 'project name')
    .option('--project-directory <dir>', 'alternate working directory')
    .option('--env-file <file>', 'alternate environment files', collect)
    .option('--profile <profile>', 'profiles to enable', collect);

  compose
    .command('version')
    .description('Show the compose version')
    .option('--short', 'only the version number')
    .option('--format <format>', 'pretty or json')
    .action((o: { short?: boolean; format?: string }) => {
      if (o.short) console.log(COMPOSE_VERSION);
      else if (o.format === 'json') console.log(JSON.stringify({ version: `v${COMPOSE_VERSION}` }));
      else console.log(`berth compose version v${COMPOSE_VERSION}`);
    });

  compose
    .command('config')
    .description('Parse, resolve and render the compose file in canonical format')
    .argument('[services...]')
    .option('--services', 'print the service names')
    .option('--volumes', 'print the volume names')
    .option('--networks', 'print the network names')
    .option('--profiles', 'print the profile names')
    .option('--images', 'print the image names')
    .option('-q, --quiet', 'only validate')
    .option('--format <format>', 'yaml or json', 'yaml')
    .option('-o, --output <file>', 'write to a file')
    .action(async (services: string[], o: Record<string, string | boolean | undefined>, cmd: Command) => {
      const p = await load(cmd, services.length ? services : undefined);
      let out: string;
      if (o.quiet) return;
      if (o.services) out = listServices(p).join('\n');
      else if (o.volumes) out = listVolumes(p).join('\n');
      else if (o.networks) out = listNetworks(p).join('\n');
      else if (o.profiles) out = listProfiles(p).join('\n');
      else if (o.images) out = listImages(p).join('\n');
      else if (o.format === 'json') out = toJson(p).trimEnd();
      else if (o.format === 'yaml') out = toYaml(p).trimEnd();
      else throw badRequest(`--format: unsupported format ${JSON.stringify(o.format)} (yaml or json)`);
      if (typeof o.output === 'string') {
        const { writeFileSync } = await import('node:fs');
        writeFileSync(o.output, `${out}\n`);
      } else if (out) console.log(out);
    });

  compose
    .command('up')
    .description('Create and start containers')
    .argument('[services...]')
    .option('-d, --detach', 'run containers in the background')
    .option('--build', 'build images before starting containers')
    .option('--no-build', 'do not build an image, even if it is missing')
    .option('--force-recreate', 'recreate containers even if their configuration has not changed')
    .option('--no-recreate', 'do not recreate containers that exist')
    .option('--no-deps', 'do not start linked services')
    .option('--no-start', 'do not start the services after creating them')
    .option('--remove-orphans', 'remove containers for services not defined in the compose file')
    .option('--scale <service=num>', 'scale a service', collect)
    .option('--wait', 'wait for services to be running/healthy (implies -d)')
    .option('--abort-on-container-exit', 'stop all containers if any container was stopped')
    .option('--exit-code-from <service>', 'return the exit code of the selected service container')
    .addOption(timeoutOpt())
    .action(async (services: string[], o: Record<string, unknown>, cmd: Command) => {
      if (o.recreate === false && o.forceRecreate)
        throw badRequest('--force-recreate and --no-recreate are incompatible');
      if (o.detach && (o.abortOnContainerExit || o.exitCodeFrom))
        throw badRequest('--abort-on-container-exit and -d cannot be combined');
      const engine = await engineFor(cmd, services.length ? services : undefined);
      if (typeof o.exitCodeFrom === 'string' && !engine.project.services[o.exitCodeFrom])
        throw badRequest(`no such service: ${o.exitCodeFrom}`);
      const order = await engine.up({
        services: services.length ? services : undefined,
        build: o.build === true,
        forceRecreate: o.forceRecreate === true,
        noRecreate: o.recreate === false,
        noDeps: o.deps === false,
        noStart: o.start === false,
        removeOrphans: o.removeOrphans === true,
        scale: parseScale(o.scale as string[] | undefined),
        wait: o.wait === true,
        timeout: o.timeout as number | undefined,
      });
      if (o.detach || o.wait || o.start === false) return;
      await attachUp(engine, order, {
        abort: o.abortOnContainerExit === true || typeof o.exitCodeFrom === 'string',
        exitCodeFrom: o.exitCodeFrom as string | undefined,
        timeout: o.timeout as number | undefined,
      });
    });

  compose
    .command('down')
    .description('Stop and remove containers, networks')
    .option('-v, --volumes', 'remove named volumes declared in the volumes section')
    .option('--rmi <type>', 'remove images used by services: local or all')
    .option('--remove-orphans', 'remove containers for services not defined in the compose file')
    .addOption(timeoutOpt())
    .action(
      async (
        o: { volumes?: boolean; rmi?: string; removeOrphans?: boolean; timeout?: number },
        cmd: Command,
      ) => {
        if (o.rmi !== undefined && o.rmi !== 'local' && o.rmi !== 'all')
          throw badRequest(`--rmi: invalid value ${JSON.stringify(o.rmi)} (local or all)`);
        const engine = await engineForName(cmd);
        await engine.down({
          volumes: o.volumes,
          rmi: o.rmi as 'local' | 'all' | undefined,
          removeOrphans: o.removeOrphans,
          timeout: o.timeout,
        });
      },
    );

  compose
    .command('ps')
    .description('List containers')
    .argument('[services...]')
    .option('-a, --all', 'show all stopped containers')
    .option('-q, --quiet', 'only display IDs')
    .option('--services', 'display services')
    .option('--format <format>', 'table, json or a Go template')
    .option('--status <status>', 'filter by status', collect)
    .action(async (services: string[], o: Record<string, unknown>, cmd: Command) => {
      const engine = await engineForName(cmd);
      let cs = await engine.containers({ all: o.all === true, services });
      const statuses = o.status as string[] | undefined;
      if (statuses?.length) cs = cs.filter((c) => statuses.includes(c.State ?? ''));
      if (o.quiet) for (const c of cs) console.log(c.Id);
      else if (o.services) for (const s of [...new Set(cs.map(serviceOf))]) console.log(s);
      else
        process.stdout.write(
          formatRows(o.format as string | undefined, cs.map(psRow), {
            defaultTable:
              'table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.CreatedAt}}\t{{.Status}}\t{{.Ports}}',
            headers: { CreatedAt: 'CREATED' },
          }),
        );
    });

  compose
    .command('logs')
    .description('View output from containers')
    .argument('[services...]')
    .option('-f, --follow', 'follow log output')
    .option('-n, --tail <n>', 'number of lines to show from the end', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--no-color', 'produce monochrome output')
    .option('--no-log-prefix', "don't print prefix in logs")
    .action(async (services: string[], o: Record<string, unknown>, cmd: Command) => {
      const engine = await engineForName(cmd);
      const cs = await engine.containers({ services });
      const px = new Prefixer(process.stdout.isTTY === true && o.color !== false);
      px.fit(cs.map((c) => px.label(c, engine.project.name)));
      await Promise.all(
        cs.map((c) =>
          pipePrefixed(
            engine.client,
            c,
            o.logPrefix === false ? '' : px.prefix(px.label(c, engine.project.name), serviceOf(c)),
            {
              follow: o.follow === true,
              tail: o.tail as string,
              timestamps: o.timestamps === true,
            },
          ),
        ),
      );
    });

  compose
    .command('exec')
    .description('Execute a command in a running container')
    .argument('<service>')
    .argument('<command...>')
    .passThroughOptions()
    .option('-T, --no-TTY', 'disable pseudo-TTY allocation')
    .option('-d, --detach', 'run in the background')
    .option('-e, --env <KEY=VAL>', 'set environment variables', collect)
    .option('-u, --user <user>', 'run as this user')
    .option('-w, --workdir <dir>', 'working directory')
    .option('--privileged', 'extended privileges')
    .option('--index <n>', 'index of the container if the service has several replicas', Number, 1)
    .action(async (service: string, command: string[], o: Record<string, unknown>, cmd: Command) => {
      const engine = await engineForName(cmd);
      const c = await engine.containerFor(service, o.index as number);
      const tty = o.TTY !== false && process.stdin.isTTY === true && process.stdout.isTTY === true;
      const env = parseEnv(o.env as string[] | undefined);
      const { Id } = await engine.client.exec.create(c.Id as string, {
        Cmd: command,
        Tty: tty,
        AttachStdin: !o.detach,
        AttachStdout: !o.detach,
        AttachStderr: !o.detach,
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        User: o.user as string | undefined,
        WorkingDir: o.workdir as string | undefined,
        Privileged: o.privileged === true,
      });
      if (o.detach) {
        await engine.client.exec.startDetached(Id as string, { Tty: tty });
        return;
      }
      const stream = await engine.client.exec.start(Id as string, { Tty: tty });
      await pipeStdio(stream, {
        tty,
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        resize: (size) => engine.client.exec.resize(Id as string, size),
      });
      process.stdin.pause();
      const info = await engine.client.exec.inspect(Id as string);
      process.exitCode = info.ExitCode ?? 0;
    });

  compose
    .command('run')
    .description('Run a one-off command on a service')
    .argument('<service>')
    .argument('[command...]')
    .passThroughOptions()
    .option('-d, --detach', 'run in the background and print the container name')
    .option('--rm', 'remove the container when it exits')
    .option('-e, --env <KEY=VAL>', 'set environment variables', collect)
    .option('-T, --no-TTY', 'disable pseudo-TTY allocation')
    .option('-i, --interactive', 'keep STDIN open', true)
    .option('--entrypoint <cmd>', 'override the entrypoint')
    .option('-u, --user <user>', 'run as this user')
    .option('-w, --workdir <dir>', 'working directory')
    .option('--name <name>', 'container name')
    .option('--no-deps', "don't start linked services")
    .option('-P, --service-ports', "run with the service's ports published")
    .action(async (service: string, command: string[], o: Record<string, unknown>, cmd: Command) => {
      const engine = await engineFor(cmd, [service]);
      const tty =
        o.TTY !== false && process.stdin.isTTY === true && process.stdout.isTTY === true && !o.detach;
      const { shellSplit } = await import('../../compose/index.js');
      const { id, name } = await engine.createOneoff(service, {
        command,
        environment: parseEnv(o.env as string[] | undefined),
        entrypoint: typeof o.entrypoint === 'string' ? shellSplit(o.entrypoint) : undefined,
        user: o.user as string | undefined,
        workdir: o.workdir as string | undefined,
        tty,
        interactive: !o.detach && process.stdin.isTTY === true,
        servicePorts: o.servicePorts === true,
        noDeps: o.deps === false,
        name: o.name as string | undefined,
      });
      const client = engine.client;
      if (o.detach) {
        await client.containers.start(id);
        console.log(name);
        return;
      }
      const stream = await client.containers.attach(id, {
        stream: true,
        stdin: process.stdin.isTTY === true,
        stdout: true,
        stderr: true,
      });
      const piping = pipeStdio(stream, {
        tty,
        stdin: process.stdin.isTTY ? process.stdin : undefined,
        stdout: process.stdout,
        stderr: process.stderr,
        resize: (size) => client.containers.resize(id, size),
      });
      await client.containers.start(id);
      await piping;
      process.stdin.pause();
      const { StatusCode } = await client.containers.wait(id);
      if (o.rm) await client.containers.remove(id, { force: true });
      process.exitCode = StatusCode ?? 0;
    });

  compose
    .command('create')
    .description('Create containers for a service')
    .argument('[services...]')
    .option('--build', 'build images before creating containers')
    .option('--force-recreate', 'recreate containers even if their configuration has not changed')
    .option('--no-recreate', 'do not recreate containers that exist')
    .option('--remove-orphans', 'remove containers for services not defined in the compose file')
    .option('--scale <service=num>', 'scale a service', collect)
    .action(async (services: string[], o: Record<string, unknown>, cmd: Command) => {
      const engine = await engineFor(cmd, services.length ? services : undefined);
      await engine.up({
        services: services.length ? services : undefined,
        build: o.build === true,
        forceRecreate: o.forceRecreate === true,
        noRecreate: o.recreate === false,
        removeOrphans: o.removeOrphans === true,
        scale: parseScale(o.scale as string[] | undefined),
        noStart: true,
      });
    });

  const simple = (
    name: string,
    description: string,
    fn: (e: ComposeEngine, services: string[] | undefined, o: Record<string, unknown>) => Promise<unknown>,
    extra?: (c: Command) => Command,
  ) => {
    let c = compose.command(name).description(description).argument('[services...]');
    if (extra) c = extra(c);
    c.action(async (services: string[], o: Record<string, unknown>, cmd: Command) => {
      const engine = await engineForName(cmd);
      await fn(engine, services.length ? services : undefined, o);
    });
  };
  simple('start', 'Start services', (e, s) => e.start(s));
  simple(
    'stop',
    'Stop services',
    (e, s, o) => e.stop(s, o.timeout as number | undefined),
    (c) => c.addOption(timeoutOpt()),
  );
  simple(
    'restart',
    'Restart service containers',
    (e, s, o) => e.restart(s, o.timeout as number | undefined),
    (c) => c.addOption(timeoutOpt()),
  );
  simple(
    'kill',
    'Force stop service containers',
    (e, s, o) => e.kill(s, o.signal as string | undefined),
    (c) => c.option('-s, --signal <signal>', 'signal to send', 'SIGKILL'),
  );
  simple('pause', 'Pause services', (e, s) => e.pause(s));
  simple('unpause', 'Unpause services', (e, s) => e.unpause(s));
  simple(
    'rm',
    'Remove stopped service containers',
    (e, s, o) => e.rm(s, { stop: o.stop === true, volumes: o.volumes === true }),
    (c) =>
      c
        .option('-f, --force', "don't ask to confirm removal")
        .option('-s, --stop', 'stop the containers first')
        .option('-v, --volumes', 'remove anonymous volumes'),
  );
  simple(
    'build',
    'Build or rebuild services',
    (e, s, o) =>
      e.build(s, {
        noCache: o.cache === false,
        pull: o.pull === true,
        onOutput: o.quiet ? undefined : (l) => process.stdout.write(l),
      }),
    (c) =>
      c
        .option('--no-cache', 'do not use cache')
        .option('--pull', 'always pull newer base images')
        .option('-q, --quiet', 'no output'),
  );
  simple(
    'pull',
    'Pull service images',
    (e, s, o) => e.pull(s, { ignoreFailures: o.ignorePullFailures === true }),
    (c) =>
      c
        .option('--ignore-pull-failures', 'pull what it can and ignore images with pull failures')
        .option('-q, --quiet'),
  );
  simple('push', 'Push service images', (e, s) => e.push(s));

  compose
    .command('top')
    .description('Display the running processes')
    .argument('[services...]')
    .action(async (services: string[], _o: unknown, cmd: Command) => {
      const engine = await engineForName(cmd);
      for (const c of await engine.containers({ services, all: false })) {
        const top = await engine.client.containers.top(c.Id as string);
        const rows = [top.Titles ?? [], ...(top.Processes ?? [])].map((r) => r.join('\t')).join('\n');
        const { tabwrite } = await import('../format/index.js');
        process.stdout.write(`${nameOf(c)}\n${tabwrite(`${rows}\n`)}\n`);
      }
    });

  compose
    .command('port')
    .description('Print the public port for a port binding')
    .argument('<service>')
    .argument('<private_port>')
    .option('--protocol <proto>', 'tcp or udp', 'tcp')
    .option('--index <n>', 'index of the container', Number, 1)
    .action(
      async (service: string, privatePort: string, o: { protocol: string; index: number }, cmd: Command) => {
        const engine = await engineForName(cmd);
        const c = await engine.containerFor(service, o.index);
        const p = (c.Ports ?? []).find(
          (x) => String(x.PrivatePort) === privatePort && x.Type === o.protocol && x.PublicPort,
        );
        if (!p) throw badRequest(`no port ${privatePort}/${o.protocol} for container ${nameOf(c)}`);
        console.log(`${p.IP || '0.0.0.0'}:${p.PublicPort}`);
      },
    );

  compose
    .command('images')
    .description('List images used by the created containers')
    .argument('[services...]')
    .option('-q, --quiet', 'only display IDs')
    .option('--format <format>', 'table or json')
    .action(async (services: string[], o: { quiet?: boolean; format?: string }, cmd: Command) => {
      const engine = await engineForName(cmd);
      const rows = [];
      for (const c of await engine.containers({ services })) {
        const img = await engine.client.images
          .inspect(c.ImageID ?? (c.Image as string))
          .catch(() => undefined);
        const ref = c.Image ?? '';
        const colon = ref.lastIndexOf(':');
        const hasTag = colon > ref.lastIndexOf('/');
        rows.push({
          ContainerName: nameOf(c),
          Repository: hasTag ? ref.slice(0, colon) : ref,
          Tag: hasTag ? ref.slice(colon + 1) : 'latest',
          ID: (img?.Id ?? c.ImageID ?? '').replace(/^sha256:/, '').slice(0, 12),
          Size: `${((img?.Size ?? 0) / 1e6).toFixed(1)}MB`,
        });
      }
      if (o.quiet) for (const r of new Set(rows.map((r) => r.ID))) console.log(r);
      else
        process.stdout.write(
          formatRows(o.format, rows, {
            defaultTable: 'table {{.ContainerName}}\t{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}',
            headers: { ContainerName: 'CONTAINER', ID: 'IMAGE ID' },
          }),
        );
    });

  compose
    .command('ls')
    .description('List running compose projects')
    .option('-a, --all', 'show all stopped compose projects')
    .option('-q, --quiet', 'only display project names')
    .option('--format <format>', 'table or json')
    .action(async (o: { all?: boolean; quiet?: boolean; format?: string }) => {
      const client = await ensureDaemon();
      const cs = await client.containers.list({ all: true, filters: { label: [LABEL.project] } });
      const projects = new Map<string, { states: Map<string, number>; files: string }>();
      for (const c of cs) {
        const name = c.Labels?.[LABEL.project] as string;
        const p = projects.get(name) ?? { states: new Map(), files: c.Labels?.[LABEL.configFiles] ?? '' };
        p.states.set(c.State ?? '', (p.states.get(c.State ?? '') ?? 0) + 1);
        projects.set(name, p);
      }
      const rows = [...projects.entries()]
        .filter(([, p]) => o.all || p.states.has('running'))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([Name, p]) => ({
          Name,
          Status: [...p.states.entries()].map(([s, n]) => `${s}(${n})`).join(', '),
          ConfigFiles: p.files,
        }));
      if (o.quiet) for (const r of rows) console.log(r.Name);
      else if (o.format === 'json') console.log(JSON.stringify(rows));
      else
        process.stdout.write(
          formatRows(o.format, rows, {
            defaultTable: 'table {{.Name}}\t{{.Status}}\t{{.ConfigFiles}}',
            headers: { ConfigFiles: 'CONFIG FILES' },
          }),
        );
    });
}

/** `up` without -d: stream every container's logs until they all exit (or one does, with abort). */
async function attachUp(
  engine: ComposeEngine,
  services: string[],
  opts: { abort: boolean; exitCodeFrom?: string; timeout?: number },
): Promise<void> {
  const client = engine.client;
  const cs = (await engine.containers({ services })).filter((c) => services.includes(serviceOf(c)));
  const px = new Prefixer(process.stdout.isTTY === true);
  px.fit(cs.map((c) => px.label(c, engine.project.name)));
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('Gracefully stopping... (press Ctrl+C again to force)\n');
    await engine.stop(services, opts.timeout);
  };
  const onSigint = () => {
    if (stopping) process.exit(130);
    void stopAll();
  };
  process.on('SIGINT', onSigint);
  let firstExit: { service: string; code: number } | undefined;
  const exitCodes = new Map<string, number>();
  try {
    await Promise.all(
      cs.map(async (c) => {
        const label = px.label(c, engine.project.name);
        const logs = pipePrefixed(client, c, px.prefix(label, serviceOf(c)), { follow: true });
        const { StatusCode } = await client.containers.wait(c.Id as string);
        await logs;
        const code = StatusCode ?? 0;
        exitCodes.set(serviceOf(c), code);
        process.stdout.write(
          `${px.prefix(label, serviceOf(c)).replace(/\| $/, '')}exited with code ${code}\n`,
        );
        firstExit ??= { service: serviceOf(c), code };
        if (opts.abort && !stopping) {
          process.stderr.write(`Aborting on container exit...\n`);
          await stopAll();
        }
      }),
    );
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (opts.exitCodeFrom) process.exitCode = exitCodes.get(opts.exitCodeFrom) ?? 0;
  else if (opts.abort && firstExit) process.exitCode = firstExit.code;
  if (!stopping && cs.length === 0) throw new BerthError(400, 'no containers to attach to');
}
