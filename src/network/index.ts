// Public surface of the network module: networks and IPAM, bridge plumbing, published ports,
// embedded DNS, and the container's resolv.conf and hosts files.
//
// Choices (measured/justified in the module's tests and bench/network-throughput.ts):
// - Plumbing uses `ip` and `iptables-restore` directly rather than the CNI plugins: a connect is a
//   handful of spawns (veth peer created straight inside the netns, one `ip -batch` per side, one
//   atomic iptables-restore of our own chains) where bridge+host-local+portmap+firewall would be
//   four plugin processes each running its own iptables calls, and recovery becomes a re-sync.
// - Published ports are kernel DNAT only (PREROUTING and OUTPUT), 127.0.0.1 included through
//   `route_localnet` on our bridges plus MASQUERADE of loopback sources: no userland proxy in the
//   data path, so throughput is the kernel's. The daemon holds a listening socket on each published
//   host port (never reached: DNAT happens first) so no other process can take the port meanwhile.
// - Embedded DNS listens on each user network's gateway address, port 53 (UDP and TCP). Docker
//   serves 127.0.0.11 by entering every container's netns, which Node cannot do (no setns); the
//   gateway is reachable from every container of the network and needs no per-container NAT.
// - Default bridge `berth0` on 10.201.0.0/16 (gateway 10.201.0.1); user networks get /24s from
//   10.202.0.0/15. Neither touches Docker's 172.17.0.0/16 (and 172.16/12, 192.168/16 pools) nor
//   Podman's 10.88.0.0/16 and 10.89.0.0/16; auto-allocation also avoids the host's routes.
export { EmbeddedDns, ptrToIp } from './dns.js';
export {
  type DnsSettings,
  type HostsSettings,
  hostsFileFor,
  parseResolvConf,
  renderResolvConf,
  upstreamResolvers,
} from './files.js';
export { listOurRules } from './firewall.js';
export {
  ephemeralRange,
  type ParsedPortSpecs,
  parsePortKey,
  parsePortSpecs,
  portsForInspect,
} from './ports.js';
export {
  DEFAULT_POOL,
  DEFAULT_SUBNET,
  type FilterInput,
  macFor,
  NetworkService,
  type NetworkServiceOptions,
} from './service.js';
export type {
  ConnectOptions,
  CreateNetworkOptions,
  EndpointSettings,
  NetworkContainer,
  NetworkFilters,
  NetworkInspect,
  NetworkSettings,
  PortBinding,
  PortMap,
  PortSet,
  Protocol,
  PublishedPort,
} from './types.js';
