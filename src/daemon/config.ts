// Daemon configuration: defaults, overridden by a JSON config file, overridden by flags.
import { readFile } from 'node:fs/promises';
import { badRequest } from '../util/index.js';

export interface DaemonConfig {
  /** Where images, layers, containers, volumes and networks live; only the daemon writes here. */
  dataRoot: string;
  /** Runtime state that does not survive a reboot: sockets, pid files, conmon state. */
  execRoot: string;
  /** The Engine API's unix socket. */
  socketPath: string;
  /** Group that may use the socket (mode 0660); root when unset or missing. */
  socketGroup?: string;
  /** OCI runtime: 'runc', 'crun', or an absolute path; 'auto' picks one that works here. */
  runtime: string;
  /** Also listen on TCP (e.g. 127.0.0.1:2375); never by default. */
  tcp?: { host: string; port: number };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Registries reachable over plain http besides localhost and 127.0.0.0/8. */
  insecureRegistries: string[];
  /** The default bridge network's Linux bridge and subnet, and the pool user networks draw from. */
  bridge?: string;
  bridgeSubnet?: string;
  networkPool?: string;
  /** Prefix of berth's iptables chains and network namespace names (tests run beside each other). */
  netPrefix?: string;
}

export const DEFAULT_SOCKET = '/run/berth/berth.sock';
export const DEFAULT_CONFIG_FILE = '/etc/berth/daemon.json';

export function defaultConfig(): DaemonConfig {
  return {
    dataRoot: '/var/lib/berth',
    execRoot: '/run/berth',
    socketPath: DEFAULT_SOCKET,
    runtime: 'auto',
    logLevel: 'info',
    insecureRegistries: [],
  };
}

const KNOWN_KEYS: Record<string, keyof DaemonConfig> = {
  'data-root': 'dataRoot',
  'exec-root': 'execRoot',
  socket: 'socketPath',
  group: 'socketGroup',
  runtime: 'runtime',
  'log-level': 'logLevel',
  'insecure-registries': 'insecureRegistries',
  bridge: 'bridge',
  bip: 'bridgeSubnet',
  'default-address-pool': 'networkPool',
  'net-prefix': 'netPrefix',
};

/** Reads a daemon.json (Docker's key names where they exist); a missing default file is not an error. */
export async function loadConfigFile(path: string, required: boolean): Promise<Partial<DaemonConfig>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw badRequest(`cannot read daemon config ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw badRequest(`invalid daemon config ${path}: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw badRequest(`invalid daemon config ${path}: expected a JSON object`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const field = KNOWN_KEYS[key];
    if (!field) throw badRequest(`invalid daemon config ${path}: unknown key "${key}"`);
    out[field] = value;
  }
  return out as Partial<DaemonConfig>;
}
