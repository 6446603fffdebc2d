// Docker Engine API shapes (swagger v1.47 `Network`, `EndpointSettings`, `PortMap`) and our records.

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** `HostConfig.PortBindings` / `NetworkSettings.Ports` value. */
export interface PortBinding {
  HostIp: string;
  HostPort: string;
}
/** Keyed by `<port>/<proto>`, e.g. `80/tcp`. */
export type PortMap = Record<string, PortBinding[] | null>;
export type PortSet = Record<string, Record<string, never>>;

export interface IpamConfig {
  Subnet?: string;
  Gateway?: string;
  IPRange?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface NetworkContainer {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

/** What `GET /networks/{id}` returns. */
export interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, NetworkContainer>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** `NetworkSettings.Networks[name]` (swagger `EndpointSettings`). */
export interface EndpointSettings {
  IPAMConfig: { IPv4Address?: string } | null;
  Links: string[] | null;
  Aliases: string[] | null;
  MacAddress: string;
  DriverOpts: Record<string, string> | null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  DNSNames: string[] | null;
}

/** `NetworkSettings` of a container inspect. */
export interface NetworkSettings {
  Bridge: string;
  SandboxID: string;
  SandboxKey: string;
  HairpinMode: boolean;
  LinkLocalIPv6Address: string;
  LinkLocalIPv6PrefixLen: number;
  Ports: PortMap;
  SecondaryIPAddresses: null;
  SecondaryIPv6Addresses: null;
  EndpointID: string;
  Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  MacAddress: string;
  Networks: Record<string, EndpointSettings>;
}

/** One published port after allocation: a concrete host port. */
export interface PublishedPort {
  proto: Protocol;
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

/** An endpoint as persisted in its network's record. */
export interface EndpointRecord {
  endpointId: string;
  containerId: string;
  containerName: string;
  ifName: string;
  hostVeth: string;
  netnsPath: string;
  ipv4: string;
  mac: string;
  aliases: string[];
  /** Links on a user network (`--link db:store`): `alias` resolves to `name`, for this container only. */
  links?: { name: string; alias: string }[];
  ports: PublishedPort[];
  /** Upstream resolvers for this container's forwarded queries (`--dns`); host's when empty. */
  dns: string[];
  /** Whether this endpoint carries the container's default route. */
  defaultRoute: boolean;
}

/** A network as persisted in `<dataRoot>/networks/<id>.json`. */
export interface NetworkRecord {
  id: string;
  name: string;
  driver: 'bridge' | 'host' | 'null';
  created: string;
  internal: boolean;
  attachable: boolean;
  enableIPv6: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** Linux bridge name; '' for host/none. */
  bridge: string;
  subnet: string;
  gateway: string;
  ipRange: string;
  /** Whether the IPAM config was given by the user (inspect shows what they gave). */
  userIpam: boolean;
  predefined: boolean;
  endpoints: Record<string, EndpointRecord>;
}

export interface CreateNetworkOptions {
  Name: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  Ingress?: boolean;
  CheckDuplicate?: boolean;
  Labels?: Record<string, string>;
  Options?: Record<string, string>;
  IPAM?: { Driver?: string; Config?: IpamConfig[]; Options?: Record<string, string> };
}

export interface ConnectOptions {
  containerId: string;
  /** With or without the leading `/`. */
  containerName: string;
  /** Path of the container's network namespace (`/proc/<pid>/ns/net` or `/run/netns/<name>`). */
  netnsPath: string;
  aliases?: string[];
  /** `HostConfig.Links` / the endpoint's `Links`: `container[:alias]` (Docker's `/db:/web/store` too). */
  links?: string[];
  ipv4Address?: string;
  macAddress?: string;
  /** `HostConfig.PortBindings` (as from `parsePortSpecs`); HostPort '' means ephemeral. */
  portBindings?: PortMap;
  /** With `publishAll` (`-P`): every exposed port gets an ephemeral host port. */
  exposedPorts?: PortSet;
  publishAll?: boolean;
  /** `--dns` servers: the embedded DNS forwards this container's other names to them. */
  dns?: string[];
  /**
   * The container's resolv.conf, rewritten in place to name a user network's embedded DNS when the container
   * already runs (see NetworkService.connect); default `<dataRoot>/containers/<id>/resolv.conf`, null: none.
   */
  resolvConfPath?: string | null;
}

export interface NetworkFilters {
  name?: string[];
  id?: string[];
  label?: string[];
  driver?: string[];
  type?: string[];
  dangling?: string[];
  scope?: string[];
}

/** Where a container's network namespace comes from, per `HostConfig.NetworkMode`. */
export type NetnsPlan =
  | { mode: 'host'; netnsPath: null }
  | { mode: 'none'; netnsPath: string }
  | { mode: 'container'; containerId: string }
  | { mode: 'bridge'; network: string };
