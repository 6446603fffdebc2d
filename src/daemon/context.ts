// What the API routes see of the daemon: its configuration and its services.
import type { ContainerService } from '../containers/index.js';
import type { ImageService } from '../images/index.js';
import type { NetworkService } from '../network/index.js';
import type { VolumeService } from '../volumes/index.js';
import type { DaemonConfig } from './config.js';
import type { EventBus } from './events.js';

export interface DaemonContext {
  /** A stable identifier of this daemon's data root (Docker's `ID` in info). */
  id: string;
  config: DaemonConfig;
  events: EventBus;
  images: ImageService;
  containers: ContainerService;
  networks: NetworkService;
  volumes: VolumeService;
  runtimes: { name: string; path: string }[];
  defaultRuntime: string;
  cgroupVersion: '1' | '2';
  pull?: PullFunction;
}

/** A registry pull, provided once the distribution module is wired in. */
export type PullFunction = (
  ref: string,
  opts: { platform?: string; auth?: string; allTags?: boolean; progress: (message: object) => void },
) => Promise<void>;
