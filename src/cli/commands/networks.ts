// `berth network create/ls/inspect/rm/connect/disconnect/prune`: Docker's network commands over the Engine API.
import type { Command } from 'commander';
import type { IPAMConfig, Network } from '../../client/index.js';
import { ensureDaemon } from '../connect.js';
import { formatRows, NETWORKS_FORMAT, networkRow } from '../format/index.js';
import { collect } from '../opts/units.js';
import { CliError, commandGroup } from './container-common.js';
import { confirm, forEachArg, inspectAll, keyValues, parseFilters } from './images.js';

interface CreateOpts {
  driver: string;
  subnet: string[];
  gateway: string[];
  ipRange: string[];
  auxAddress: string[];
  internal?: boolean;
  attachable?: boolean;
  ipv6?: boolean;
  label: string[];
  opt: string[];
  ipamDriver?: string;
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

/** Whether `ip` (an address, or a CIDR's base address) lies in IPv4 `cidr`; false for IPv6. */
function contains(cidr: string, ip: string): boolean {
  const [base, bits] = cidr.split('/');
  const b = ipv4ToInt(base ?? '');
  const i = ipv4ToInt(ip.split('/')[0] ?? '');
  const len = Number(bits);
  if (b === undefined || i === undefined || !(len >= 0 && len <= 32)) return false;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return (b & mask) >>> 0 === (i & mask) >>> 0;
}

/**
 * docker's consolidateIpam: each --gateway, --ip-range and --aux-address goes with the --subnet that
 * contains it; one without a subnet, or matching none, is an error.
 */
export function ipamConfigs(
  subnets: string[],
  ranges: string[],
  gateways: string[],
  aux: Record<string, string>,
): IPAMConfig[] {
  if (subnets.length < ranges.length || subnets.length < gateways.length)
    throw new CliError('every ip-range or gateway must have a corresponding subnet');
  const configs: IPAMConfig[] = subnets.map((s) => ({ Subnet: s }));
  for (let i = 0; i < subnets.length; i++) {
    for (let j = i + 1; j < subnets.length; j++) {
      if (contains(subnets[i]!, subnets[j]!) || contains(subnets[j]!, subnets[i]!))
        throw new CliError(`multiple overlapping subnet configuration is not supported`);
    }
  }
  for (const r of ranges) {
    const c = configs.find((c) => contains(c.Subnet!, r));
    if (!c) throw new CliError(`no matching subnet for range ${r}`);
    if (c.IPRange)
      throw new CliError(
        `cannot configure multiple ranges (${r}, ${c.IPRange}) on the same subnet (${c.Subnet})`,
      );
    c.IPRange = r;
  }
  for (const g of gateways) {
    const c = configs.find((c) => contains(c.Subnet!, g));
    if (!c) throw new CliError(`no matching subnet for gateway ${g}`);
    if (c.Gateway)
      throw new CliError(
        `cannot configure multiple gateways (${g}, ${c.Gateway}) for the same subnet (${c.Subnet})`,
      );
    c.Gateway = g;
  }
  for (const [key, ip] of Object.entries(aux)) {
    const c = configs.find((c) => contains(c.Subnet!, ip));
    if (!c) throw new CliError(`no matching subnet for aux-address ${ip}`);
    c.AuxiliaryAddresses = { ...c.AuxiliaryAddresses, [key]: ip };
  }
  return configs;
}

async function create(name: string, opts: CreateOpts): Promise<void> {
  const config = ipamConfigs(opts.subnet, opts.ipRange, opts.gateway, keyValues(opts.auxAddress));
  const client = await ensureDaemon();
  const res = await client.networks.create({
    Name: name,
    Driver: opts.driver,
    Options: keyValues(opts.opt),
    IPAM: { Driver: opts.ipamDriver ?? 'default', Config: config, Options: {} },
    Internal: opts.internal === true,
    Attachable: opts.attachable === true,
    EnableIPv6: opts.ipv6 === true ? true : undefined,
    Labels: keyValues(opts.label),
  } as Parameters<typeof client.networks.create>[0]);
  process.stdout.write(`${res.Id}\n`);
}

/** Natural order as docker's sortorder.NaturalLess (digit runs compare as numbers). */
export function naturalLess(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true, sensitivity: 'variant' }) || (a < b ? -1 : a > b ? 1 : 0);
}

async function list(opts: { quiet?: boolean; filter?: string[]; format?: string; trunc?: boolean }) {
  const client = await ensureDaemon();
  const networks: Network[] = await client.networks.list({ filters: parseFilters(opts.filter) });
  networks.sort((a, b) => naturalLess(a.Name ?? '', b.Name ?? ''));
  const rows = networks.map((n) => networkRow(n, { trunc: opts.trunc !== false }));
  const format = opts.quiet ? NETWORKS_FORMAT.quiet : opts.format;
  process.stdout.write(formatRows(format, rows, NETWORKS_FORMAT));
}

export async function pruneNetworks(filter: Record<string, string[]>): Promise<string> {
  const client = await ensureDaemon();
  const report = await client.networks.prune({ filters: filter });
  const deleted = report.NetworksDeleted ?? [];
  return deleted.length > 0 ? `Deleted Networks:\n${deleted.map((n) => `${n}\n`).join('')}` : '';
}

export function register(program: Command): void {
  const network = commandGroup(program, 'network', 'Manage networks');

  network
    .command('create')
    .description('Create a network')
    .argument('<NETWORK>')
    .option('-d, --driver <string>', 'Driver to manage the Network', 'bridge')
    .option('--subnet <cidr>', 'Subnet in CIDR format that represents a network segment', collect, [])
    .option('--gateway <ip>', 'IPv4 or IPv6 Gateway for the master subnet', collect, [])
    .option('--ip-range <cidr>', 'Allocate container ip from a sub-range', collect, [])
    .option('--aux-address <name=ip>', 'Auxiliary IPv4 or IPv6 addresses used by Network driver', collect, [])
    .option('--internal', 'Restrict external access to the network')
    .option('--attachable', 'Enable manual container attachment')
    .option('--ipv6', 'Enable or disable IPv6 networking')
    .option('--label <label>', 'Set metadata on a network', collect, [])
    .option('-o, --opt <key=value>', 'Set driver specific options', collect, [])
    .option('--ipam-driver <string>', 'IP Address Management Driver', 'default')
    .action(create);

  network
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-f, --filter <filter>', "Provide filter values (e.g. 'driver=bridge')", collect, [])
    .option('--format <string>', 'Format output using a custom template')
    .option('--no-trunc', 'Do not truncate the output')
    .option('-q, --quiet', 'Only display network IDs')
    .action(list);

  network
    .command('inspect')
    .description('Display detailed information on one or more networks')
    .argument('<NETWORK...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .option('-v, --verbose', 'Verbose output for diagnostics')
    .action(async (names: string[], opts: { format?: string; verbose?: boolean }) => {
      const client = await ensureDaemon();
      await inspectAll(names, (n) => client.networks.inspect(n, { verbose: opts.verbose }), opts.format);
    });

  network
    .command('rm')
    .alias('remove')
    .description('Remove one or more networks')
    .argument('<NETWORK...>')
    .option('-f, --force', 'Do not error if the network does not exist')
    .action(async (names: string[], opts: { force?: boolean }) => {
      const client = await ensureDaemon();
      await forEachArg(names, async (name) => {
        try {
          await client.networks.remove(name);
        } catch (err) {
          if (opts.force && (err as { status?: number }).status === 404) return;
          throw err;
        }
        process.stdout.write(`${name}\n`);
      });
    });

  network
    .command('connect')
    .description('Connect a container to a network')
    .argument('<NETWORK>')
    .argument('<CONTAINER>')
    .option('--alias <alias>', 'Add network-scoped alias for the container', collect, [])
    .option('--ip <ip>', 'IPv4 address (e.g., "172.30.100.104")')
    .option('--ip6 <ip>', 'IPv6 address (e.g., "2001:db8::33")')
    .option('--link <container:alias>', 'Add link to another container', collect, [])
    .option('--driver-opt <key=value>', 'driver options for the network', collect, [])
    .action(
      async (
        net: string,
        container: string,
        opts: { alias: string[]; ip?: string; ip6?: string; link: string[]; driverOpt: string[] },
      ) => {
        const client = await ensureDaemon();
        await client.networks.connect(net, {
          Container: container,
          EndpointConfig: {
            IPAMConfig: opts.ip || opts.ip6 ? { IPv4Address: opts.ip, IPv6Address: opts.ip6 } : undefined,
            Aliases: opts.alias.length ? opts.alias : undefined,
            Links: opts.link.length ? opts.link : undefined,
            DriverOpts: opts.driverOpt.length ? keyValues(opts.driverOpt) : undefined,
          },
        });
      },
    );

  network
    .command('disconnect')
    .description('Disconnect a container from a network')
    .argument('<NETWORK>')
    .argument('<CONTAINER>')
    .option('-f, --force', 'Force the container to disconnect from a network')
    .action(async (net: string, container: string, opts: { force?: boolean }) => {
      const client = await ensureDaemon();
      await client.networks.disconnect(net, { Container: container, Force: opts.force === true });
    });

  network
    .command('prune')
    .description('Remove all unused networks')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect, [])
    .action(async (opts: { force?: boolean; filter?: string[] }) => {
      const filters = parseFilters(opts.filter) as Record<string, string[]>;
      if (
        !opts.force &&
        !(await confirm('WARNING! This will remove all custom networks not used by at least one container.'))
      )
        return;
      const text = await pruneNetworks(filters);
      if (text) process.stdout.write(`${text}\n`);
    });
}
