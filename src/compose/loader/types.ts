// The canonical Compose model, as `docker compose config` prints it after loading.
// Known fields are typed; anything else the spec allows stays reachable through the index signature.

export interface PortConfig {
  name?: string;
  mode: string;
  host_ip?: string;
  target: number;
  /** Host port or range, always a string ("8080", "8000-8010"); absent when Docker picks one. */
  published?: string;
  protocol: string;
  app_protocol?: string;
}

export interface VolumeMount {
  type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image';
  source?: string;
  target: string;
  read_only?: boolean;
  consistency?: string;
  bind?: { propagation?: string; create_host_path?: boolean; selinux?: string; [k: string]: unknown };
  volume?: { nocopy?: boolean; subpath?: string; [k: string]: unknown };
  tmpfs?: { size?: number | string; mode?: number; [k: string]: unknown };
  image?: { subpath?: string };
  [k: string]: unknown;
}

export interface DependsOn {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
  required: boolean;
  restart?: boolean;
}

export interface ServiceNetwork {
  aliases?: string[];
  ipv4_address?: string;
  ipv6_address?: string;
  priority?: number;
  [k: string]: unknown;
}

export interface BuildConfig {
  context: string;
  dockerfile?: string;
  dockerfile_inline?: string;
  args?: Record<string, string | null>;
  target?: string;
  [k: string]: unknown;
}

export interface FileReference {
  source: string;
  target?: string;
  uid?: string;
  gid?: string;
  mode?: number | string;
}

export interface HealthcheckConfig {
  test?: string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  start_interval?: string;
  disable?: boolean;
}

export interface ServiceConfig {
  /** Filled from the key under `services`; not printed. */
  name: string;
  image?: string;
  build?: BuildConfig;
  /** Kept as written: a string is shell-split later (see shellSplit), a list is used as is. */
  command?: string | string[] | null;
  entrypoint?: string | string[] | null;
  environment?: Record<string, string | null>;
  ports?: PortConfig[];
  volumes?: VolumeMount[];
  depends_on?: Record<string, DependsOn>;
  networks?: Record<string, ServiceNetwork | null>;
  network_mode?: string;
  labels?: Record<string, string>;
  profiles?: string[];
  healthcheck?: HealthcheckConfig;
  container_name?: string;
  restart?: string;
  secrets?: FileReference[];
  configs?: FileReference[];
  deploy?: { replicas?: number; [k: string]: unknown };
  scale?: number;
  [k: string]: unknown;
}

export interface NetworkConfig {
  name?: string;
  driver?: string;
  external?: boolean;
  internal?: boolean;
  [k: string]: unknown;
}

export interface VolumeConfig {
  name?: string;
  driver?: string;
  external?: boolean;
  [k: string]: unknown;
}

export interface SecretConfig {
  name?: string;
  file?: string;
  environment?: string;
  content?: string;
  external?: boolean;
  [k: string]: unknown;
}

export interface Project {
  name: string;
  /** The project directory (absolute). */
  workingDir: string;
  /** The compose files that were loaded, absolute ('-' for stdin). */
  composeFiles: string[];
  services: Record<string, ServiceConfig>;
  /** Services switched off by profiles (kept so `down` can still find their containers). */
  disabledServices: Record<string, ServiceConfig>;
  networks: Record<string, NetworkConfig>;
  volumes: Record<string, VolumeConfig>;
  secrets: Record<string, SecretConfig>;
  configs: Record<string, SecretConfig>;
  /** Active profiles. */
  profiles: string[];
  /** Top-level `x-` extension fields. */
  extensions: Record<string, unknown>;
  /** The environment used for interpolation: the process environment over the .env / --env-file values. */
  environment: Record<string, string>;
}

export interface LoadOptions {
  /** `-f` files, relative to workingDir; '-' reads `stdin`. */
  files?: string[];
  /** Content for `-f -`. */
  stdin?: string;
  projectDirectory?: string;
  projectName?: string;
  envFiles?: string[];
  profiles?: string[];
  /** Services named on the command line: enabled whatever their profiles, with their dependencies. */
  services?: string[];
  /** The process environment (defaults to process.env). */
  environment?: Record<string, string | undefined>;
  /** The current directory (defaults to process.cwd()). */
  workingDir?: string;
}

export interface LoadResult {
  project: Project;
  warnings: string[];
}
