// One logical Dockerfile line → one typed instruction, with BuildKit's argument rules and wording.
import { parseGoDuration } from './duration.js';
import { InstructionError } from './errors.js';
import { checkFlags, extractFlags, type FlagSpec, type ParsedFlags } from './flags.js';
import { splitRawWords } from './shell.js';
import type {
  ArgDef,
  CacheSharing,
  ChmodSpec,
  CommandLine,
  CopySource,
  Heredoc,
  Instruction,
  InstructionKind,
  KeyValue,
  MountType,
  RunMount,
  SourceLocation,
} from './types.js';

export const INSTRUCTION_NAMES: readonly InstructionKind[] = [
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
];

export function isInstructionName(name: string): name is InstructionKind {
  return (INSTRUCTION_NAMES as readonly string[]).includes(name);
}

/** The raw pieces of one logical line, as the lexer hands them over. */
export interface LogicalLine {
  keyword: string;
  /** Everything after the keyword (flags included), continuations joined. */
  args: string;
  /** 1-based column of `args` on the first line. */
  argsColumn: number;
  location: SourceLocation;
  original: string;
  heredocs: Heredoc[];
}

const FLAGS: Partial<Record<InstructionKind, FlagSpec>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'strings', network: 'string', security: 'string', device: 'strings' },
  COPY: {
    from: 'string',
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    parents: 'bool',
    exclude: 'strings',
  },
  ADD: {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    'keep-git-dir': 'bool',
    unpack: 'bool',
    checksum: 'string',
    exclude: 'strings',
  },
  HEALTHCHECK: {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  },
};

const HEREDOC_RE = /^(\d*)<<(-?)([^<]*)$/;

/** Whether a raw word is a heredoc marker (`<<EOF`, `<<-"EOF"`, `3<<EOF`). */
export function heredocMarker(word: string): { fd: number; chomp: boolean; rest: string } | undefined {
  const m = HEREDOC_RE.exec(word);
  if (!m || m[3] === '') return undefined;
  return { fd: m[1] ? Number(m[1]) : 0, chomp: m[2] === '-', rest: m[3]! };
}

/** Parses `["a","b"]`; undefined when not JSON (shell form), an error when an array of non-strings. */
export function parseJsonArray(text: string): string[] | undefined {
  const t = text.trim();
  if (!t.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  if (!v.every((x) => typeof x === 'string'))
    throw new InstructionError('when using JSON array syntax, arrays must be comprised of strings only');
  return v as string[];
}

function commandLine(text: string): CommandLine {
  const json = parseJsonArray(text);
  if (json) return { form: 'exec', args: json };
  return { form: 'shell', script: text.trim() };
}

const whitespaceSplit = (s: string) =>
  s
    .trim()
    .split(/[ \t\r\n]+/)
    .filter((x) => x !== '');

function listArgs(text: string): { args: string[]; json: boolean } {
  const json = parseJsonArray(text);
  if (json) return { args: json, json: true };
  return { args: whitespaceSplit(text), json: false };
}

/** Parses ENV/LABEL arguments: `k=v k2="v 2"` or legacy `k v…`. */
function nameValues(text: string, cmd: string, escapeChar: string): { pairs: KeyValue[]; legacy: boolean } {
  const words = splitRawWords(text, escapeChar);
  if (words.length === 0) throw new InstructionError(`${cmd} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    const m = /^(\S+)[ \t]+([\s\S]+)$/.exec(text.trim());
    if (!m) throw new InstructionError(`${cmd} must have two arguments`);
    return { pairs: [{ key: m[1]!, value: m[2]! }], legacy: true };
  }
  const pairs: KeyValue[] = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq < 0)
      throw new InstructionError(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    if (eq === 0) throw new InstructionError(`${cmd} names can not be blank`);
    pairs.push({ key: w.slice(0, eq), value: w.slice(eq + 1) });
  }
  return { pairs, legacy: false };
}

const STAGE_NAME_RE = /^[a-z][a-z0-9-_.]*$/;

export function parseChmod(raw: string): ChmodSpec {
  if (/^[0-7]+$/.test(raw)) {
    const octal = Number.parseInt(raw, 8);
    if (octal > 0o7777) throw new InstructionError(`invalid chmod parameter: ${raw}`);
    return { octal };
  }
  const clause = /^[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+$/;
  if (raw !== '' && raw.split(',').every((c) => clause.test(c))) return { symbolic: raw };
  throw new InstructionError(`invalid chmod parameter: ${raw}`);
}

/** Validates one EXPOSE entry once expanded: `80`, `80/udp`, `8000-8010/tcp`. */
export function parsePortSpec(spec: string): {
  start: number;
  end: number;
  protocol: 'tcp' | 'udp' | 'sctp';
} {
  let port = spec;
  let proto = 'tcp';
  const slash = spec.lastIndexOf('/');
  if (slash >= 0) {
    port = spec.slice(0, slash);
    proto = spec.slice(slash + 1).toLowerCase();
  }
  // `ip:host:container` forms are accepted by Docker with a warning; only the container port counts.
  const colon = port.lastIndexOf(':');
  if (colon >= 0) port = port.slice(colon + 1);
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp')
    throw new InstructionError(`Invalid proto: ${proto}`);
  const m = /^(\d+)(?:-(\d+))?$/.exec(port);
  if (!m) throw new InstructionError(`Invalid containerPort: ${port}`);
  const start = Number(m[1]);
  const end = m[2] !== undefined ? Number(m[2]) : start;
  if (start < 1 || start > 65535 || end < 1 || end > 65535)
    throw new InstructionError(`Invalid containerPort: ${port}`);
  if (end < start) throw new InstructionError(`Invalid range specified for containerPort: ${port}`);
  return { start, end, protocol: proto };
}

function splitCsv(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') {
      if (quoted && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (quoted) throw new InstructionError(`unterminated quote in --mount=${s}`);
  out.push(cur);
  return out;
}

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i;

function parseSize(v: string): number {
  const m = SIZE_RE.exec(v.trim());
  if (!m) throw new InstructionError(`invalid size value: ${v}`);
  const mult: Record<string, number> = {
    '': 1,
    k: 1024,
    m: 1024 ** 2,
    g: 1024 ** 3,
    t: 1024 ** 4,
    p: 1024 ** 5,
  };
  return Math.round(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

function parseBoolValue(key: string, v: string | undefined): boolean {
  if (v === undefined) return true;
  const lv = v.toLowerCase();
  if (lv === 'true' || lv === '1') return true;
  if (lv === 'false' || lv === '0') return false;
  throw new InstructionError(`invalid value for ${key}: ${v}`);
}

/** Parses one `--mount=` value with BuildKit's keys, defaults and checks. */
export function parseMount(value: string, sshIndex = 0): RunMount {
  let type: MountType = 'bind';
  const fields: [string, string | undefined][] = [];
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? undefined : field.slice(eq + 1);
    if (key === 'type') {
      if (!v || !['bind', 'cache', 'tmpfs', 'secret', 'ssh'].includes(v.toLowerCase()))
        throw new InstructionError(`unsupported mount type "${v ?? ''}"`);
      type = v.toLowerCase() as MountType;
    } else fields.push([key, v]);
  }
  const m: RunMount = { type, readonly: type === 'bind' || type === 'secret' || type === 'ssh' };
  for (const [key, v] of fields) {
    const need = () => {
      if (v === undefined || v === '') throw new InstructionError(`invalid value for ${key}: ${v ?? ''}`);
      return v;
    };
    switch (key) {
      case 'target':
      case 'dst':
      case 'destination':
        m.target = need();
        break;
      case 'source':
      case 'src':
        m.source = need();
        break;
      case 'from':
        m.from = need();
        break;
      case 'readonly':
      case 'ro':
        m.readonly = parseBoolValue(key, v);
        break;
      case 'readwrite':
      case 'rw':
        m.readonly = !parseBoolValue(key, v);
        break;
      case 'id':
        m.id = need();
        break;
      case 'sharing': {
        const s = need().toLowerCase();
        if (s !== 'shared' && s !== 'private' && s !== 'locked')
          throw new InstructionError(`unsupported sharing value "${v}"`);
        m.sharing = s as CacheSharing;
        break;
      }
      case 'mode': {
        const s = need();
        if (!/^[0-7]+$/.test(s)) throw new InstructionError(`invalid mode value: ${s}`);
        m.mode = Number.parseInt(s, 8);
        break;
      }
      case 'uid':
      case 'gid': {
        const s = need();
        if (!/^\d+$/.test(s)) throw new InstructionError(`invalid ${key} value: ${s}`);
        m[key] = Number(s);
        break;
      }
      case 'required':
        m.required = parseBoolValue(key, v);
        break;
      case 'size':
        m.size = parseSize(need());
        break;
      case 'env':
        m.env = need();
        break;
      default:
        throw new InstructionError(`unexpected key '${key}' in '${key}${v === undefined ? '' : `=${v}`}'`);
    }
  }
  const onlyFor = (cond: boolean, what: string) => {
    if (cond) throw new InstructionError(`${what} is not supported for type=${type} mounts`);
  };
  onlyFor(m.sharing !== undefined && type !== 'cache', 'sharing');
  onlyFor(m.size !== undefined && type !== 'tmpfs', 'size');
  onlyFor(m.env !== undefined && type !== 'secret', 'env');
  onlyFor(m.required !== undefined && type !== 'secret' && type !== 'ssh', 'required');
  onlyFor((m.source !== undefined || m.from !== undefined) && type === 'tmpfs', 'source/from');
  onlyFor(m.id !== undefined && (type === 'bind' || type === 'tmpfs'), 'id');
  switch (type) {
    case 'bind':
    case 'tmpfs':
      if (!m.target) throw new InstructionError(`mount type=${type} requires a target`);
      break;
    case 'cache':
      if (!m.target) throw new InstructionError('mount type=cache requires a target');
      m.id ??= m.target;
      m.sharing ??= 'shared';
      break;
    case 'secret':
      if (!m.id && !m.target && !m.env)
        throw new InstructionError('mount type=secret requires an id or a target');
      m.id ??= m.target ? m.target.split('/').filter(Boolean).pop() : m.env;
      if (!m.target && !m.env) m.target = `/run/secrets/${m.id}`;
      break;
    case 'ssh':
      m.id ??= 'default';
      m.target ??= `/run/buildkit/ssh_agent.${sshIndex}`;
      break;
  }
  return m;
}

function durationFlag(f: ParsedFlags, name: string): number | undefined {
  const raw = f.strings.get(name);
  if (raw === undefined || raw === '') return undefined;
  const ns = parseGoDuration(raw);
  if (ns === undefined) throw new InstructionError(`HEALTHCHECK --${name}: time: invalid duration "${raw}"`);
  if (ns < 0) throw new InstructionError(`HEALTHCHECK --${name} cannot be negative: "${raw}"`);
  if (ns !== 0 && ns < 1e6)
    throw new InstructionError(`HEALTHCHECK --${name} cannot be less than 1ms: "${raw}"`);
  return ns;
}

function exactlyOne(cmd: string, text: string): string {
  const t = text.trim();
  if (t === '') throw new InstructionError(`${cmd} requires exactly one argument`);
  return t;
}

/** Parses one logical line into an instruction; throws InstructionError with a short reason. */
export function parseInstruction(line: LogicalLine, escapeChar: string): Instruction {
  const kind = line.keyword.toUpperCase();
  if (!isInstructionName(kind))
    throw new InstructionError(unknownInstruction(line.keyword), line.location.column);
  const { flags: rawFlags, rest } = extractFlags(line.args, escapeChar);
  const flags = checkFlags(rawFlags, FLAGS[kind] ?? {}, (off) => line.argsColumn + off);
  const base = { location: line.location, original: line.original, keyword: line.keyword };

  switch (kind) {
    case 'FROM': {
      const args = whitespaceSplit(rest);
      if (args.length !== 1 && !(args.length === 3 && args[1]!.toLowerCase() === 'as'))
        throw new InstructionError('FROM requires either one or three arguments');
      const out: Instruction = { ...base, kind, image: args[0]! };
      const platform = flags.strings.get('platform');
      if (platform !== undefined) out.platform = platform;
      if (args.length === 3) {
        const name = args[2]!.toLowerCase();
        if (!STAGE_NAME_RE.test(name))
          throw new InstructionError(
            `invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`,
          );
        out.stageName = name;
        out.asKeyword = args[1]!;
      }
      return out;
    }
    case 'RUN': {
      const command = commandLine(rest);
      if (command.form === 'shell' && command.script === '')
        throw new InstructionError('RUN requires at least one argument');
      let ssh = 0;
      const mounts = (flags.lists.get('mount') ?? []).map((v) =>
        parseMount(v, v.includes('type=ssh') ? ssh++ : 0),
      );
      const devices = (flags.lists.get('device') ?? []).map((v) => {
        const [name = '', ...opts] = v.split(',');
        if (name === '') throw new InstructionError(`invalid device: "${v}"`);
        let required = false;
        for (const o of opts) {
          const [k, val] = o.split('=', 2);
          if (k !== 'required') throw new InstructionError(`unexpected key '${k}' in '${o}'`);
          required = val === undefined || val === 'true';
        }
        return { name, required };
      });
      const out: Instruction = { ...base, kind, command, mounts, devices, heredocs: line.heredocs };
      const network = flags.strings.get('network');
      if (network !== undefined) {
        if (network !== 'default' && network !== 'none' && network !== 'host')
          throw new InstructionError(`unsupported network mode "${network}"`);
        out.network = network;
      }
      const security = flags.strings.get('security');
      if (security !== undefined) {
        if (security !== 'sandbox' && security !== 'insecure')
          throw new InstructionError(`unsupported security mode "${security}"`);
        out.security = security;
      }
      return out;
    }
    case 'CMD':
    case 'ENTRYPOINT': {
      const command = commandLine(rest);
      if (command.form === 'shell' && command.script === '')
        throw new InstructionError(`${kind} requires at least one argument`);
      return { ...base, kind, command };
    }
    case 'SHELL': {
      const json = parseJsonArray(rest);
      if (!json) throw new InstructionError('SHELL requires the arguments to be in JSON form');
      if (json.length === 0) throw new InstructionError('SHELL requires at least one argument');
      return { ...base, kind, shell: json };
    }
    case 'LABEL': {
      const { pairs, legacy } = nameValues(rest, 'LABEL', escapeChar);
      return { ...base, kind, labels: pairs, legacy };
    }
    case 'ENV': {
      const { pairs, legacy } = nameValues(rest, 'ENV', escapeChar);
      return { ...base, kind, vars: pairs, legacy };
    }
    case 'MAINTAINER':
      return { ...base, kind, maintainer: exactlyOne('MAINTAINER', rest) };
    case 'EXPOSE': {
      const ports = whitespaceSplit(rest);
      if (ports.length === 0) throw new InstructionError('EXPOSE requires at least one argument');
      for (const p of ports) if (!p.includes('$')) parsePortSpec(p);
      return { ...base, kind, ports };
    }
    case 'ADD':
    case 'COPY': {
      const { args, json } = listArgs(rest);
      if (args.length < 2)
        throw new InstructionError(
          `${kind} requires at least two arguments, but only one was provided. Destination could not be determined`,
        );
      if (!json && heredocMarker(args[args.length - 1]!))
        throw new InstructionError(`${kind} cannot accept a heredoc as a destination`);
      const heredocs = [...line.heredocs];
      const sources: CopySource[] = args.slice(0, -1).map((a) => {
        const marker = json ? undefined : heredocMarker(a);
        if (marker) {
          const doc = heredocs.shift();
          if (doc) return { kind: 'heredoc', heredoc: doc };
        }
        return { kind: 'path', path: a };
      });
      const chmodRaw = flags.strings.get('chmod');
      const out: Instruction = {
        ...base,
        kind,
        sources,
        dest: args[args.length - 1]!,
        json,
        link: flags.bools.get('link') ?? false,
        excludes: flags.lists.get('exclude') ?? [],
        parents: flags.bools.get('parents') ?? false,
      };
      const from = flags.strings.get('from');
      if (from !== undefined) {
        if (from === '') throw new InstructionError('--from requires a value');
        out.from = from;
      }
      const chown = flags.strings.get('chown');
      if (chown !== undefined) out.chown = chown;
      if (chmodRaw !== undefined) {
        out.chmodRaw = chmodRaw;
        if (!chmodRaw.includes('$')) out.chmod = parseChmod(chmodRaw);
      }
      if (kind === 'ADD') {
        const checksum = flags.strings.get('checksum');
        if (checksum !== undefined) {
          if (sources.length > 1)
            throw new InstructionError("checksum can't be specified for multiple sources");
          // sha256:<hex> for HTTP sources, a commit SHA (or prefix) for Git sources.
          if (!checksum.includes('$') && !/^(?:sha(?:256|384|512):[0-9a-f]+|[0-9a-f]{1,64})$/.test(checksum))
            throw new InstructionError(`invalid checksum digest format: ${checksum}`);
          out.checksum = checksum;
        }
        const keep = flags.bools.get('keep-git-dir');
        if (keep !== undefined) out.keepGitDir = keep;
        const unpack = flags.bools.get('unpack');
        if (unpack !== undefined) out.unpack = unpack;
      }
      return out;
    }
    case 'ARG': {
      const words = splitRawWords(rest, escapeChar);
      if (words.length === 0) throw new InstructionError('ARG requires at least one argument');
      const args: ArgDef[] = words.map((w) => {
        const eq = w.indexOf('=');
        if (eq === 0) throw new InstructionError('ARG names can not be blank');
        return eq < 0 ? { name: w } : { name: w.slice(0, eq), default: w.slice(eq + 1) };
      });
      return { ...base, kind, args };
    }
    case 'USER':
      return { ...base, kind, user: exactlyOne('USER', rest) };
    case 'WORKDIR':
      return { ...base, kind, path: exactlyOne('WORKDIR', rest) };
    case 'STOPSIGNAL':
      return { ...base, kind, signal: exactlyOne('STOPSIGNAL', rest) };
    case 'VOLUME': {
      const { args } = listArgs(rest);
      if (args.length === 0) throw new InstructionError('VOLUME requires at least one argument');
      if (args.some((a) => a.trim() === ''))
        throw new InstructionError('VOLUME specified can not be an empty string');
      return { ...base, kind, paths: args };
    }
    case 'HEALTHCHECK': {
      const m = /^(\S+)\s*([\s\S]*)$/.exec(rest.trim());
      if (!m) throw new InstructionError('HEALTHCHECK requires at least one argument');
      const type = m[1]!.toUpperCase();
      if (type === 'NONE') {
        if (m[2] !== '' || rawFlags.length > 0)
          throw new InstructionError('HEALTHCHECK NONE takes no arguments');
        return { ...base, kind, none: true };
      }
      if (type !== 'CMD') throw new InstructionError(`Unknown type "${m[1]}" in HEALTHCHECK (try CMD)`);
      const command = commandLine(m[2]!);
      if (
        (command.form === 'shell' && command.script === '') ||
        (command.form === 'exec' && !command.args.length)
      )
        throw new InstructionError('Missing command after HEALTHCHECK CMD');
      const test = command.form === 'exec' ? ['CMD', ...command.args] : ['CMD-SHELL', command.script];
      const out: Instruction = { ...base, kind, none: false, test };
      const interval = durationFlag(flags, 'interval');
      const timeout = durationFlag(flags, 'timeout');
      const startPeriod = durationFlag(flags, 'start-period');
      const startInterval = durationFlag(flags, 'start-interval');
      if (interval !== undefined) out.intervalNs = interval;
      if (timeout !== undefined) out.timeoutNs = timeout;
      if (startPeriod !== undefined) out.startPeriodNs = startPeriod;
      if (startInterval !== undefined) out.startIntervalNs = startInterval;
      const retries = flags.strings.get('retries');
      if (retries !== undefined && retries !== '') {
        if (!/^-?\d+$/.test(retries))
          throw new InstructionError(`invalid HEALTHCHECK --retries value: "${retries}"`);
        const n = Number(retries);
        if (n < 0) throw new InstructionError(`--retries cannot be negative (${n})`);
        out.retries = n;
      }
      return out;
    }
    case 'ONBUILD': {
      let trigger = rest.trim();
      if (trigger === '') throw new InstructionError('ONBUILD requires at least one argument');
      const m = /^(\S+)\s*([\s\S]*)$/.exec(trigger)!;
      const sub = m[1]!.toUpperCase();
      if (sub === 'ONBUILD')
        throw new InstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (sub === 'FROM' || sub === 'MAINTAINER')
        throw new InstructionError(`${sub} isn't allowed as an ONBUILD trigger`);
      const offset = line.args.indexOf(m[1]!);
      const instruction = parseInstruction(
        {
          keyword: m[1]!,
          args: m[2]!,
          argsColumn: line.argsColumn + offset + m[1]!.length + 1,
          location: { ...line.location, column: line.argsColumn + offset },
          original: trigger,
          heredocs: line.heredocs,
        },
        escapeChar,
      );
      // The image config keeps heredoc bodies in the trigger, as BuildKit does.
      for (const h of line.heredocs) trigger += `\n${h.content}${h.name}`;
      return { ...base, kind, trigger, instruction };
    }
  }
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

/** Closest known name within a small edit distance, for "did you mean" hints. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toUpperCase();
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(w.length / 3)) + 1;
  for (const c of candidates) {
    const dist = levenshtein(w, c.toUpperCase());
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  return best;
}

function unknownInstruction(keyword: string): string {
  const s = suggest(keyword, INSTRUCTION_NAMES);
  return `unknown instruction: ${keyword}${s ? ` (did you mean ${s}?)` : ''}`;
}
