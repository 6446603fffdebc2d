// `ps` filtering and ordering as Docker's /containers/json does it.
import { badRequest, labelMatches } from '../util/index.js';
import type { ContainerRecord } from './record.js';

const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
const KNOWN = [
  'status',
  'name',
  'label',
  'ancestor',
  'exited',
  'id',
  'before',
  'since',
  'network',
  'volume',
  'health',
  'is-task',
  'publish',
  'expose',
];

export interface ListOptions {
  all?: boolean;
  limit?: number;
  filters?: Map<string, string[]>;
  /** Resolves an image reference to its ID for the `ancestor` filter (undefined when unknown). */
  resolveImage?: (ref: string) => string | undefined;
  /** Resolves a container reference for before/since. */
  resolveContainer?: (ref: string) => ContainerRecord | undefined;
}

/** Newest first, like Docker; stopped containers only with `all` (or a status/exited filter). */
export function filterContainers(records: ContainerRecord[], opts: ListOptions): ContainerRecord[] {
  const filters = opts.filters ?? new Map<string, string[]>();
  for (const key of filters.keys()) if (!KNOWN.includes(key)) throw badRequest(`invalid filter '${key}'`);
  for (const s of filters.get('status') ?? []) {
    if (!STATUSES.includes(s)) throw badRequest(`invalid filter 'status=${s}'`);
  }
  const exited = (filters.get('exited') ?? []).map((v) => {
    if (!/^-?\d+$/.test(v)) throw badRequest(`invalid filter 'exited=${v}'`);
    return Number(v);
  });
  const sorted = [...records].sort(
    (a, b) => Date.parse(b.Created) - Date.parse(a.Created) || (a.Id < b.Id ? 1 : -1),
  );
  const before = (filters.get('before') ?? []).map((r) => opts.resolveContainer?.(r));
  const since = (filters.get('since') ?? []).map((r) => opts.resolveContainer?.(r));
  if (before.includes(undefined) || since.includes(undefined)) {
    throw badRequest(
      `No such container: ${[...(filters.get('before') ?? []), ...(filters.get('since') ?? [])].join(', ')}`,
    );
  }
  const any = (key: string, pred: (v: string) => boolean) => {
    const values = filters.get(key);
    return !values || values.length === 0 || values.some(pred);
  };
  // A limit (`ps -n`, `ps -l`) counts containers in every state, as Docker's does.
  const showStopped =
    opts.all ||
    filters.has('status') ||
    filters.has('exited') ||
    (opts.limit !== undefined && opts.limit > 0);
  let out = sorted.filter((rec) => {
    // The builder's RUN containers are internal (Docker's legacy builder hides them the same way).
    if (rec.Config.Labels?.['io.berth.build'] === 'true') return false;
    if (
      !showStopped &&
      rec.State.Status !== 'running' &&
      rec.State.Status !== 'paused' &&
      rec.State.Status !== 'restarting'
    )
      return false;
    const created = Date.parse(rec.Created);
    return (
      any('status', (s) => s === rec.State.Status) &&
      any('name', (n) => new RegExp(n.replace(/^\//, '')).test(rec.Name)) &&
      any('id', (i) => rec.Id.startsWith(i)) &&
      (filters.get('label') ?? []).every((l) => labelMatches(rec.Config.Labels ?? {}, l)) &&
      any(
        'ancestor',
        (a) => rec.ImageName === a || rec.Image === a || opts.resolveImage?.(a) === rec.Image,
      ) &&
      (exited.length === 0 || (rec.State.Status === 'exited' && exited.includes(rec.State.ExitCode))) &&
      any('network', (n) =>
        Object.entries(rec.Networks).some(([name, ep]) => name === n || ep.NetworkID.startsWith(n)),
      ) &&
      any('volume', (v) => rec.Mounts.some((m) => m.Name === v || m.Destination === v || m.Source === v)) &&
      any('health', (h) => (rec.State.Health?.Status ?? 'none') === h) &&
      before.every((b) => created < Date.parse(b!.Created)) &&
      since.every((s) => created > Date.parse(s!.Created))
    );
  });
  if (opts.limit !== undefined && opts.limit > 0) out = out.slice(0, opts.limit);
  return out;
}
