// Health checks as Docker runs them: the Healthcheck config (image + --health-* flags), its validation, and
// a monitor that probes on a schedule through an injected runner and keeps Docker's `Health` state.
import { badRequest, formatGoDuration, parseGoDuration } from '../util/index.js';

/** Docker's HealthConfig; durations in nanoseconds, 0 = inherit/default. */
export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** Docker's State.Health. */
export interface Health {
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthLogEntry[];
}

const NS_PER_MS = 1_000_000;
/** Docker's defaults (ns). */
export const HEALTH_DEFAULTS = {
  Interval: 30_000 * NS_PER_MS,
  Timeout: 30_000 * NS_PER_MS,
  StartPeriod: 0,
  StartInterval: 5_000 * NS_PER_MS,
  Retries: 3,
} as const;
/** Probes kept in Health.Log, and bytes of output kept per probe. */
export const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT_BYTES = 4096;
const MIN_DURATION_NS = NS_PER_MS;

// Go's duration syntax lives in util; re-exported here for the health check's callers.
export { formatGoDuration, parseGoDuration };

/** `--health-*` / `--no-healthcheck` flags (durations in ns), as the docker CLI turns them into a config. */
export interface HealthFlags {
  cmd?: string;
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
  noHealthcheck?: boolean;
}

/** The CLI's flags → Config.Healthcheck (undefined: none given, the image's applies), with its errors. */
export function healthcheckFromFlags(f: HealthFlags): HealthConfig | undefined {
  const have =
    (f.cmd ?? '') !== '' ||
    !!f.interval ||
    !!f.timeout ||
    !!f.startPeriod ||
    !!f.retries ||
    !!f.startInterval;
  if (f.noHealthcheck) {
    if (have) throw badRequest('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!have) return undefined;
  const checks: [number | undefined, string][] = [
    [f.interval, '--health-interval'],
    [f.timeout, '--health-timeout'],
    [f.retries, '--health-retries'],
    [f.startPeriod, '--health-start-period'],
    [f.startInterval, '--health-start-interval'],
  ];
  for (const [v, flag] of checks) if ((v ?? 0) < 0) throw badRequest(`${flag} cannot be negative`);
  return {
    Test: f.cmd ? ['CMD-SHELL', f.cmd] : [],
    Interval: f.interval ?? 0,
    Timeout: f.timeout ?? 0,
    StartPeriod: f.startPeriod ?? 0,
    StartInterval: f.startInterval ?? 0,
    Retries: f.retries ?? 0,
  };
}

/** Docker's merge of Config.Healthcheck over the image's: each unset (empty/0) field is inherited. */
export function mergeHealthcheck(
  image?: HealthConfig | null,
  user?: HealthConfig | null,
): HealthConfig | undefined {
  if (!user) return image ? { ...image } : undefined;
  if (!image) return { ...user };
  return {
    Test: user.Test && user.Test.length > 0 ? user.Test : image.Test,
    Interval: user.Interval || image.Interval,
    Timeout: user.Timeout || image.Timeout,
    StartPeriod: user.StartPeriod || image.StartPeriod,
    StartInterval: user.StartInterval || image.StartInterval,
    Retries: user.Retries || image.Retries,
  };
}

/** The daemon's checks on Config.Healthcheck at create. */
export function validateHealthcheck(h: HealthConfig | null | undefined): void {
  if (!h) return;
  const min = formatGoDuration(MIN_DURATION_NS);
  const durations: [number | undefined, string][] = [
    [h.Interval, 'Interval'],
    [h.Timeout, 'Timeout'],
    [h.StartPeriod, 'StartPeriod'],
    [h.StartInterval, 'StartInterval'],
  ];
  for (const [v, name] of durations)
    if (v !== undefined && v !== 0 && v < MIN_DURATION_NS)
      throw badRequest(`${name} in Healthcheck cannot be less than ${min}`);
  if ((h.Retries ?? 0) < 0) throw badRequest('Retries in Healthcheck cannot be negative');
  const kind = h.Test?.[0];
  if (kind !== undefined && !['NONE', 'CMD', 'CMD-SHELL'].includes(kind))
    throw badRequest(`unknown healthcheck type '${kind}' (expected 'CMD', 'CMD-SHELL' or 'NONE')`);
  if ((kind === 'CMD' || kind === 'CMD-SHELL') && (h.Test?.length ?? 0) < 2)
    throw badRequest(`healthcheck ${kind} needs a command`);
}

/** The command a probe runs, or undefined when the config disables health checks (none, [], NONE). */
export function probeCommand(h: HealthConfig | null | undefined, shell?: string[]): string[] | undefined {
  const test = h?.Test;
  if (!test || test.length === 0) return undefined;
  if (test[0] === 'CMD' && test.length > 1) return test.slice(1);
  if (test[0] === 'CMD-SHELL' && test.length > 1)
    return [...(shell && shell.length > 0 ? shell : ['/bin/sh', '-c']), test.slice(1).join(' ')];
  return undefined;
}

/** Keeps the first 4096 bytes of a probe's output, as Docker does, marking a cut with "...". */
export function truncateOutput(output: string): string {
  const buf = Buffer.from(output, 'utf8');
  if (buf.length <= MAX_OUTPUT_BYTES) return output;
  return `${buf.subarray(0, MAX_OUTPUT_BYTES).toString('utf8')}...`;
}

export interface ProbeResult {
  exitCode: number;
  output: string;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface HealthMonitorOptions {
  config: HealthConfig;
  /** Runs the probe in the container (exec), kills it after `timeoutMs`; resolves with its exit code. */
  runProbe: (cmd: string[], timeoutMs: number) => Promise<ProbeResult>;
  /** Config.Shell, used for CMD-SHELL. */
  shell?: string[];
  /** Called when Health.Status changes (emit `health_status: <status>`), with a copy of the state. */
  onStatus?: (status: HealthStatus, health: Health) => void;
  /** Called after each probe with a copy of the state (persist it to the container record). */
  onProbe?: (health: Health, entry: HealthLogEntry) => void;
  /** The Health of the previous run: its Log is kept across restarts (status and streak reset), as Docker. */
  previous?: Health;
  /** When the container started (ms since epoch); defaults to now. */
  startedAt?: number;
  /** Clock (ms since epoch) and timers; injectable for tests. */
  now?: () => number;
  timers?: Timers;
}

/** Probes a running container on Docker's schedule and keeps its Health state. One per container start. */
export class HealthMonitor {
  private readonly opts: HealthMonitorOptions;
  private readonly cmd: string[] | undefined;
  private readonly now: () => number;
  private readonly timers: Timers;
  private readonly startedAt: number;
  private state: Health = { Status: 'starting', FailingStreak: 0, Log: [] };
  private timer: unknown;
  private running = false;
  private inFlight: Promise<void> | undefined;
  /** Bumped by stop(): a probe started before it is not recorded. */
  private generation = 0;

  constructor(opts: HealthMonitorOptions) {
    this.opts = opts;
    this.cmd = probeCommand(opts.config, opts.shell);
    this.now = opts.now ?? Date.now;
    this.timers = opts.timers ?? {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    };
    this.startedAt = opts.startedAt ?? this.now();
    if (opts.previous) this.state.Log = opts.previous.Log.slice(-MAX_LOG_ENTRIES).map((e) => ({ ...e }));
  }

  /** False when the config disables health checks (no monitor, no Health in inspect). */
  get enabled(): boolean {
    return this.cmd !== undefined;
  }

  /** A copy of the current state. */
  get health(): Health {
    return { ...this.state, Log: this.state.Log.map((e) => ({ ...e })) };
  }

  private ms(field: keyof typeof HEALTH_DEFAULTS): number {
    const v = this.opts.config[field];
    return (v && v > 0 ? v : HEALTH_DEFAULTS[field]) / NS_PER_MS;
  }

  private get retries(): number {
    const r = this.opts.config.Retries;
    return r && r > 0 ? r : HEALTH_DEFAULTS.Retries;
  }

  /**
   * Docker's schedule: start-interval while starting within the start period, the interval otherwise, and
   * never past the end of the start period (so the first counted probe comes right after it).
   */
  nextIntervalMs(): number {
    const remaining = this.ms('StartPeriod') - (this.now() - this.startedAt);
    if (remaining <= 0) return this.ms('Interval');
    if (this.state.Status === 'starting') return this.ms('StartInterval');
    return Math.min(this.ms('Interval'), remaining);
  }

  /** Starts probing (the first probe after one interval, as Docker). */
  start(): void {
    if (!this.cmd || this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops probing; a probe in flight is awaited and its result discarded. */
  async stop(): Promise<void> {
    this.running = false;
    this.generation++;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      // A throwing callback must not become an unhandled rejection in the daemon.
      this.inFlight = this.probeOnce()
        .catch(() => undefined)
        .finally(() => {
          this.inFlight = undefined;
          this.schedule();
        });
    }, this.nextIntervalMs());
  }

  /** Runs one probe now and records it (also what the schedule calls). */
  async probeOnce(): Promise<void> {
    if (!this.cmd) return;
    const generation = this.generation;
    const timeoutMs = this.ms('Timeout');
    const start = this.now();
    let result: ProbeResult;
    let timer: unknown;
    try {
      const timeout = new Promise<ProbeResult>((resolve) => {
        timer = this.timers.setTimeout(
          () =>
            resolve({
              exitCode: -1,
              output: `Health check exceeded timeout (${formatGoDuration(timeoutMs * NS_PER_MS)})`,
            }),
          timeoutMs,
        );
      });
      result = await Promise.race([this.opts.runProbe(this.cmd, timeoutMs), timeout]);
    } catch (err) {
      result = { exitCode: -1, output: err instanceof Error ? err.message : String(err) };
    } finally {
      this.timers.clearTimeout(timer);
    }
    if (generation !== this.generation) return;
    this.record(start, this.now(), result);
  }

  private record(start: number, end: number, result: ProbeResult): void {
    const entry: HealthLogEntry = {
      Start: new Date(start).toISOString(),
      End: new Date(end).toISOString(),
      ExitCode: result.exitCode,
      Output: truncateOutput(result.output),
    };
    const before = this.state.Status;
    const log = [...this.state.Log, entry].slice(-MAX_LOG_ENTRIES);
    if (result.exitCode === 0) this.state = { Status: 'healthy', FailingStreak: 0, Log: log };
    else {
      // Failures while still starting inside the start period do not count.
      const inStartPeriod = before === 'starting' && start - this.startedAt < this.ms('StartPeriod');
      const streak = inStartPeriod ? this.state.FailingStreak : this.state.FailingStreak + 1;
      const status = !inStartPeriod && streak >= this.retries ? 'unhealthy' : before;
      this.state = { Status: status, FailingStreak: streak, Log: log };
    }
    this.opts.onProbe?.(this.health, { ...entry });
    if (this.state.Status !== before) this.opts.onStatus?.(this.state.Status, this.health);
  }
}
