// Lifecycle verbs (stop, kill, restart, pause, unpause, wait, rm, rename, prune) and the read-only ones
// (ps, inspect, logs, top, port), printed as the docker CLI prints them.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { type ContainerSummary, demux, type EngineClient, EngineError } from '../../client/index.js';
import { ensureDaemon } from '../connect.js';
import { containerRow, formatInspect, formatRows, humanSize, PS_FORMAT, tabwrite } from '../format/index.js';
import { collect, parseDurationNs } from '../opts/index.js';
import {
  action,
  CliError,
  dockerUsage,
  eachTarget,
  errorText,
  filtersOf,
  intOption,
} from './container-common.js';

function cmd(parent: Command, name: string, description: string): Command {
  return dockerUsage(parent.command(name).description(description));
}

/** docker's GetTimestamp: a unix time, an RFC 3339 date, or a duration before now (`10m`). */
export function logTimestamp(value: string | undefined, now = Date.now()): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    const ns = parseDurationNs(value);
    return ((now * 1e6 - ns) / 1e9).toFixed(9);
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new CliError(`Error: invalid value for "since"/"until": ${value}`, 1);
  return (ms / 1000).toFixed(9);
}

async function psAction(flags: {
  all?: boolean;
  last?: string;
  latest?: boolean;
  quiet?: boolean;
  size?: boolean;
  trunc?: boolean;
  filter: string[];
  format?: string;
}): Promise<void> {
  const client = await ensureDaemon();
  let last = intOption(flags.last, '-n, --last') ?? -1;
  if (flags.latest && last === -1) last = 1;
  let format = flags.format;
  if (flags.quiet) format = PS_FORMAT.quiet;
  else if (!format && flags.size) format = `${PS_FORMAT.defaultTable}\t{{.Size}}`;
  const wantSize = !!flags.size || (!!format && /\.Size\b/.test(format));
  const list: ContainerSummary[] = await client.containers.list({
    all: !!flags.all || last > 0,
    limit: last > 0 ? last : undefined,
    size: wantSize,
    filters: filtersOf(flags.filter),
  });
  const rows = list.map((c) => containerRow(c, { trunc: flags.trunc !== false }));
  process.stdout.write(formatRows(format, rows, PS_FORMAT));
}

type Kind = 'container' | 'image' | 'network' | 'volume';

async function inspectOne(client: EngineClient, kind: Kind, name: string, size: boolean): Promise<unknown> {
  switch (kind) {
    case 'container':
      return client.containers.inspect(name, { size });
    case 'image':
      return client.images.inspect(name);
    case 'network':
      return client.networks.inspect(name);
    case 'volume':
      return client.volumes.inspect(name);
  }
}

async function inspectAction(
  names: string[],
  flags: { format?: string; type?: string; size?: boolean },
  only?: Kind,
): Promise<void> {
  const kinds: Kind[] = ['container', 'image', 'network', 'volume'];
  const type = only ?? flags.type;
  if (type && !kinds.includes(type as Kind))
    throw new CliError(`"${type}" is not a valid value for --type`, 1);
  const client = await ensureDaemon();
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const name of names) {
    if (type) {
      try {
        found.push(await inspectOne(client, type as Kind, name, !!flags.size));
      } catch (err) {
        errors.push(err instanceof EngineError ? `Error response from daemon: ${err.message}` : String(err));
      }
      continue;
    }
    let hit: unknown;
    for (const kind of kinds) {
      try {
        hit = await inspectOne(client, kind, name, !!flags.size);
        break;
      } catch (err) {
        if (!(err instanceof EngineError) || err.status !== 404) {
          errors.push(`Error response from daemon: ${(err as Error).message}`);
          hit = null;
          break;
        }
      }
    }
    if (hit === undefined) errors.push(`Error: No such object: ${name}`);
    else if (hit !== null) found.push(hit);
  }
  let text: string;
  try {
    text = flags.format ? formatInspect(found, flags.format) : formatInspect(found);
  } catch (err) {
    throw new CliError(`template parsing error: ${(err as Error).message}`, 1);
  }
  if (flags.format || found.length || errors.length) process.stdout.write(text);
  if (errors.length) throw new CliError(errors.join('\n'), 1);
}

async function logsAction(
  container: string,
  flags: {
    follow?: boolean;
    tail?: string;
    since?: string;
    until?: string;
    timestamps?: boolean;
    details?: boolean;
  },
): Promise<void> {
  const client = await ensureDaemon();
  const info = await client.containers.inspect(container);
  const stream = await client.containers.logs(info.Id ?? container, {
    stdout: true,
    stderr: true,
    follow: !!flags.follow,
    tail: flags.tail ?? 'all',
    since: logTimestamp(flags.since),
    until: logTimestamp(flags.until),
    timestamps: !!flags.timestamps,
  });
  await new Promise<void>((resolve, reject) => {
    if (info.Config?.Tty) {
      stream.on('data', (b: Buffer) => process.stdout.write(b));
      stream.once('end', resolve);
      stream.once('error', reject);
      return;
    }
    const { stdout, stderr } = demux(stream);
    let open = 2;
    const done = () => {
      if (--open === 0) resolve();
    };
    stdout.on('data', (b: Buffer) => process.stdout.write(b));
    stderr.on('data', (b: Buffer) => process.stderr.write(b));
    stdout.once('end', done);
    stderr.once('end', done);
    stdout.once('error', reject);
  });
}

async function topAction(container: string, psArgs: string[]): Promise<void> {
  const client = await ensureDaemon();
  const top = await client.containers.top(container, {
    psArgs: psArgs.length ? psArgs.join(' ') : undefined,
  });
  const lines = [(top.Titles ?? []).join('\t'), ...(top.Processes ?? []).map((p) => p.join('\t'))];
  process.stdout.write(tabwrite(`${lines.join('\n')}\n`, { minwidth: 20, padding: 3 }));
}

/** `80/tcp -> 0.0.0.0:8080` lines from the container's port map, as `docker port` prints them. */
export function portLines(
  ports: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null | undefined,
  wanted?: string,
): string[] {
  const hostAddr = (b: { HostIp?: string; HostPort?: string }) => {
    const ip = b.HostIp || '0.0.0.0';
    return `${ip.includes(':') ? `[${ip}]` : ip}:${b.HostPort ?? ''}`;
  };
  const entries = Object.entries(ports ?? {}).sort(([a], [b]) => {
    const [pa, qa] = a.split('/');
    const [pb, qb] = b.split('/');
    return Number(pa) - Number(pb) || (qa ?? '').localeCompare(qb ?? '');
  });
  if (wanted !== undefined) {
    const key = wanted.includes('/') ? wanted : `${wanted}/tcp`;
    return (ports?.[key] ?? []).map(hostAddr);
  }
  return entries.flatMap(([key, bindings]) => (bindings ?? []).map((b) => `${key} -> ${hostAddr(b)}`));
}

async function portAction(container: string, wanted: string | undefined): Promise<void> {
  const client = await ensureDaemon();
  const info = await client.containers.inspect(container);
  if (wanted !== undefined) {
    const [port, proto = 'tcp'] = wanted.split('/');
    if (!/^\d+$/.test(port ?? '') || !['tcp', 'udp', 'sctp'].includes(proto))
      throw new CliError(`Error: invalid port (${wanted})`, 1);
  }
  const ports = info.NetworkSettings?.Ports as Parameters<typeof portLines>[0];
  const lines = portLines(ports, wanted);
  if (wanted !== undefined && lines.length === 0)
    throw new CliError(`Error: No public port '${wanted}' published for ${container}`, 1);
  if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
}

async function confirm(question: string): Promise<boolean> {
  process.stdout.write(question);
  if (!process.stdin.readable) return false;
  const rl = createInterface({ input: process.stdin });
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

async function pruneAction(flags: { force?: boolean; filter: string[] }): Promise<void> {
  const filters = filtersOf(flags.filter);
  const client = await ensureDaemon();
  if (
    !flags.force &&
    !(await confirm(
      'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ',
    ))
  )
    return;
  const report = await client.containers.prune({ filters });
  let out = '';
  const deleted = report.ContainersDeleted ?? [];
  if (deleted.length) out += `Deleted Containers:\n${deleted.join('\n')}\n\n`;
  out += `Total reclaimed space: ${humanSize(report.SpaceReclaimed ?? 0, 3)}\n`;
  process.stdout.write(out);
}

/** Registers the verbs on `parent` (the program or the `container` group). */
export function registerManageCommands(parent: Command, inGroup: boolean): void {
  const ps = (name: string) =>
    cmd(parent, name, 'List containers')
      .option('-a, --all', 'Show all containers (default shows just running)')
      .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect, [])
      .option('--format <format>', 'Format output using a custom template')
      .option('-n, --last <n>', 'Show n last created containers (includes all states)')
      .option('-l, --latest', 'Show the latest created container (includes all states)')
      .option('--no-trunc', "Don't truncate output")
      .option('-q, --quiet', 'Only display container IDs')
      .option('-s, --size', 'Display total file sizes')
      .action(action(psAction));
  if (inGroup) {
    ps('ls').alias('list').alias('ps');
  } else {
    ps('ps');
  }

  cmd(parent, 'stop', 'Stop one or more running containers')
    .argument('<container...>')
    .option('-s, --signal <signal>', 'Signal to send to the container')
    .option('-t, --timeout <seconds>', 'Seconds to wait before killing the container')
    .option('--time <seconds>', 'Seconds to wait before killing the container (deprecated: --timeout)')
    .action(
      action(async (targets: string[], flags: { signal?: string; time?: string; timeout?: string }) => {
        const t = intOption(flags.timeout ?? flags.time, '-t, --timeout');
        const client = await ensureDaemon();
        await eachTarget(targets, (c) => client.containers.stop(c, { t, signal: flags.signal }));
      }),
    );

  cmd(parent, 'restart', 'Restart one or more containers')
    .argument('<container...>')
    .option('-s, --signal <signal>', 'Signal to send to the container')
    .option('-t, --timeout <seconds>', 'Seconds to wait before killing the container')
    .option('--time <seconds>', 'Seconds to wait before killing the container (deprecated: --timeout)')
    .action(
      action(async (targets: string[], flags: { signal?: string; time?: string; timeout?: string }) => {
        const t = intOption(flags.timeout ?? flags.time, '-t, --timeout');
        const client = await ensureDaemon();
        await eachTarget(targets, (c) => client.containers.restart(c, { t, signal: flags.signal }));
      }),
    );

  cmd(parent, 'kill', 'Kill one or more running containers')
    .argument('<container...>')
    .option('-s, --signal <signal>', 'Signal to send to the container')
    .action(
      action(async (targets: string[], flags: { signal?: string }) => {
        const client = await ensureDaemon();
        await eachTarget(targets, (c) => client.containers.kill(c, { signal: flags.signal }));
      }),
    );

  for (const verb of ['pause', 'unpause'] as const) {
    cmd(parent, verb, `${verb === 'pause' ? 'Pause' : 'Unpause'} all processes within one or more containers`)
      .argument('<container...>')
      .action(
        action(async (targets: string[]) => {
          const client = await ensureDaemon();
          await eachTarget(targets, (c) => client.containers[verb](c));
        }),
      );
  }

  cmd(parent, 'wait', 'Block until one or more containers stop, then print their exit codes')
    .argument('<container...>')
    .action(
      action(async (targets: string[]) => {
        const client = await ensureDaemon();
        await eachTarget(
          targets,
          async (c) => {
            const r = await client.containers.wait(c);
            process.stdout.write(`${r.StatusCode}\n`);
          },
          { print: false },
        );
      }),
    );

  const rm = (name: string) =>
    cmd(parent, name, 'Remove one or more containers')
      .argument('<container...>')
      .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
      .option('-l, --link', 'Remove the specified link')
      .option('-v, --volumes', 'Remove anonymous volumes associated with the container')
      .action(
        action(async (targets: string[], flags: { force?: boolean; volumes?: boolean; link?: boolean }) => {
          const client = await ensureDaemon();
          await eachTarget(targets, async (c) => {
            try {
              await client.containers.remove(c, {
                force: !!flags.force,
                volumes: !!flags.volumes,
                link: flags.link,
              });
            } catch (err) {
              // docker rm -f: a container that is not there is reported, but the removal does not fail
              if (!flags.force || !(err instanceof EngineError) || err.status !== 404) throw err;
              process.stderr.write(`${errorText(err)}\n`);
              return 'skipped';
            }
          });
        }),
      );
  if (inGroup) rm('rm').alias('remove');
  else rm('rm');

  cmd(parent, 'rename', 'Rename a container')
    .argument('<container>')
    .argument('<new-name>')
    .action(
      action(async (container: string, name: string) => {
        const client = await ensureDaemon();
        if (!name.trim()) throw new CliError('Error: Neither old nor new names may be empty', 1);
        try {
          await client.containers.rename(container, name);
        } catch (err) {
          const text =
            err instanceof EngineError ? `Error response from daemon: ${err.message}` : String(err);
          throw new CliError(`${text}\nError: failed to rename container named ${container}`, 1);
        }
      }),
    );

  cmd(
    parent,
    'inspect',
    inGroup
      ? 'Display detailed information on one or more containers'
      : 'Return low-level information on Docker objects',
  )
    .argument('<name...>')
    .option('-f, --format <format>', 'Format output using a custom template')
    .option('-s, --size', 'Display total file sizes if the type is container')
    .option('--type <type>', 'Only inspect objects of the given type')
    .action(
      action((names: string[], flags: { format?: string; type?: string; size?: boolean }) =>
        inspectAction(names, flags, inGroup ? 'container' : undefined),
      ),
    );

  cmd(parent, 'logs', 'Fetch the logs of a container')
    .argument('<container>')
    .option('--details', 'Show extra details provided to logs')
    .option('-f, --follow', 'Follow log output')
    .option(
      '--since <time>',
      'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")',
    )
    .option('-n, --tail <n>', 'Number of lines to show from the end of the logs', 'all')
    .option('-t, --timestamps', 'Show timestamps')
    .option('--until <time>', 'Show logs before a timestamp or relative')
    .action(action(logsAction));

  cmd(parent, 'top', 'Display the running processes of a container')
    .argument('<container>')
    .argument('[ps-options...]')
    .passThroughOptions()
    .allowUnknownOption()
    .action(action(topAction));

  cmd(parent, 'port', 'List port mappings or a specific mapping for the container')
    .argument('<container>')
    .argument('[private-port]')
    .action(action(portAction));

  if (inGroup) {
    cmd(parent, 'prune', 'Remove all stopped containers')
      .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect, [])
      .option('-f, --force', 'Do not prompt for confirmation')
      .action(action(pruneAction));
  }
}
