// Output formatting for berth's commands: --format templates, docker-style tables, human units.

import { tabwrite } from './tabwriter.js';
import { parseTemplate, type TemplateFunc } from './template.js';

export { type TabwriterOptions, tabwrite } from './tabwriter.js';
export {
  DOCKER_FUNCS,
  GO_HTML_ESCAPE,
  goQuote,
  goValue,
  parseTemplate,
  sprintf,
  Template,
  TemplateError,
  type TemplateFunc,
  type TemplateOptions,
  truthy,
} from './template.js';
export {
  bytesSize,
  containerStatus,
  ellipsis,
  formatCommand,
  formatPorts,
  humanDuration,
  humanSize,
  type PortLike,
  type StateForStatus,
  timeAgo,
  truncateId,
} from './units.js';

export interface FormatOptions {
  /** Column titles by field name, e.g. { ID: 'CONTAINER ID', RunningFor: 'CREATED' }. */
  headers?: Record<string, string>;
  /** Used when no --format is given or it is just `table`. */
  defaultTable: string;
  funcs?: Record<string, TemplateFunc>;
}

/** A field name as a column title when the command has none for it: CreatedAt → CREATED AT. */
export function defaultHeader(field: string): string {
  return field.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toUpperCase();
}

/** Docker's HeaderContext.Label: the column of `{{.Label "com.example.some-key"}}` is titled `some key`. */
function labelHeader(name: unknown): string {
  return String(name).split('.').at(-1)!.replace(/[-_]/g, ' ');
}

/** Docker's Format.IsTable / preFormat: strips `table`, trims spaces, turns `\t` and `\n` escapes into characters. */
export function resolveFormat(
  format: string | undefined,
  defaultTable: string,
): { table: boolean; source: string } {
  let f = format === undefined || format === '' || format === 'table' ? defaultTable : format;
  if (f === 'json') f = '{{json .}}';
  const table = f.startsWith('table');
  if (table) f = f.slice('table'.length);
  f = f
    .replace(/^ +| +$/g, '')
    .replace(/\\t/g, '\t')
    .replace(/\\n/g, '\n');
  return { table, source: f };
}

/**
 * Renders rows with a --format value as the docker CLI does: one template execution per row, each followed by a
 * newline; with `table`, a header row (the same template run over the column titles) and tabwriter alignment.
 */
export function formatRows(
  format: string | undefined,
  rows: readonly unknown[],
  options: FormatOptions,
): string {
  const { table, source } = resolveFormat(format, options.defaultTable);
  const tmpl = parseTemplate(source, { funcs: options.funcs });
  let body = '';
  for (const row of rows) body += `${tmpl.execute(row)}\n`;
  if (!table) return body;
  const titles = options.headers ?? {};
  const header = new Proxy({} as Record<string, unknown>, {
    get: (_t, key) => {
      if (typeof key !== 'string') return undefined;
      if (key === 'Label') return labelHeader;
      return titles[key] ?? defaultHeader(key);
    },
  });
  return tabwrite(`${tmpl.execute(header, { header: true })}\n${body}`);
}

/** `docker inspect` without --format: a JSON array indented with four spaces. */
export function inspectJson(objects: readonly unknown[]): string {
  return `${JSON.stringify(objects, null, 4)}\n`;
}

/**
 * `docker inspect --format`: the template once per object, each followed by a newline (`\t` is not an escape
 * here, unlike the list commands); JSON without a format.
 */
export function formatInspect(
  objects: readonly unknown[],
  format?: string,
  funcs?: Record<string, TemplateFunc>,
): string {
  if (!format) return inspectJson(objects);
  const tmpl = parseTemplate(format, { funcs });
  return objects.map((o) => `${tmpl.execute(o)}\n`).join('');
}
export {
  containerRow,
  familiarName,
  goTimeString,
  IMAGES_DIGESTS_TABLE,
  IMAGES_FORMAT,
  imageRows,
  type ListFormat,
  NETWORKS_FORMAT,
  networkRow,
  PS_FORMAT,
  type RowOptions,
  VOLUMES_FORMAT,
  volumeRow,
} from './contexts.js';
export {
  type DisplayOptions,
  displayJsonMessages,
  type JsonMessage,
  type ProgressDetail,
  ProgressError,
  progressString,
} from './progress.js';
