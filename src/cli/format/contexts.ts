// The rows the docker CLI formats for ps, images, network ls and volume ls: the same field names, column
// titles, default table formats and value rendering, so `--format` strings written for docker work unchanged.
import type { ContainerSummary, ImageSummary, Network, Volume } from '../../client/index.js';
import { GO_HTML_ESCAPE } from './template.js';
import { ellipsis, formatCommand, formatPorts, humanSize, timeAgo, truncateId } from './units.js';

export interface ListFormat {
  defaultTable: string;
  quiet: string;
  headers: Record<string, string>;
}

export const PS_FORMAT: ListFormat = {
  defaultTable:
    'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}',
  quiet: '{{.ID}}',
  headers: {
    ID: 'CONTAINER ID',
    Image: 'IMAGE',
    Command: 'COMMAND',
    CreatedAt: 'CREATED AT',
    RunningFor: 'CREATED',
    Ports: 'PORTS',
    State: 'STATE',
    Status: 'STATUS',
    Size: 'SIZE',
    Names: 'NAMES',
    Labels: 'LABELS',
    Mounts: 'MOUNTS',
    LocalVolumes: 'LOCAL VOLUMES',
    Networks: 'NETWORKS',
  },
};

export const IMAGES_FORMAT: ListFormat = {
  defaultTable: 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}',
  quiet: '{{.ID}}',
  headers: {
    ID: 'IMAGE ID',
    Repository: 'REPOSITORY',
    Tag: 'TAG',
    Digest: 'DIGEST',
    CreatedSince: 'CREATED',
    CreatedAt: 'CREATED AT',
    Size: 'SIZE',
    Containers: 'CONTAINERS',
    VirtualSize: 'VIRTUAL SIZE',
    SharedSize: 'SHARED SIZE',
    UniqueSize: 'UNIQUE SIZE',
  },
};
/** `docker images --digests`. */
export const IMAGES_DIGESTS_TABLE =
  'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

export const NETWORKS_FORMAT: ListFormat = {
  defaultTable: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
  quiet: '{{.ID}}',
  headers: {
    ID: 'NETWORK ID',
    Name: 'NAME',
    Driver: 'DRIVER',
    Scope: 'SCOPE',
    IPv4: 'IPV4',
    IPv6: 'IPV6',
    Internal: 'INTERNAL',
    Labels: 'LABELS',
    CreatedAt: 'CREATED AT',
  },
};

export const VOLUMES_FORMAT: ListFormat = {
  defaultTable: 'table {{.Driver}}\t{{.Name}}',
  quiet: '{{.Name}}',
  headers: {
    Name: 'VOLUME NAME',
    Driver: 'DRIVER',
    Scope: 'SCOPE',
    Mountpoint: 'MOUNTPOINT',
    Labels: 'LABELS',
    Links: 'LINKS',
    Size: 'SIZE',
  },
};

/**
 * Go's time.Time.String() in the local zone: 2006-01-02 15:04:05.999999999 -0700 MST. An RFC 3339 string keeps
 * its fractional seconds (to the nanosecond, trailing zeros dropped), as Go does.
 */
export function goTimeString(input: Date | string): string {
  const t = typeof input === 'string' ? new Date(input) : input;
  if (Number.isNaN(t.getTime())) return '';
  let frac = '';
  if (typeof input === 'string') {
    const m = /T\d{2}:\d{2}:\d{2}\.(\d+)/.exec(input);
    if (m) frac = m[1]!.slice(0, 9).replace(/0+$/, '');
  } else if (t.getMilliseconds() > 0) {
    frac = String(t.getMilliseconds()).padStart(3, '0').replace(/0+$/, '');
  }
  const off = -t.getTimezoneOffset();
  const local = new Date(t.getTime() + off * 60_000);
  const iso = local.toISOString();
  const sign = off >= 0 ? '+' : '-';
  const hh = String(Math.trunc(Math.abs(off) / 60)).padStart(2, '0');
  const mm = String(Math.abs(off) % 60).padStart(2, '0');
  const zone = off === 0 ? 'UTC' : `${sign}${hh}${mm}`;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ''} ${sign}${hh}${mm} ${zone}`;
}

function labelsText(labels: Record<string, string> | null | undefined): string {
  return Object.entries(labels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Adds Docker's `.Label "key"` method (not part of `{{json .}}`) and marks the row for Go's JSON escaping. */
function withLabel<T extends object>(row: T, labels: Record<string, string> | null | undefined): T {
  Object.defineProperty(row, 'Label', { value: (name: string) => labels?.[name] ?? '', enumerable: false });
  return goRow(row);
}

function goRow<T extends object>(row: T): T {
  Object.defineProperty(row, GO_HTML_ESCAPE, { value: true, enumerable: false });
  return row;
}

/** docker.io/library/x → x, docker.io/u/x → u/x (reference.FamiliarName). */
export function familiarName(name: string): string {
  if (name.startsWith('docker.io/library/')) return name.slice('docker.io/library/'.length);
  if (name.startsWith('docker.io/')) return name.slice('docker.io/'.length);
  return name;
}

function splitTag(ref: string): [string, string | undefined] {
  const at = ref.indexOf('@');
  const base = at === -1 ? ref : ref.slice(0, at);
  const colon = base.lastIndexOf(':');
  if (colon > base.lastIndexOf('/')) return [base.slice(0, colon), base.slice(colon + 1)];
  return [base, undefined];
}

export interface RowOptions {
  /** false for --no-trunc */
  trunc?: boolean;
  now?: number;
}

/** A `docker ps` row. Keys are inserted in sorted order so `{{json .}}` matches Docker's output. */
export function containerRow(c: ContainerSummary, opts: RowOptions = {}) {
  const trunc = opts.trunc !== false;
  const now = opts.now ?? Date.now();
  let names = (c.Names ?? []).map((n) => n.replace(/^\//, ''));
  if (trunc) {
    const own = names.find((n) => !n.includes('/'));
    if (own !== undefined) names = [own];
  }
  let image = c.Image ?? '';
  if (!image) image = '<no image>';
  else if (trunc) {
    if (c.ImageID && truncateId(c.ImageID) === truncateId(image)) image = truncateId(image);
    else if (image.includes('@')) {
      const [repo, tag] = splitTag(image);
      image = familiarName(tag ? `${repo}:${tag}` : repo);
    }
  }
  const mounts = (c.Mounts ?? []).map((m) => {
    const name = m.Name || m.Source || '';
    return trunc ? ellipsis(name, 15) : name;
  });
  const created = new Date((c.Created ?? 0) * 1000);
  const srw = humanSize(c.SizeRw ?? 0, 3);
  const size = (c.SizeRootFs ?? 0) > 0 ? `${srw} (virtual ${humanSize(c.SizeRootFs ?? 0, 3)})` : srw;
  const networks = Object.keys(c.NetworkSettings?.Networks ?? {}).sort();
  return withLabel(
    {
      Command: formatCommand(c.Command ?? '', trunc),
      CreatedAt: goTimeString(created),
      ID: trunc ? truncateId(c.Id ?? '') : (c.Id ?? ''),
      Image: image,
      Labels: labelsText(c.Labels),
      LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === 'local').length),
      Mounts: mounts.join(','),
      Names: names.join(','),
      Networks: networks.join(','),
      Platform: null,
      Ports: formatPorts(
        (c.Ports ?? []).map((p) => ({
          IP: p.IP,
          PrivatePort: p.PrivatePort,
          PublicPort: p.PublicPort,
          Type: p.Type,
        })),
      ),
      RunningFor: timeAgo(created, now),
      Size: size,
      State: c.State ?? '',
      Status: c.Status ?? '',
    },
    c.Labels,
  );
}

/** The rows `docker images` prints for one image: one per repository:tag (and per digest with --digests). */
export function imageRows(img: ImageSummary, opts: RowOptions & { digests?: boolean } = {}) {
  const trunc = opts.trunc !== false;
  const now = opts.now ?? Date.now();
  const created = new Date((img.Created ?? 0) * 1000);
  const make = (repo: string, tag: string, digest: string) =>
    goRow({
      Containers: img.Containers === -1 || img.Containers === undefined ? 'N/A' : String(img.Containers),
      CreatedAt: goTimeString(created),
      CreatedSince: timeAgo(created, now),
      Digest: digest,
      ID: trunc ? truncateId(img.Id ?? '') : (img.Id ?? ''),
      Repository: repo,
      SharedSize:
        img.SharedSize === -1 || img.SharedSize === undefined ? 'N/A' : humanSize(img.SharedSize, 3),
      Size: humanSize(img.Size ?? 0, 3),
      Tag: tag,
      UniqueSize:
        img.SharedSize === -1 || img.SharedSize === undefined
          ? 'N/A'
          : humanSize((img.Size ?? 0) - img.SharedSize, 3),
      VirtualSize: humanSize(img.Size ?? 0, 4),
    });
  const tags = img.RepoTags ?? [];
  const digests = img.RepoDigests ?? [];
  const dangling =
    (tags.length === 0 && digests.length === 0) ||
    (tags.length === 1 &&
      tags[0] === '<none>:<none>' &&
      digests.length === 1 &&
      digests[0] === '<none>@<none>');
  if (dangling) return [make('<none>', '<none>', '<none>')];
  const repoTags = new Map<string, string[]>();
  for (const ref of tags) {
    const [repo, tag] = splitTag(ref);
    if (tag === undefined) continue;
    const name = familiarName(repo);
    repoTags.set(name, [...(repoTags.get(name) ?? []), tag]);
  }
  const repoDigests = new Map<string, string[]>();
  for (const ref of digests) {
    const at = ref.indexOf('@');
    if (at === -1) continue;
    const name = familiarName(ref.slice(0, at));
    repoDigests.set(name, [...(repoDigests.get(name) ?? []), ref.slice(at + 1)]);
  }
  const rows: ReturnType<typeof make>[] = [];
  for (const [repo, tagList] of repoTags) {
    const ds = opts.digests ? (repoDigests.get(repo) ?? []) : [];
    repoDigests.delete(repo);
    for (const tag of tagList) {
      if (ds.length === 0) rows.push(make(repo, tag, '<none>'));
      else for (const d of ds) rows.push(make(repo, tag, d));
    }
  }
  for (const [repo, ds] of repoDigests) {
    if (opts.digests) for (const d of ds) rows.push(make(repo, '<none>', d));
    else rows.push(make(repo, '<none>', ''));
  }
  return rows;
}

/** A `docker network ls` row. */
export function networkRow(n: Network, opts: RowOptions = {}) {
  const trunc = opts.trunc !== false;
  return withLabel(
    {
      CreatedAt: n.Created ? goTimeString(n.Created) : '',
      Driver: n.Driver ?? '',
      ID: trunc ? truncateId(n.Id ?? '') : (n.Id ?? ''),
      // EnableIPv4 arrived in API 1.48; like docker 28 against a 1.47 daemon, absent reads as false
      IPv4: String((n as { EnableIPv4?: boolean }).EnableIPv4 ?? false),
      IPv6: String(n.EnableIPv6 ?? false),
      Internal: String(n.Internal ?? false),
      Labels: labelsText(n.Labels),
      Name: n.Name ?? '',
      Scope: n.Scope ?? '',
    },
    n.Labels,
  );
}

/** A `docker volume ls` row. */
export function volumeRow(v: Volume) {
  const usage = v.UsageData;
  return withLabel(
    {
      // cluster-volume columns; berth has no swarm
      Availability: 'N/A',
      Driver: v.Driver,
      Group: 'N/A',
      Labels: labelsText(v.Labels),
      Links: usage && usage.RefCount >= 0 ? String(usage.RefCount) : 'N/A',
      Mountpoint: v.Mountpoint,
      Name: v.Name,
      Scope: v.Scope,
      Size: usage && usage.Size >= 0 ? humanSize(usage.Size, 4) : 'N/A',
      Status: 'N/A',
    },
    v.Labels,
  );
}
