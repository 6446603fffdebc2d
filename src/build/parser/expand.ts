// Which instruction fields get variable substitution (BuildKit: ADD COPY ENV EXPOSE FROM LABEL
// STOPSIGNAL USER VOLUME WORKDIR ARG, plus the flags --from --chown --chmod --checksum --exclude and
// RUN --mount options; never RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK commands nor ONBUILD triggers),
// and the ARG/ENV scope in effect at each line of a stage.
import { InstructionError } from './errors.js';
import { parseChmod, parsePortSpec } from './instructions.js';
import { type EnvSource, type ExpandOptions, expandDetailed, ShellExpansionError } from './shell.js';
import type { Instruction, Stage } from './types.js';

/** Args BuildKit defines for every build without an ARG declaration being needed in FROM. */
export function platformArgs(buildPlatform?: string, targetPlatform?: string): Map<string, string> {
  const host = `linux/${nodeArch()}`;
  const out = new Map<string, string>();
  const put = (prefix: string, p: string) => {
    const [os = 'linux', arch = nodeArch(), variant = ''] = p.split('/');
    out.set(`${prefix}PLATFORM`, p);
    out.set(`${prefix}OS`, os);
    out.set(`${prefix}ARCH`, arch);
    out.set(`${prefix}VARIANT`, variant);
  };
  put('BUILD', buildPlatform ?? host);
  put('TARGET', targetPlatform ?? buildPlatform ?? host);
  return out;
}

function nodeArch(): string {
  const a = process.arch;
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

export interface ExpandedInstruction {
  instruction: Instruction;
  /** Variables referenced but unset in scope. */
  unset: string[];
}

/**
 * Returns a copy of the instruction with substitution applied where Dockerfile semantics apply it.
 * Throws InstructionError for a malformed word or an invalid value that only shows once expanded.
 */
export function expandInstruction(
  instr: Instruction,
  env: EnvSource,
  options: ExpandOptions = {},
): ExpandedInstruction {
  const unset = new Set<string>();
  const x = (w: string): string => {
    const r = expandDetailed(w, env, options);
    for (const u of r.unset) unset.add(u);
    return r.value;
  };
  const opt = (w: string | undefined) => (w === undefined ? undefined : x(w));
  let out: Instruction;
  switch (instr.kind) {
    case 'FROM': {
      out = { ...instr, image: x(instr.image) };
      if (instr.platform !== undefined) out.platform = x(instr.platform);
      break;
    }
    case 'ADD':
    case 'COPY': {
      out = {
        ...instr,
        sources: instr.sources.map((s) => {
          if (s.kind === 'path') return { kind: 'path', path: x(s.path) };
          if (!s.heredoc.expand) return s;
          const content = expandDetailed(s.heredoc.content, env, { ...options, keepQuotes: true });
          for (const u of content.unset) unset.add(u);
          return { kind: 'heredoc', heredoc: { ...s.heredoc, content: content.value } };
        }),
        dest: x(instr.dest),
        excludes: instr.excludes.map(x),
      };
      if (instr.from !== undefined) out.from = x(instr.from);
      if (instr.chown !== undefined) out.chown = x(instr.chown);
      if (instr.checksum !== undefined) out.checksum = x(instr.checksum);
      if (instr.chmodRaw !== undefined) {
        out.chmodRaw = x(instr.chmodRaw);
        out.chmod = parseChmod(out.chmodRaw);
      }
      break;
    }
    case 'ENV':
      out = { ...instr, vars: instr.vars.map((kv) => ({ key: x(kv.key), value: x(kv.value) })) };
      break;
    case 'LABEL':
      out = { ...instr, labels: instr.labels.map((kv) => ({ key: x(kv.key), value: x(kv.value) })) };
      break;
    case 'ARG':
      out = {
        ...instr,
        args: instr.args.map((a) =>
          a.default === undefined ? { name: a.name } : { name: a.name, default: x(a.default) },
        ),
      };
      break;
    case 'EXPOSE':
      out = { ...instr, ports: instr.ports.map(x) };
      for (const p of out.ports) parsePortSpec(p);
      break;
    case 'STOPSIGNAL':
      out = { ...instr, signal: x(instr.signal) };
      break;
    case 'USER':
      out = { ...instr, user: x(instr.user) };
      break;
    case 'WORKDIR':
      out = { ...instr, path: x(instr.path) };
      break;
    case 'VOLUME':
      out = { ...instr, paths: instr.paths.map(x) };
      if (out.paths.some((p) => p.trim() === ''))
        throw new InstructionError('VOLUME specified can not be an empty string');
      break;
    case 'RUN':
      out = {
        ...instr,
        mounts: instr.mounts.map((m) => {
          const c = { ...m };
          for (const k of ['target', 'source', 'from', 'id', 'env'] as const) {
            const v = opt(c[k]);
            if (v !== undefined) c[k] = v;
          }
          return c;
        }),
      };
      break;
    default:
      out = instr;
  }
  return { instruction: out, unset: [...unset] };
}

export interface ScopeOptions {
  /** Values of the meta args (ARG before FROM) after build-arg overrides; see resolveMetaArgs. */
  metaArgs: ReadonlyMap<string, string | undefined>;
  /** --build-arg values. */
  buildArgs?: Readonly<Record<string, string>>;
  /** ENV inherited from the base (a parent stage's final ENV, or the image config's Env). */
  baseEnv?: ReadonlyMap<string, string>;
  /** ARGs declared in a parent stage (FROM <stage>): stages inherit them. */
  baseArgs?: ReadonlyMap<string, string>;
  escapeChar?: string;
}

export interface ScopedInstruction {
  /** The instruction as written. */
  instruction: Instruction;
  /** The instruction expanded in the scope in effect at its line. */
  expanded: Instruction;
  /** Variables referenced but not defined at that line. */
  unset: string[];
  /** A snapshot of the variables visible at that line (ARGs then ENV on top). */
  env: ReadonlyMap<string, string>;
}

/**
 * Walks a stage's instructions tracking ARG and ENV as BuildKit does: a stage ARG takes its value
 * from --build-arg, else its default, else (no default) the meta arg of the same name; ENV wins
 * over ARG of the same name.
 */
export function walkStage(
  stage: Stage,
  options: ScopeOptions,
): { steps: ScopedInstruction[]; env: Map<string, string>; args: Map<string, string> } {
  const buildArgs = options.buildArgs ?? {};
  const args = new Map<string, string>(options.baseArgs ?? []);
  // The proxy args are predefined: in scope whenever passed as --build-arg.
  for (const name of PROXY_ARGS) if (Object.hasOwn(buildArgs, name)) args.set(name, buildArgs[name]!);
  const declared = new Set<string>(args.keys());
  const env = new Map<string, string>(options.baseEnv ?? []);
  const lookup = (n: string) => (env.has(n) ? env.get(n) : args.get(n));
  const opts: ExpandOptions = { escapeChar: options.escapeChar ?? '\\' };
  const steps: ScopedInstruction[] = [];
  // Assignments in order, replayed on demand: snapshotting the scope at every step is quadratic.
  const log: [kind: 'arg' | 'env', name: string, value: string][] = [];
  for (const [k, v] of args) log.push(['arg', k, v]);
  for (const [k, v] of env) log.push(['env', k, v]);
  for (const instr of stage.instructions) {
    let result: ExpandedInstruction;
    try {
      result = expandInstruction(instr, lookup, opts);
    } catch (err) {
      if (err instanceof InstructionError || err instanceof ShellExpansionError)
        throw new InstructionError(err.message, undefined, instr.location.startLine);
      throw err;
    }
    const { instruction: expanded } = result;
    // A declared ARG without a value expands to '' but is not undefined.
    const unset = result.unset.filter((n) => !declared.has(n));
    steps.push(scopedStep(instr, expanded, unset, log, log.length));
    if (expanded.kind === 'ARG') {
      for (const a of expanded.args) {
        declared.add(a.name);
        const v = Object.hasOwn(buildArgs, a.name)
          ? buildArgs[a.name]
          : a.default !== undefined
            ? a.default
            : options.metaArgs.get(a.name);
        if (v !== undefined) {
          args.set(a.name, v);
          log.push(['arg', a.name, v]);
        }
      }
    } else if (expanded.kind === 'ENV') {
      for (const kv of expanded.vars) {
        env.set(kv.key, kv.value);
        log.push(['env', kv.key, kv.value]);
      }
    }
  }
  return { steps, env, args };
}

function scopedStep(
  instruction: Instruction,
  expanded: Instruction,
  unset: string[],
  log: readonly [kind: 'arg' | 'env', name: string, value: string][],
  upTo: number,
): ScopedInstruction {
  let env: Map<string, string> | undefined;
  return {
    instruction,
    expanded,
    unset,
    get env(): ReadonlyMap<string, string> {
      if (!env) {
        const args = new Map<string, string>();
        const envs = new Map<string, string>();
        for (let i = 0; i < upTo; i++) {
          const [kind, name, value] = log[i]!;
          (kind === 'arg' ? args : envs).set(name, value);
        }
        env = new Map([...args, ...envs]);
      }
      return env;
    },
  };
}

/** Docker's predefined ARGs, usable without an ARG instruction. */
export const PROXY_ARGS: readonly string[] = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
];
