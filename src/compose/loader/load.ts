// loadProject: files → YAML → interpolation → schema → canonical syntax → include/extends → merge →
// profiles → env_file/environment → defaults (networks, resource names) → semantic checks.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { badRequest, isBerthError } from '../../util/index.js';
import { canonicalize, expandHome, type Tree } from './canonical.js';
import { checkProjectName, discoverFiles, projectNameFromDir } from './discovery.js';
import { readDotenv } from './dotenv.js';
import { interpolateTree, type Lookup } from './interpolate.js';
import { mergeService, mergeTrees } from './merge.js';
import { validateSchema } from './schema.js';
import type { LoadOptions, LoadResult, Project, ServiceConfig } from './types.js';
import { validateProject } from './validate.js';
import { OverrideTag, parseComposeYaml, stripMarkers } from './yaml.js';

const isObj = (v: unknown): v is Tree =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

interface Ctx {
  env: Record<string, string>;
  lookup: Lookup;
  home: string;
  warn: (msg: string) => void;
  onUnset: (name: string) => void;
  stdin?: string;
  extendsCache: Map<string, Tree>;
}

const KINDS = ['services', 'networks', 'volumes', 'secrets', 'configs'] as const;

function makeCtx(env: Record<string, string>, base: Omit<Ctx, 'env' | 'lookup'>): Ctx {
  return { ...base, env, lookup: (n) => env[n] };
}

function readComposeFile(path: string, ctx: Ctx): string {
  if (path === '-') {
    if (ctx.stdin === undefined) throw badRequest('-f -: no content was given on standard input');
    return ctx.stdin;
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw badRequest(
      `open ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
      err,
    );
  }
}

/** One file, up to and including its own include and extends. */
function loadFile(path: string, baseDir: string, ctx: Ctx, includeStack: string[]): Tree {
  const name = path === '-' ? '(stdin)' : path;
  const raw = parseComposeYaml(readComposeFile(path, ctx), name);
  if ('version' in raw) {
    ctx.warn(
      `${name}: the attribute \`version\` is obsolete, it will be ignored, please remove it to avoid potential confusion`,
    );
    delete raw.version;
  }
  const interpolated = interpolateTree(raw, ctx.lookup, name, ctx.onUnset) as Tree;
  validateSchema(stripMarkers(interpolated), name);
  const tree = canonicalize(interpolated, { file: name, baseDir, home: ctx.home });
  applyInclude(tree, name, baseDir, ctx, [...includeStack, path]);
  resolveExtends(tree, name, ctx);
  return tree;
}

function applyInclude(tree: Tree, file: string, baseDir: string, ctx: Ctx, stack: string[]): void {
  const inc = tree.include;
  delete tree.include;
  if (!Array.isArray(inc)) return;
  for (const item of inc) {
    const spec = (typeof item === 'string' ? { path: item } : item) as Tree;
    const paths = (Array.isArray(spec.path) ? spec.path : [spec.path]).map((p) =>
      resolve(baseDir, expandHome(String(p), ctx.home)),
    );
    const first = paths[0] as string;
    const projDir =
      typeof spec.project_directory === 'string'
        ? resolve(baseDir, expandHome(spec.project_directory, ctx.home))
        : dirname(first);
    for (const p of paths)
      if (stack.includes(p))
        throw badRequest(`${file}: include cycle detected: ${[...stack, p].join(' -> ')}`);
    const envFiles =
      spec.env_file === undefined
        ? [join(projDir, '.env')].filter((f) => existsSync(f))
        : (Array.isArray(spec.env_file) ? spec.env_file : [spec.env_file]).map((f) =>
            resolve(baseDir, String(f)),
          );
    // The including project's environment wins; the included .env only fills gaps.
    const dotenv: Record<string, string> = {};
    for (const f of envFiles)
      Object.assign(
        dotenv,
        readDotenv(f, (n) => ctx.env[n] ?? dotenv[n]),
      );
    const sub = makeCtx({ ...dotenv, ...ctx.env }, { ...ctx, extendsCache: new Map() });
    const included = mergeTrees(paths.map((p) => loadFile(p, projDir, sub, stack)));
    for (const kind of KINDS) {
      const add = included[kind];
      if (!isObj(add)) continue;
      const mine = (isObj(tree[kind]) ? tree[kind] : {}) as Tree;
      for (const [k, v] of Object.entries(add)) {
        if (k in mine)
          throw badRequest(
            `${file}: imported compose file ${first} defines conflicting ${kind.slice(0, -1)} ${k}`,
          );
        mine[k] = v;
      }
      tree[kind] = mine;
    }
  }
}

function loadExtendsFile(path: string, ctx: Ctx): Tree {
  const cached = ctx.extendsCache.get(path);
  if (cached) return cached;
  if (!existsSync(path)) throw badRequest(`extends: file ${path} not found`);
  const raw = parseComposeYaml(readFileSync(path, 'utf8'), path);
  delete raw.version;
  const interpolated = interpolateTree(raw, ctx.lookup, path, ctx.onUnset) as Tree;
  validateSchema(stripMarkers(interpolated), path);
  const tree = canonicalize(interpolated, { file: path, baseDir: dirname(path), home: ctx.home });
  delete tree.include;
  ctx.extendsCache.set(path, tree);
  return tree;
}

function resolveExtends(tree: Tree, file: string, ctx: Ctx): void {
  if (!isObj(tree.services)) return;
  for (const name of Object.keys(tree.services)) resolveService(tree, file, name, ctx, []);
}

function resolveService(tree: Tree, file: string, name: string, ctx: Ctx, stack: string[]): Tree {
  const services = tree.services as Tree;
  const entry = services[name];
  const wrapped = entry instanceof OverrideTag;
  const svc = wrapped ? (entry as OverrideTag).value : entry;
  if (!isObj(svc) || !isObj(svc.extends)) return (isObj(svc) ? svc : {}) as Tree;
  const key = `${file}:${name}`;
  if (stack.includes(key)) {
    const cycle = [...stack.slice(stack.indexOf(key)), key].map((k) => k.slice(k.lastIndexOf(':') + 1));
    throw badRequest(`${file}: extends cycle detected: ${cycle.join(' -> ')}`);
  }
  const ext = svc.extends as { service?: string; file?: string };
  const baseFile = ext.file ?? file;
  const baseTree = ext.file ? loadExtendsFile(ext.file, ctx) : tree;
  const baseServices = isObj(baseTree.services) ? baseTree.services : {};
  if (typeof ext.service !== 'string' || !(ext.service in baseServices))
    throw badRequest(
      `${file}: cannot extend service ${JSON.stringify(name)}: service ${JSON.stringify(ext.service)} not found in ${baseFile}`,
    );
  const base = resolveService(baseTree, baseFile, ext.service, ctx, [...stack, key]);
  const { extends: _extends, ...rest } = svc;
  const merged = mergeService(stripMarkers(base) as Tree, rest);
  services[name] = wrapped ? new OverrideTag(merged) : merged;
  return merged;
}

function splitList(v: string | undefined, sep: string): string[] {
  return (v ?? '')
    .split(sep)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export async function loadProject(options: LoadOptions = {}): Promise<LoadResult> {
  const cwd = resolve(options.workingDir ?? process.cwd());
  const procEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.environment ?? process.env))
    if (v !== undefined) procEnv[k] = v;
  const warnings: string[] = [];
  const warn = (m: string) => {
    if (!warnings.includes(m)) warnings.push(m);
  };
  const unset: string[] = [];
  const home = expandHome('~', procEnv.HOME ?? homedir());
  const pdOption = options.projectDirectory ? resolve(cwd, options.projectDirectory) : undefined;

  // Which files: -f, else COMPOSE_FILE (process, then the .env beside us), else discovery.
  let files = options.files?.length ? options.files : undefined;
  const sep = procEnv.COMPOSE_PATH_SEPARATOR ?? ':';
  if (!files && procEnv.COMPOSE_FILE) files = splitList(procEnv.COMPOSE_FILE, sep);
  if (!files) {
    const dotenvPath = join(pdOption ?? cwd, '.env');
    if (!options.envFiles?.length && existsSync(dotenvPath)) {
      const fromDot = readDotenv(dotenvPath, (n) => procEnv[n]).COMPOSE_FILE;
      if (fromDot) files = splitList(fromDot, sep).map((f) => resolve(pdOption ?? cwd, f));
    }
  }
  const paths = files
    ? files.map((f) => (f === '-' ? '-' : resolve(cwd, f)))
    : discoverFiles(pdOption ?? cwd, warn);
  const first = paths[0] as string;
  const projectDir = pdOption ?? (first === '-' ? cwd : dirname(first));

  // Environment: the process environment over .env (or over the --env-file files, in order).
  const envFiles = options.envFiles?.length
    ? options.envFiles.map((f) => resolve(cwd, f))
    : [join(projectDir, '.env')].filter((f) => existsSync(f));
  const dotenv: Record<string, string> = {};
  for (const f of envFiles)
    Object.assign(
      dotenv,
      readDotenv(f, (n) => procEnv[n] ?? dotenv[n]),
    );
  const env = { ...dotenv, ...procEnv };
  const ctx = makeCtx(env, {
    home,
    warn,
    onUnset: (n) => {
      if (!unset.includes(n)) unset.push(n);
    },
    stdin: options.stdin,
    extendsCache: new Map(),
  });

  const trees = paths.map((p) => loadFile(p, projectDir, ctx, []));
  const model = mergeTrees(trees);

  let name: string;
  if (options.projectName) name = checkProjectName(options.projectName);
  else if (env.COMPOSE_PROJECT_NAME) name = checkProjectName(env.COMPOSE_PROJECT_NAME);
  else if (typeof model.name === 'string' && model.name !== '') name = checkProjectName(model.name);
  else name = projectNameFromDir(projectDir);
  env.COMPOSE_PROJECT_NAME ??= name;

  const profiles = options.profiles?.length ? [...options.profiles] : splitList(env.COMPOSE_PROFILES, ',');
  const project = finish(model, name, projectDir, paths, profiles, options.services ?? [], ctx);
  for (const n of unset)
    warnings.push(`The ${JSON.stringify(n)} variable is not set. Defaulting to a blank string.`);
  return { project, warnings };
}

function finish(
  model: Tree,
  name: string,
  projectDir: string,
  files: string[],
  profiles: string[],
  explicit: string[],
  ctx: Ctx,
): Project {
  const all: Record<string, ServiceConfig> = {};
  for (const [n, s] of Object.entries(isObj(model.services) ? model.services : {}))
    all[n] = { ...(stripMarkers(s) as Tree), name: n } as ServiceConfig;

  // Profiles: a service with profiles runs only when one is active, or when it is named explicitly
  // (then its dependencies come along).
  const active = new Set(profiles);
  const enabled = new Set<string>();
  for (const [n, s] of Object.entries(all))
    if (!s.profiles?.length || active.has('*') || s.profiles.some((p) => active.has(p))) enabled.add(n);
  const pull = (n: string) => {
    if (!all[n]) throw badRequest(`no such service: ${n}`);
    if (explicitSeen.has(n)) return;
    explicitSeen.add(n);
    enabled.add(n);
    for (const [d, dep] of Object.entries(all[n].depends_on ?? {})) if (dep.required && all[d]) pull(d);
  };
  const explicitSeen = new Set<string>();
  for (const n of explicit) pull(n);
  const services: Record<string, ServiceConfig> = {};
  const disabled: Record<string, ServiceConfig> = {};
  for (const [n, s] of Object.entries(all)) (enabled.has(n) ? services : disabled)[n] = s;
  for (const [n, s] of Object.entries(services))
    for (const [d, dep] of Object.entries(s.depends_on ?? {})) {
      const off = disabled[d];
      if (!off) continue;
      if (!dep.required) {
        delete s.depends_on?.[d];
        if (Object.keys(s.depends_on ?? {}).length === 0) delete s.depends_on;
        continue;
      }
      throw badRequest(
        `service ${JSON.stringify(n)} depends on service ${JSON.stringify(d)} which is disabled (profiles: ${(off.profiles ?? []).join(', ')}); activate a profile or name the service`,
      );
    }

  for (const s of [...Object.values(services), ...Object.values(disabled)]) resolveEnvironment(s, ctx);

  const networks = (isObj(model.networks) ? model.networks : {}) as Project['networks'];
  for (const s of Object.values(services)) {
    if (s.network_mode === undefined && (!s.networks || Object.keys(s.networks).length === 0))
      s.networks = { default: null };
    if (s.networks && 'default' in s.networks && !('default' in networks)) networks.default = {};
  }
  const named = <T extends { name?: string; external?: boolean }>(res: Record<string, T | null>) => {
    const out: Record<string, T> = {};
    for (const [k, v] of Object.entries(res)) {
      const r = { ...(v ?? {}) } as T;
      if (r.name === undefined) r.name = r.external ? k : `${name}_${k}`;
      out[k] = r;
    }
    return out;
  };
  const ext: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(model)) if (k.startsWith('x-')) ext[k] = v;
  const project: Project = {
    name,
    workingDir: projectDir,
    composeFiles: files,
    services,
    disabledServices: disabled,
    networks: named(networks),
    volumes: named((isObj(model.volumes) ? model.volumes : {}) as Project['volumes']),
    secrets: named((isObj(model.secrets) ? model.secrets : {}) as Project['secrets']),
    configs: named((isObj(model.configs) ? model.configs : {}) as Project['configs']),
    profiles,
    extensions: ext,
    environment: ctx.env,
  };
  validateProject(project);
  return project;
}

/** env_file values, then `environment` over them; a bare KEY comes from the project environment. */
function resolveEnvironment(s: ServiceConfig, ctx: Ctx): void {
  const files = (s.env_file as { path: string; required: boolean }[] | undefined) ?? [];
  const hadEnv = s.environment !== undefined;
  const out: Record<string, string> = {};
  for (const f of files) {
    if (!existsSync(f.path)) {
      if (f.required)
        throw badRequest(`env file ${f.path} not found: stat ${f.path}: no such file or directory`);
      continue;
    }
    try {
      Object.assign(out, readDotenv(f.path, ctx.lookup));
    } catch (err) {
      if (isBerthError(err)) throw badRequest(`service ${JSON.stringify(s.name)}: ${err.message}`);
      throw err;
    }
  }
  for (const [k, v] of Object.entries(s.environment ?? {})) {
    if (v === null) {
      const fromEnv = ctx.env[k];
      if (fromEnv !== undefined) out[k] = fromEnv;
    } else out[k] = v;
  }
  delete s.env_file;
  if (hadEnv || Object.keys(out).length > 0) s.environment = out;
}
