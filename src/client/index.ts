// The typed Engine API client used by the berth CLI and compose; it also works against a real Docker daemon.
import { type EngineClientOptions, EngineTransport } from './engine.js';
import { Containers, Exec, Images, Networks, System, Volumes } from './resources.js';

export { type Demuxed, demux } from './demux.js';
export {
  CLIENT_API_VERSION,
  DaemonUnreachableError,
  DEFAULT_HOST,
  type EngineClientOptions,
  EngineError,
  type EngineResponse,
  EngineTransport,
  encodeFilters,
  encodeQuery,
  type HijackedStream,
  type HostAddress,
  hostFromEnv,
  type PingResult,
  parseHost,
  type Query,
  type RequestOptions,
} from './engine.js';
export {
  type AttachOptions,
  base64UrlPadded,
  type ContainerStats,
  Containers,
  Exec,
  type Filters,
  Images,
  type LogsOptions,
  Networks,
  type PathStat,
  type ProgressMessage,
  registryAuthHeader,
  System,
  Volumes,
} from './resources.js';
export { pipeStdio, type StdioOptions } from './stdio.js';
export type * from './types.js';

/**
 * `new EngineClient()` talks to BERTH_HOST / DOCKER_HOST / unix:///run/berth/berth.sock. Low-level calls
 * (`request`, `jsonStream`, `hijack`, `ping`) are inherited from the transport; typed calls are grouped.
 */
export class EngineClient extends EngineTransport {
  readonly containers: Containers;
  readonly exec: Exec;
  readonly images: Images;
  readonly networks: Networks;
  readonly volumes: Volumes;
  readonly system: System;

  constructor(options: EngineClientOptions = {}) {
    super(options);
    this.containers = new Containers(this);
    this.exec = new Exec(this);
    this.images = new Images(this);
    this.networks = new Networks(this);
    this.volumes = new Volumes(this);
    this.system = new System(this);
  }
}
