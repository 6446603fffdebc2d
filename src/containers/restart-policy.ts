// Restart policies: parsing `--restart` and HostConfig.RestartPolicy with Docker's errors, and the pure
// decision whether (and after how long) an exited container is restarted, with Docker's back-off.
import { badRequest } from '../util/index.js';

export type RestartPolicyName = 'no' | 'always' | 'unless-stopped' | 'on-failure';

/** Docker's HostConfig.RestartPolicy (an empty Name, as older clients send, means "no"). */
export interface RestartPolicy {
  Name: RestartPolicyName | '';
  MaximumRetryCount: number;
}

/** First delay, multiplier and cap of Docker's restart manager. */
export const RESTART_BACKOFF = { initialMs: 100, multiplier: 2, maxMs: 60_000, resetAfterRunMs: 10_000 };

/** The CLI's `--restart` value → policy (docker CLI's format errors), then validated as the daemon does. */
export function parseRestartPolicy(value: string): RestartPolicy {
  if (value === '') return { Name: 'no', MaximumRetryCount: 0 };
  const i = value.indexOf(':');
  const name = i < 0 ? value : value.slice(0, i);
  const count = i < 0 ? '' : value.slice(i + 1);
  if (i >= 0 && name === '')
    throw badRequest('invalid restart policy format: no policy provided before colon');
  let max = 0;
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count))
      throw badRequest('invalid restart policy format: maximum retry count must be an integer');
    max = Number.parseInt(count, 10);
  }
  return validateRestartPolicy({ Name: name, MaximumRetryCount: max });
}

/** Daemon-side validation of HostConfig.RestartPolicy (Docker ≥ 25 messages). */
export function validateRestartPolicy(
  p: { Name?: string; MaximumRetryCount?: number } | undefined,
): RestartPolicy {
  const name = p?.Name ?? '';
  const max = p?.MaximumRetryCount ?? 0;
  if (!Number.isInteger(max))
    throw badRequest('invalid restart policy: maximum retry count must be an integer');
  switch (name) {
    case '':
      return { Name: '', MaximumRetryCount: max };
    case 'no':
    case 'always':
    case 'unless-stopped':
      if (max !== 0)
        throw badRequest(
          `invalid restart policy: maximum retry count can only be used with 'on-failure'${max < 0 ? ' and cannot be negative' : ''}`,
        );
      return { Name: name, MaximumRetryCount: 0 };
    case 'on-failure':
      if (max < 0) throw badRequest('invalid restart policy: maximum retry count cannot be negative');
      return { Name: name, MaximumRetryCount: max };
    default:
      throw badRequest(
        `invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
      );
  }
}

export function isNoRestart(p: RestartPolicy): boolean {
  return p.Name === '' || p.Name === 'no';
}

/** `--rm` with a restart policy: the CLI's and the daemon's errors. */
export function checkAutoRemove(
  p: RestartPolicy,
  autoRemove: boolean,
  side: 'cli' | 'daemon' = 'daemon',
): void {
  if (!autoRemove || isNoRestart(p)) return;
  throw badRequest(
    side === 'cli'
      ? 'conflicting options: cannot specify both --restart and --rm'
      : "can't create 'AutoRemove' container with restart policy",
  );
}

export interface RestartInput {
  policy: RestartPolicy;
  /** The exit code of the run that just ended. */
  exitCode: number;
  /** The container's RestartCount so far (reset to 0 when a user starts it explicitly). */
  restartCount: number;
  /** The user stopped it (stop/kill through the API): no restart, except `always` when the daemon starts. */
  stoppedByUser: boolean;
  /** Deciding at daemon start-up for a container that exited while the daemon was down. */
  daemonStarting?: boolean;
  /** How long the run lasted; ≥ 10 s resets the back-off. */
  ranForMs?: number;
  /** The delay chosen last time for this container (0 or absent: none yet). */
  previousDelayMs?: number;
}

export interface RestartDecision {
  restart: boolean;
  /** Wait this long before starting again (0 at daemon start-up, as Docker restarts those at once). */
  delayMs: number;
  /** The RestartCount to record: +1 when restarting. */
  restartCount: number;
}

/** Docker's back-off: 100 ms, doubling per restart, capped at 1 minute, reset after a run of ≥ 10 s. */
export function nextDelay(previousDelayMs: number, ranForMs: number): number {
  const prev = ranForMs >= RESTART_BACKOFF.resetAfterRunMs ? 0 : previousDelayMs;
  if (prev <= 0) return RESTART_BACKOFF.initialMs;
  return Math.min(prev * RESTART_BACKOFF.multiplier, RESTART_BACKOFF.maxMs);
}

/** Whether the policy restarts a container that just exited; pure (the caller keeps the state). */
export function shouldRestart(input: RestartInput): RestartDecision {
  const { policy, exitCode, restartCount, stoppedByUser } = input;
  const daemonStarting = input.daemonStarting === true;
  const no = { restart: false, delayMs: 0, restartCount };
  if (isNoRestart(policy)) return no;
  // A user's stop cancels the restart manager; only `always` comes back, and only when the daemon starts.
  if (stoppedByUser && !(daemonStarting && policy.Name === 'always')) return no;
  let restart: boolean;
  switch (policy.Name) {
    case 'always':
    case 'unless-stopped':
      restart = true;
      break;
    case 'on-failure':
      restart = exitCode !== 0 && (policy.MaximumRetryCount === 0 || restartCount < policy.MaximumRetryCount);
      break;
    default:
      restart = false;
  }
  if (!restart) return no;
  const delayMs = daemonStarting ? 0 : nextDelay(input.previousDelayMs ?? 0, input.ranForMs ?? 0);
  return { restart: true, delayMs, restartCount: restartCount + 1 };
}
