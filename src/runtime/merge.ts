// Docker's rules for combining an image's config with the config given at create time.
import { badRequest } from '../util/index.js';

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The image-config fields that matter at run time (OCI image config `config` / Docker ContainerConfig). */
export interface ImageRunConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Healthcheck?: HealthConfig | null;
  OnBuild?: string[] | null;
}

/** The container `Config` of the Engine API create body (the run-time subset). */
export interface ContainerConfig extends ImageRunConfig {
  Hostname?: string;
  Domainname?: string;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Image?: string;
  StopTimeout?: number;
}

const envKey = (e: string): string => {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
};

/**
 * Merges `image` into `create` the way dockerd does (daemon/commit.go merge + mergeAndVerifyConfig):
 * create-time values win; Env merges by key; Labels, ExposedPorts, Volumes are unions; an explicit
 * Entrypoint drops the image's Cmd unless a Cmd was given too; Entrypoint [""] clears it.
 * Throws 400 "No command specified" when nothing is left to run.
 */
export function mergeConfig(
  image: ImageRunConfig | null | undefined,
  create: ContainerConfig,
): ContainerConfig {
  const out: ContainerConfig = { ...create };
  const img = image ?? {};
  if (!out.User) out.User = img.User ?? '';
  const userEnv = out.Env ?? [];
  if (userEnv.length === 0) out.Env = [...(img.Env ?? [])];
  else {
    const keys = new Set(userEnv.map(envKey));
    out.Env = [...userEnv, ...(img.Env ?? []).filter((e) => !keys.has(envKey(e)))];
  }
  out.Labels = { ...(img.Labels ?? {}), ...(out.Labels ?? {}) };
  out.ExposedPorts = { ...(img.ExposedPorts ?? {}), ...(out.ExposedPorts ?? {}) };
  out.Volumes = { ...(img.Volumes ?? {}), ...(out.Volumes ?? {}) };
  if (!out.Entrypoint || out.Entrypoint.length === 0) {
    if (!out.Cmd || out.Cmd.length === 0) out.Cmd = img.Cmd ? [...img.Cmd] : out.Cmd;
    if (!out.Entrypoint) out.Entrypoint = img.Entrypoint ? [...img.Entrypoint] : null;
  }
  if (img.Healthcheck) {
    if (!out.Healthcheck) out.Healthcheck = { ...img.Healthcheck };
    else {
      const h = { ...out.Healthcheck };
      if (!h.Test || h.Test.length === 0) h.Test = img.Healthcheck.Test;
      if (!h.Interval) h.Interval = img.Healthcheck.Interval;
      if (!h.Timeout) h.Timeout = img.Healthcheck.Timeout;
      if (!h.StartPeriod) h.StartPeriod = img.Healthcheck.StartPeriod;
      if (!h.StartInterval) h.StartInterval = img.Healthcheck.StartInterval;
      if (!h.Retries) h.Retries = img.Healthcheck.Retries;
      out.Healthcheck = h;
    }
  }
  if (!out.WorkingDir) out.WorkingDir = img.WorkingDir ?? '';
  if (!out.StopSignal && img.StopSignal) out.StopSignal = img.StopSignal;
  if (out.Entrypoint?.length === 1 && out.Entrypoint[0] === '') out.Entrypoint = null;
  if ((out.Entrypoint?.length ?? 0) === 0 && (out.Cmd?.length ?? 0) === 0) {
    throw badRequest('No command specified');
  }
  return out;
}

/** The argv a merged config runs: Entrypoint followed by Cmd. */
export function commandOf(config: ContainerConfig): string[] {
  return [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
}
