// Engine API shapes returned by the image service (swagger v1.47: ImageSummary, ImageInspect,
// HistoryResponseItem, ImageDeleteResponseItem, ImagePruneResponse).
import type { ContainerConfig } from './media.js';

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Record<string, string>;
  Containers: number;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: ContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  VirtualSize?: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime?: string };
}

export interface HistoryResponseItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[];
  Size: number;
  Comment: string;
}

export interface ImageDeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

export interface ImagePruneResponse {
  ImagesDeleted: ImageDeleteResponseItem[];
  SpaceReclaimed: number;
}
