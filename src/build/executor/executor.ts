// The Dockerfile executor (Docker's legacy builder semantics): every instruction commits an image whose
// parent is the previous one; RUN runs in a real (hidden) container whose overlay upper dir becomes the
// layer, COPY/ADD write their layer without a container, metadata steps commit empty layers. Results are
// cached by parent image + expanded instruction + args + source checksum.
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { ContainerService } from '../../containers/index.js';
import type { ContainerConfig, ImageService } from '../../images/index.js';
import {
  containerPaths,
  generateSpec,
  mergeConfig,
  OciRuntime,
  type ResolvedMount,
  readLogs,
  resolveInRoot,
  runToCompletion,
} from '../../runtime/index.js';
import { BerthError, badRequest, messageOf, notFound, randomId, run, sha256 } from '../../util/index.js';
import { BuildCache, cacheKey } from '../cache/index.js';
import { ContextPool, IgnoreMatcher, type ReceivedContext, readDockerignore } from '../context/index.js';
import {
  type Dockerfile,
  DockerfileError,
  type Instruction,
  parseDockerfile,
  type ResolvedStage,
  type RunInstruction,
  resolveStages,
  type ScopedInstruction,
  type StageGraph,
  walkStage,
} from '../parser/index.js';
import { type CopyPlan, makeParents, planCopy, resolveOwner, writeCopy } from './copy.js';
import { Mounter } from './mounter.js';
import { bindMountSource } from './mounts.js';
import { checkBuildPlatforms } from './platform.js';
import { downloadSource } from './remote.js';
import { type SshForwards, sshMountBind } from './ssh.js';
import { type BuildTrace, buildTrace } from './trace.js';

/** Label on build containers: `ps` hides them. */
export const BUILD_CONTAINER_LABEL = 'io.berth.build';

export interface BuildRequest {
  /** The extracted build context. */
  contextDir: string;
  /** Dockerfile path relative to the context (default `Dockerfile`). */
  dockerfile?: string;
  tags?: string[];
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  pull?: boolean;
  quiet?: boolean;
  /** Remove intermediate containers after a successful step (default true). */
  rm?: boolean;
  /** Remove them even after a failed step. */
  forceRm?: boolean;
  /** RUN's default network mode (default bridge). */
  networkMode?: string;
  platform?: string;
  /** Values for `RUN --mount=type=secret,id=x` (never written to layers, config or history). */
  secrets?: Record<string, string>;
  /** `RUN --mount=type=ssh` agents: id → host socket path (`berth build --ssh`). */
  ssh?: SshForwards;
  signal?: AbortSignal;
  /** The received context (content digests of its files); without it, COPY hashes what it reads. */
  context?: ReceivedContext;
  /** Phase timings (BERTH_TRACE=phases). */
  trace?: BuildTrace;
}

export interface BuildDeps {
  images: ImageService;
  containers: ContainerService;
  dataRoot: string;
  /**
   * The OCI runtime RUN steps without a bridge network run on directly (no conmon, no container record);
   * default: runc with a state root under the data root's scratch directory.
   */
  runtime?: OciRuntime;
  pull?: (ref: string, opts: { platform?: string; progress: (message: object) => void }) => Promise<void>;
}

/** What a build run uses: the builder's dependencies, the runtime, and the mount helper. */
type RunDeps = BuildDeps & { runtime: OciRuntime; mounter: Mounter };

/** Where progress goes: Docker's `{"stream": …}` and `{"aux": …}` messages. */
export interface BuildOutput {
  stream(text: string): void;
  aux(value: object): void;
}

/** A failed build: the message Docker prints, and the exit code of a failing RUN as `code`. */
export class BuildError extends BerthError {
  /** Set for a failing RUN: its exit code (the docker CLI exits with it). */
  readonly code?: number;
  constructor(message: string, code?: number, status = 400) {
    super(status, message);
    this.name = 'BuildError';
    this.code = code;
  }
}

export interface BuildResult {
  imageId: string;
  tags: string[];
}

interface StageResult {
  imageId: string | null;
  /** Where this stage's progress goes (stages of one wave build in parallel, each into a buffer). */
  log: (text: string) => void;
  /** A CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  config: ContainerConfig;
  author?: string;
  args: Map<string, string>;
  /** The instruction after the one being dispatched (a COPY looks ahead for a RUN to overlap). */
  next?: Instruction;
  /**
   * A COPY/ADD whose commit is still running while the next RUN already runs on its layer directory
   * (see commitStep): `imageId` is still its parent until `done` resolves with its image.
   */
  pending?: PendingCommit;
}

interface PendingCommit {
  /** The step's layer directory: the top lower of the RUN's root while the commit runs. */
  layerDir: string;
  /** The image the step was committed on. */
  parent: string | null;
  /**
   * Starts the commit. The RUN calls it once its root is mounted (the store then moves the directory
   * in) and the runtime is on its way; anything else that needs the image calls it too. Idempotent.
   */
  start: () => void;
  /** The committed image's ID (its log line and cache entry written) once started. */
  done: Promise<string>;
}

const LOCAL_HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';
const hostHostname = () => hostname();
const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
const DEFAULT_SHELL = ['/bin/sh', '-c'];
const envMap = (env: string[] | undefined) =>
  new Map(
    (env ?? []).map((e) => {
      const eq = e.indexOf('=');
      return eq < 0 ? [e, ''] : [e.slice(0, eq), e.slice(eq + 1)];
    }),
  );
const setEnv = (env: string[] | undefined, key: string, value: string) => [
  ...(env ?? []).filter((e) => e.split('=')[0] !== key),
  `${key}=${value}`,
];

export class Builder {
  private readonly cache: BuildCache;
  private readonly contexts: ContextPool;
  private readonly deps: RunDeps;

  constructor(deps: BuildDeps) {
    // The scratch directory is emptied when the daemon starts: no stale runtime state survives there.
    const runtime =
      deps.runtime ?? new OciRuntime({ stateRoot: join(deps.dataRoot, 'tmp', 'build-runtime') });
    this.deps = { ...deps, runtime, mounter: new Mounter() };
    this.cache = new BuildCache(deps.dataRoot);
    // Under the image store's scratch directory, which the daemon empties when it starts.
    this.contexts = new ContextPool(join(deps.dataRoot, 'tmp', 'build-contexts'));
  }

  /**
   * Receives a context tar (maybe compressed) into a kept directory brought up to date with it; `key`
   * (e.g. tags + Dockerfile) picks the directory. Release the result when the build is over. 400 on a
   * bad tar.
   */
  receiveContext(body: Readable, key: string): Promise<ReceivedContext> {
    return this.contexts.receive(body, key);
  }

  /** `docker builder prune`: forgets the step cache (images stay), removes cache mounts and kept contexts. */
  async prune(): Promise<{ entries: string[]; space: number }> {
    await this.contexts.clear();
    return this.cache.prune();
  }

  /** Reads and parses the Dockerfile of a context (400 naming file:line when invalid). */
  async loadDockerfile(contextDir: string, name = 'Dockerfile'): Promise<Dockerfile> {
    const clean = posix.normalize(`/${name}`);
    const path = join(contextDir, clean);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (
        (err as NodeJS.ErrnoException).code === 'ENOENT' ||
        (err as NodeJS.ErrnoException).code === 'EISDIR'
      )
        throw badRequest(`Cannot locate specified Dockerfile: ${name}`);
      throw err;
    }
    return parseDockerfile(text, {
      filename: basename(name).startsWith('.dockerfile.') ? 'Dockerfile' : name,
    });
  }

  async build(req: BuildRequest, out: BuildOutput): Promise<BuildResult> {
    const trace = req.trace ?? buildTrace('-');
    req = { ...req, trace };
    const df = await this.loadDockerfile(req.contextDir, req.dockerfile);
    const buildArgs = req.buildArgs ?? {};
    const graph = resolveStages(df, { target: req.target, buildArgs });
    checkBuildPlatforms(graph, df.filename, req.platform);
    // `<Dockerfile>.dockerignore` beside the Dockerfile wins over the context's `.dockerignore`.
    const ignore = await readDockerignore(
      req.contextDir,
      join(req.contextDir, posix.normalize(`/${req.dockerfile ?? 'Dockerfile'}`)),
    );
    const matcher = new IgnoreMatcher(ignore.patterns);
    const total = graph.order.reduce((n, i) => n + 1 + graph.all[i]!.stage.instructions.length, 0);
    trace.mark('parse');
    const run = new BuildRun(this.deps, this.cache, req, out, df, graph, matcher, total);
    const result = await run.execute().finally(() => Promise.all([run.settle(), this.cache.flush()]));
    let imageId = result.imageId;
    if (!imageId) {
      // A scratch stage with no instructions still yields an (empty) image.
      imageId = (await this.deps.images.commit({ parent: null, layer: null, config: result.config })).id;
    }
    const labels = Object.entries(req.labels ?? {});
    if (labels.length > 0) {
      const config: ContainerConfig = {
        ...result.config,
        Labels: { ...(result.config.Labels ?? {}), ...Object.fromEntries(labels) },
      };
      const text = `LABEL ${labels.map(([k, v]) => `${k}=${v}`).join(' ')}`;
      imageId = (
        await this.deps.images.commit({
          parent: imageId,
          layer: null,
          config,
          createdBy: `/bin/sh -c #(nop)  ${text}`,
          recordParent: true,
        })
      ).id;
    }
    trace.mark('steps');
    out.aux({ ID: imageId });
    if (req.quiet) out.stream(`${imageId}\n`);
    else out.stream(`Successfully built ${short(imageId)}\n`);
    const tags: string[] = [];
    for (const t of req.tags ?? []) {
      await this.deps.images.tag(imageId, t);
      tags.push(t);
      if (!req.quiet)
        out.stream(`Successfully tagged ${t.includes(':') && !t.includes('@') ? t : `${t}:latest`}\n`);
    }
    trace.mark('tag');
    return { imageId, tags };
  }
}

/** One build: stage results, step numbering, output. */
class BuildRun {
  private readonly results = new Map<number, StageResult>();
  /** Clean-ups off the critical path (container removal, unmounts); the build waits for them at its end. */
  private readonly background: Promise<unknown>[] = [];
  /** Layer directories a RUN root had as a lower: removed once the views are unmounted. */
  private readonly leftovers: string[] = [];

  private defer(work: () => Promise<unknown>): void {
    this.background.push(work().catch(() => {}));
  }

  /** Image views (withRoot) still mounted: unmounted together when the build ends. */
  private readonly views: { target: string; base: string }[] = [];

  /** Waits for the deferred clean-ups and unmounts the image views, with one umount for all of them. */
  async settle(): Promise<void> {
    while (this.background.length > 0) await Promise.all(this.background.splice(0));
    await this.unmountViews();
    for (const dir of this.leftovers.splice(0))
      await rm(dir, { recursive: true, force: true }).catch(() => {});
  }

  private async unmountViews(): Promise<void> {
    const views = this.views.splice(0);
    if (views.length === 0) return;
    const res = await this.deps.mounter
      .run(
        'umount',
        views.map((v) => v.target),
      )
      .catch(() => ({ code: 1 }));
    await Promise.all(
      views.map(async (v) => {
        // One that did not go: unmounted alone (lazily if busy), as everywhere else.
        if (res.code !== 0) await this.deps.images.layers.unmount(v.target).catch(() => {});
        await rm(v.base, { recursive: true, force: true }).catch(() => {});
      }),
    );
  }

  constructor(
    private readonly deps: RunDeps,
    private readonly cache: BuildCache,
    private readonly req: BuildRequest,
    private readonly out: BuildOutput,
    private readonly df: Dockerfile,
    private readonly graph: StageGraph,
    private readonly ignore: IgnoreMatcher,
    private readonly total: number,
  ) {}

  private print(text: string): void {
    if (!this.req.quiet) this.out.stream(text);
  }

  private fail(line: number, message: string): never {
    throw new DockerfileError(this.df.filename, line, message);
  }

  async execute(): Promise<StageResult> {
    let n = 0;
    for (const i of this.graph.order) {
      this.stepBase.set(i, n);
      n += 1 + this.graph.all[i]!.stage.instructions.length;
    }
    for (const group of this.graph.groups) {
      if (group.length === 1) {
        const index = group[0]!;
        this.results.set(index, await this.buildStage(this.graph.all[index]!, (t) => this.print(t)));
        continue;
      }
      // Independent stages build in parallel; each one's log is buffered and printed whole, in order.
      const buffers = group.map(() => [] as string[]);
      const settled = await Promise.allSettled(
        group.map((index, k) => this.buildStage(this.graph.all[index]!, (t) => buffers[k]!.push(t))),
      );
      for (const [k, r] of settled.entries()) {
        for (const t of buffers[k]!) this.print(t);
        if (r.status === 'rejected') throw r.reason;
        this.results.set(group[k]!, r.value);
      }
    }
    return this.results.get(this.graph.target)!;
  }

  private readonly stepBase = new Map<number, number>();

  private async baseOf(rs: ResolvedStage): Promise<StageResult> {
    if (rs.baseStage !== undefined) {
      const r = this.results.get(rs.baseStage)!;
      return { ...r, config: structuredClone(r.config), args: new Map(r.args), cmdSet: false };
    }
    if (rs.base.toLowerCase() === 'scratch')
      return { imageId: null, config: {}, args: new Map(), log: () => {}, cmdSet: false };
    let rec = this.deps.images.find(rs.base);
    if ((!rec || this.req.pull) && this.deps.pull) {
      try {
        await this.deps.pull(rs.base, { platform: rs.platform, progress: () => {} });
      } catch (err) {
        if (!rec) throw notFound(`pull access denied for ${rs.base}: ${messageOf(err)}`);
      }
      rec = this.deps.images.find(rs.base);
    }
    if (!rec)
      throw notFound(
        `pull access denied for ${rs.base}, repository does not exist or may require 'docker login': No such image: ${rs.base}`,
      );
    const { config } = await this.deps.images.get(rec.id);
    const res: StageResult = {
      imageId: rec.id,
      config: structuredClone(config.config ?? {}),
      args: new Map(),
      log: () => {},
      cmdSet: false,
    };
    if (config.author) res.author = config.author;
    return res;
  }

  private async buildStage(rs: ResolvedStage, log: (text: string) => void): Promise<StageResult> {
    let stepNo = this.stepBase.get(rs.index) ?? 0;
    log(`Step ${++stepNo}/${this.total} : ${rs.stage.from.original}\n`);
    const state = await this.baseOf(rs);
    state.log = log;
    state.log(` ---> ${state.imageId ? short(state.imageId) : ''}\n`);
    // ONBUILD triggers of the base run first; the new image does not inherit them.
    const triggers = state.config.OnBuild ?? [];
    let triggerInstrs: Instruction[] = [];
    if (triggers.length > 0) {
      try {
        triggerInstrs = parseDockerfile(`FROM scratch\n${triggers.join('\n')}\n`, {
          filename: 'ONBUILD',
        }).stages[0]!.instructions;
      } catch (err) {
        throw badRequest(`invalid ONBUILD trigger in base image ${rs.base}: ${messageOf(err)}`);
      }
      state.config.OnBuild = null;
    }
    const walked = (() => {
      try {
        return walkStage(
          { ...rs.stage, instructions: [...triggerInstrs, ...rs.stage.instructions] },
          {
            metaArgs: this.graph.metaArgs,
            buildArgs: this.req.buildArgs ?? {},
            baseEnv: envMap(state.config.Env),
            baseArgs: state.args,
            escapeChar: this.df.directives.escape,
          },
        );
      } catch (err) {
        const line = (err as { line?: number }).line ?? rs.stage.from.location.startLine;
        this.fail(line, messageOf(err));
      }
    })();
    try {
      for (const [i, step] of walked.steps.entries()) {
        // The client went away: stop between steps (a running RUN finishes its step first).
        if (this.req.signal?.aborted) throw new BuildError('build canceled: the client disconnected');
        if (i < triggerInstrs.length) state.log(`# Executing build trigger: ${triggers[i]}\n`);
        else state.log(`Step ${++stepNo}/${this.total} : ${step.instruction.original}\n`);
        state.next = walked.steps[i + 1]?.expanded;
        await this.dispatch(state, step);
      }
      await this.awaitPending(state);
    } catch (err) {
      // A commit still waiting for its RUN goes on (the build's end waits for it).
      state.pending?.start();
      throw err;
    }
    state.next = undefined;
    state.args = walked.args;
    return state;
  }

  /** Waits for a COPY/ADD commit that a RUN was to overlap (see commitStep); the image is then its. */
  private async awaitPending(state: StageResult): Promise<void> {
    const p = state.pending;
    if (!p) return;
    state.pending = undefined;
    p.start();
    state.imageId = await p.done;
  }

  /** Whether `ins` is a RUN that runs on the runtime directly (runContainer's `direct`) with no mounts. */
  private overlaps(state: StageResult, ins: Instruction): boolean {
    if (ins.kind !== 'RUN' || ins.mounts.length > 0) return false;
    const network = ins.network ?? (this.req.networkMode || 'default');
    return (
      (network === 'none' || network === 'host') &&
      Object.keys(state.config.Volumes ?? {}).length === 0 &&
      this.req.rm !== false
    );
  }

  /** An image's layers as overlay lowers, top first, relative to the layer store's root. */
  private lowersOf(imageId: string | null): string[] {
    const top = imageId ? this.deps.images.resolve(imageId).topChainId : null;
    return top
      ? this.deps.images.layers
          .chain(top)
          .reverse()
          .map((l) => `l/${l.short}`)
      : [];
  }

  private shellOf(state: StageResult): string[] {
    return state.config.Shell && state.config.Shell.length > 0 ? state.config.Shell : DEFAULT_SHELL;
  }

  private nop(state: StageResult, text: string, twoSpaces = true): string {
    return `${this.shellOf(state).join(' ')} #(nop) ${twoSpaces ? ' ' : ''}${text}`;
  }

  /** The args in effect for a step (declared and valued ARGs not shadowed by ENV). */
  private argsInEffect(state: StageResult, step: ScopedInstruction): string[] {
    const env = envMap(state.config.Env);
    const out: string[] = [];
    for (const [k, v] of step.env) if (!env.has(k)) out.push(`${k}=${v}`);
    return out.sort();
  }

  /** Commits a step through the cache; `make` produces the layer on a miss. */
  private async commitStep(
    state: StageResult,
    step: ScopedInstruction,
    createdBy: string,
    opts: {
      contentChecksum?: string;
      extra?: string;
      make?: () => Promise<{
        layer: { upperDir: string; adopt?: boolean; xattrs?: boolean } | null;
        cleanup?: () => Promise<void>;
      }>;
      /** The parent was committed by this build just now: no cache entry can name it. */
      fresh?: boolean;
    } = {},
  ): Promise<void> {
    const images = this.deps.images;
    const trace = this.req.trace!;
    trace.mark('step-prep');
    const key = cacheKey({
      parent: state.imageId,
      createdBy,
      args: this.argsInEffect(state, step),
      contentChecksum: opts.contentChecksum,
      extra: `${opts.extra ?? ''}|${JSON.stringify(state.config)}|${state.author ?? ''}`,
    });
    if (!this.req.noCache && !opts.fresh) {
      const hit = await this.cache.lookup(key, (id) => images.find(id) !== undefined);
      trace.mark('lookup');
      if (hit) {
        state.log(' ---> Using cache\n');
        state.log(` ---> ${short(hit)}\n`);
        state.imageId = hit;
        return;
      }
    }
    const made = opts.make ? await opts.make() : { layer: null };
    trace.mark(`make-${step.expanded.kind}`);
    const next = state.next;
    if (made.layer?.adopt && next?.kind === 'RUN' && this.overlaps(state, next)) {
      // A miss, and the next step is a RUN on the runtime directly: it is a miss too (its parent is
      // this new image), so it runs now on this layer's directory while the commit tars, compresses
      // and stores it; the RUN's own commit waits for this one (run()).
      const layerDir = made.layer.upperDir;
      const log = state.log;
      const held: string[] = [];
      const parent = state.imageId;
      const config = structuredClone(state.config);
      // Removed (if the store did not take it) only once the RUN's root, which has it as a lower, is
      // unmounted.
      this.leftovers.push(layerDir);
      let start!: () => void;
      const gate = new Promise<void>((resolve) => {
        start = resolve;
      });
      const done = gate.then(async () => {
        const rec = await images.commit({
          parent,
          layer: made.layer,
          config,
          createdBy,
          ...(state.author ? { author: state.author } : {}),
          recordParent: true,
        });
        this.cache.store(key, rec.id).catch(() => {});
        log(` ---> ${short(rec.id)}\n`);
        return rec.id;
      });
      done.then(
        () => {
          for (const t of held.splice(0)) log(t);
          if (state.log === holding) state.log = log;
        },
        () => {
          held.length = 0;
          if (state.log === holding) state.log = log;
        },
      );
      const holding = (t: string) => held.push(t);
      state.log = holding;
      state.pending = { layerDir, parent, start, done };
      this.background.push(done.catch(() => {}));
      return;
    }
    let id: string;
    try {
      const rec = await images.commit({
        parent: state.imageId,
        layer: made.layer,
        config: state.config,
        createdBy,
        ...(state.author ? { author: state.author } : {}),
        recordParent: true,
      });
      id = rec.id;
      trace.mark(`commit-${step.expanded.kind}`);
    } finally {
      await made.cleanup?.();
      trace.mark('make-cleanup');
    }
    state.imageId = id;
    // Written in the background (the build flushes it at its end): the next step need not wait.
    this.cache.store(key, id).catch(() => {});
    trace.mark('store');
    state.log(` ---> ${short(id)}\n`);
  }

  private async dispatch(state: StageResult, step: ScopedInstruction): Promise<void> {
    const ins = step.expanded;
    const line = ins.location.startLine;
    if (state.pending && !(ins.kind === 'RUN' && this.overlaps(state, ins))) await this.awaitPending(state);
    const cfg = state.config;
    switch (ins.kind) {
      case 'ENV': {
        for (const kv of ins.vars) cfg.Env = setEnv(cfg.Env, kv.key, kv.value);
        const text = `ENV ${ins.vars.map((kv) => `${kv.key}=${kv.value}`).join(' ')}`;
        return this.commitStep(state, step, this.nop(state, text));
      }
      case 'ARG': {
        const text = `ARG ${ins.args.map((a) => (a.default !== undefined ? `${a.name}=${a.default}` : a.name)).join(' ')}`;
        return this.commitStep(state, step, this.nop(state, text));
      }
      case 'LABEL': {
        cfg.Labels = { ...(cfg.Labels ?? {}) };
        for (const kv of ins.labels) cfg.Labels[kv.key] = kv.value;
        const text = `LABEL ${ins.labels.map((kv) => `${kv.key}=${kv.value}`).join(' ')}`;
        return this.commitStep(state, step, this.nop(state, text));
      }
      case 'MAINTAINER':
        state.author = ins.maintainer;
        return this.commitStep(state, step, this.nop(state, `MAINTAINER ${ins.maintainer}`));
      case 'EXPOSE': {
        cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
        const ports: string[] = [];
        for (const spec of ins.ports) {
          const [range = '', proto = 'tcp'] = spec.split('/');
          const [a = '', b] = range.split('-');
          const lo = Number(a);
          const hi = b === undefined ? lo : Number(b);
          if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi < lo || hi > 65535)
            this.fail(line, `invalid port ${spec}`);
          for (let p = lo; p <= hi; p++) {
            cfg.ExposedPorts[`${p}/${proto.toLowerCase()}`] = {};
            ports.push(`${p}/${proto.toLowerCase()}`);
          }
        }
        return this.commitStep(state, step, this.nop(state, `EXPOSE ${ports.join(' ')}`));
      }
      case 'USER':
        cfg.User = ins.user;
        return this.commitStep(state, step, this.nop(state, `USER ${ins.user}`));
      case 'STOPSIGNAL':
        cfg.StopSignal = ins.signal;
        return this.commitStep(state, step, this.nop(state, `STOPSIGNAL ${ins.signal}`));
      case 'VOLUME': {
        cfg.Volumes = { ...(cfg.Volumes ?? {}) };
        for (const p of ins.paths) cfg.Volumes[p] = {};
        return this.commitStep(state, step, this.nop(state, `VOLUME [${ins.paths.join(' ')}]`));
      }
      case 'SHELL':
        cfg.Shell = ins.shell;
        return this.commitStep(state, step, this.nop(state, `SHELL [${ins.shell.join(' ')}]`));
      case 'CMD':
      case 'ENTRYPOINT': {
        const cmd =
          ins.command.form === 'exec' ? ins.command.args : [...this.shellOf(state), ins.command.script];
        if (ins.kind === 'CMD') cfg.Cmd = cmd;
        else {
          cfg.Entrypoint = cmd;
          // ENTRYPOINT resets an inherited CMD (a CMD later in the Dockerfile sets it again).
          if (!state.cmdSet) cfg.Cmd = null;
        }
        if (ins.kind === 'CMD') state.cmdSet = true;
        return this.commitStep(
          state,
          step,
          this.nop(state, `${ins.kind} [${cmd.map((c) => JSON.stringify(c)).join(' ')}]`),
        );
      }
      case 'HEALTHCHECK': {
        if (ins.none) cfg.Healthcheck = { Test: ['NONE'] };
        else {
          cfg.Healthcheck = { Test: ins.test };
          if (ins.intervalNs !== undefined) cfg.Healthcheck.Interval = ins.intervalNs;
          if (ins.timeoutNs !== undefined) cfg.Healthcheck.Timeout = ins.timeoutNs;
          if (ins.startPeriodNs !== undefined) cfg.Healthcheck.StartPeriod = ins.startPeriodNs;
          if (ins.startIntervalNs !== undefined) cfg.Healthcheck.StartInterval = ins.startIntervalNs;
          if (ins.retries !== undefined) cfg.Healthcheck.Retries = ins.retries;
        }
        return this.commitStep(
          state,
          step,
          this.nop(state, `HEALTHCHECK ${JSON.stringify(cfg.Healthcheck)}`),
        );
      }
      case 'ONBUILD':
        cfg.OnBuild = [...(cfg.OnBuild ?? []), ins.trigger];
        return this.commitStep(state, step, this.nop(state, `ONBUILD ${ins.trigger}`));
      case 'WORKDIR':
        return this.workdir(state, step, ins.path);
      case 'RUN':
        return this.run(state, step, ins);
      case 'COPY':
      case 'ADD':
        return this.copy(state, step, ins);
      case 'FROM':
        this.fail(line, 'FROM inside a stage');
    }
  }

  // ---- root filesystem views ----

  /**
   * Mounts a view of an image's root (a throwaway upper). Nothing reads a view after its step; a spawn
   * per unmount costs more than keeping it mounted until the build ends (settle() unmounts them all).
   */
  private async mountView(imageId: string): Promise<string> {
    const images = this.deps.images;
    const base = images.tempDir();
    const target = join(base, 'merged');
    await mkdir(base, { recursive: true });
    try {
      if (!(await this.mountBuildRoot(this.lowersOf(imageId), base, target)))
        await images.mountImage(imageId, join(base, 'upper'), join(base, 'work'), target);
      this.req.trace?.mark('view-mount');
    } catch (err) {
      await rm(base, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
    this.views.push({ target, base });
    return target;
  }

  /**
   * Mounts an image's root at `target` for the build's own use (no container record), lowers top first
   * relative to the layer store's root as its own mounts give them. Unmounting an overlay that has an
   * upper directory syncs the whole filesystem the upper lives on (tens to hundreds of ms on a busy
   * disk), which a build root never needs: a view (`upper` undefined) has no upper at all (lowers-only,
   * read-only; an empty directory at the bottom, as overlay wants two lowers then), and a RUN root's
   * upper is mounted `volatile` (its content is committed from the directory, never from the mount).
   * False when there are no lowers or the options would not fit a page: the caller then mounts the
   * image the usual way. A kernel that refuses `volatile` gets a plain mount.
   */
  private async mountBuildRoot(
    lowers: string[],
    base: string,
    target: string,
    upper?: { upperDir: string; workDir: string },
  ): Promise<boolean> {
    if (lowers.length === 0) return false;
    const dirs = [target];
    let options: string;
    if (upper) {
      options = `lowerdir=${lowers.join(':')},upperdir=${upper.upperDir},workdir=${upper.workDir}`;
      dirs.push(upper.upperDir, upper.workDir);
    } else {
      const empty = join(base, 'empty');
      options = `ro,lowerdir=${[...lowers, empty].join(':')}`;
      dirs.push(empty);
    }
    if (options.length >= 4000) return false;
    await Promise.all(dirs.map((d) => mkdir(d, { recursive: true })));
    const mount = (o: string) =>
      this.deps.mounter.run(
        'mount',
        ['-t', 'overlay', 'overlay', '-o', o, target],
        this.deps.images.layers.root,
      );
    let res = await mount(upper ? `${options},volatile` : options);
    if (res.code !== 0 && upper) res = await mount(options);
    if (res.code !== 0)
      throw new BuildError(`mounting a build root at ${target} failed: ${res.stderr.trim()}`, undefined, 500);
    return true;
  }

  /**
   * The top layer directories of a COPY's parent image (and of its `--from` image) when everything the
   * COPY looks up there is in them: `dest` and its parents real directories of the parent's top layer,
   * each `--from` source (a literal path) a regular file of the source's top layer under real
   * directories. The merged view shows exactly that layer's entries at those paths (a top layer hides
   * nothing of its own), so no view need be mounted. Undefined when it does not hold.
   */
  private topLayerRoots(
    parent: string | null,
    sourceImage: string | null | undefined,
    dest: string,
    sources: string[],
    opts: { plain: boolean },
  ): { parent: string; src?: string } | undefined {
    if (!opts.plain || !parent || sourceImage === null) return undefined;
    const parentDir = this.topLayerDir(parent);
    if (!parentDir || !pathIn(parentDir, dest, 'dir')) return undefined;
    if (sourceImage === undefined) return { parent: parentDir };
    if (sources.some((s) => /[*?[\\]/.test(s))) return undefined;
    const srcDir = this.topLayerDir(sourceImage);
    if (!srcDir || !sources.every((s) => pathIn(srcDir, s, 'file'))) return undefined;
    return { parent: parentDir, src: srcDir };
  }

  private topLayerDir(imageId: string): string | undefined {
    const top = this.deps.images.find(imageId)?.topChainId;
    return top ? this.deps.images.layers.get(top).diffDir : undefined;
  }

  /** Runs `fn` on a view of an image's root (undefined for none). */
  private async withRoot<T>(
    imageId: string | null,
    fn: (root: string | undefined) => Promise<T>,
  ): Promise<T> {
    return fn(imageId ? await this.mountView(imageId) : undefined);
  }

  private absPath(state: StageResult, p: string): string {
    const wd = state.config.WorkingDir || '/';
    const joined = p.startsWith('/') ? p : posix.join(wd, p);
    const norm = posix.normalize(joined);
    return p.endsWith('/') && !norm.endsWith('/') ? `${norm}/` : norm;
  }

  private async workdir(state: StageResult, step: ScopedInstruction, path: string): Promise<void> {
    const dir = posix.normalize(this.absPath(state, path)).replace(/\/$/, '') || '/';
    state.config.WorkingDir = dir;
    // The parent image is in the key, so whether the directory exists is only asked on a miss.
    await this.commitStep(state, step, this.nop(state, `WORKDIR ${dir}`, false), {
      make: () =>
        this.withRoot(state.imageId, async (root) => {
          if (root) {
            try {
              if (statSync(resolveInRoot(root, dir)).isDirectory()) return { layer: null };
            } catch {
              // Missing: created below.
            }
          }
          const layerDir = this.deps.images.tempDir();
          mkdirSync(layerDir, { recursive: true });
          makeParents(layerDir, root, `${dir}/.`);
          mkdirSync(join(layerDir, dir), { recursive: true, mode: 0o755 });
          return {
            layer: { upperDir: layerDir, adopt: true, xattrs: false },
            cleanup: () => rm(layerDir, { recursive: true, force: true }),
          };
        }),
    });
  }

  // ---- COPY / ADD ----

  private async copy(
    state: StageResult,
    step: ScopedInstruction,
    ins: Extract<Instruction, { kind: 'COPY' | 'ADD' }>,
  ): Promise<void> {
    const line = ins.location.startLine;
    const where = { file: this.df.filename, line };
    const verify = ins.kind === 'ADD' && ins.checksum !== undefined ? { checksum: ins.checksum } : {};
    const dest = this.absPath(state, ins.dest);
    const fromRef = ins.from;
    let sourceImage: string | null | undefined;
    let rootName = 'build context';
    if (fromRef !== undefined) {
      const byName = this.graph.all.find((s) => s.name === fromRef.toLowerCase());
      const idx = byName ? byName.index : /^\d+$/.test(fromRef) ? Number(fromRef) : undefined;
      if (idx !== undefined) {
        const r = this.results.get(idx);
        if (!r) this.fail(line, `invalid from flag value ${fromRef}: stage has not been built yet`);
        sourceImage = r.imageId;
        rootName = `stage ${fromRef}`;
      } else {
        const rec = this.deps.images.find(fromRef);
        if (!rec)
          this.fail(line, `invalid from flag value ${fromRef}: No such image or build stage: ${fromRef}`);
        sourceImage = rec.id;
        rootName = `image ${fromRef}`;
      }
    }
    const tempSources: string[] = [];
    const heredocSources: { name: string; content: string }[] = [];
    const sources: string[] = [];
    let urlDir: string | undefined;
    for (const s of ins.sources) {
      if (s.kind === 'heredoc') {
        heredocSources.push({ name: s.heredoc.name, content: s.heredoc.content });
        continue;
      }
      if (/^https?:\/\//.test(s.path)) {
        if (ins.kind !== 'ADD') this.fail(line, `COPY does not accept URLs (${s.path}): use ADD`);
        urlDir ??= this.deps.images.tempDir();
        tempSources.push(s.path);
        continue;
      }
      if (/^git@|\.git(#|$)/.test(s.path) && ins.kind === 'ADD')
        this.fail(line, `ADD of git repositories is not supported by this builder: ${s.path}`);
      sources.push(s.path);
    }
    const cleanups: string[] = [];
    try {
      // Remote and heredoc sources are staged into a private directory and copied from there.
      let extraRoot: string | undefined;
      const extraNames: string[] = [];
      if (tempSources.length > 0 || heredocSources.length > 0) {
        extraRoot = urlDir ?? this.deps.images.tempDir();
        cleanups.push(extraRoot);
        await mkdir(extraRoot, { recursive: true });
        for (const url of tempSources) {
          const signal = this.req.signal ? { signal: this.req.signal } : {};
          extraNames.push(await downloadSource(url, extraRoot, { ...signal, ...verify, where }));
        }
        for (const h of heredocSources) {
          await writeFile(join(extraRoot, h.name), h.content, { mode: 0o644 });
          extraNames.push(h.name);
        }
      }
      const keepOwner = fromRef !== undefined;
      // `hashSources`: whether planCopy checksums the context/stage sources (the context's are summed
      // below from the digests taken while the context arrived).
      const plansFor = async (
        srcRoot: string | undefined,
        destIsDir: boolean,
        hash: boolean,
        hashSources = hash,
      ) => {
        const common = {
          dest,
          destIsDir: destIsDir || sources.length + extraNames.length > 1,
          excludes: ins.excludes,
          unpack: ins.kind === 'ADD' && ins.unpack !== false,
          hash,
          parents: ins.parents,
          ...verify,
          location: where,
        };
        const plans: CopyPlan[] = [];
        if (srcRoot !== undefined && sources.length > 0)
          plans.push(
            await planCopy({
              ...common,
              root: srcRoot,
              sources,
              keepOwner,
              rootName,
              hash: hashSources,
              ...(fromRef === undefined ? { ignore: this.ignore } : {}),
            }),
          );
        if (extraRoot && extraNames.length > 0)
          plans.push(
            await planCopy({
              ...common,
              root: extraRoot,
              sources: extraNames,
              keepOwner: false,
              unpack: false,
              rootName: 'download',
            }),
          );
        return plans;
      };
      // The cache key: context sources are checksummed; an image's (or stage's) content is fixed by its
      // ID, so `--from` sources are keyed by it and need no mount on a cache hit.
      let checksum: string;
      let label: string;
      if (sourceImage !== undefined) {
        const extra = await plansFor(undefined, false, true);
        checksum = sha256(
          JSON.stringify({
            sourceImage,
            sources,
            excludes: ins.excludes,
            extra: extra.map((p) => p.checksum),
          }),
        ).replace(/^sha256:/, '');
        label = sources.length + extraNames.length > 1 ? 'multi' : 'file';
      } else {
        const plans = await plansFor(this.req.contextDir, false, true, false);
        const sums: string[] = [];
        for (const [k, p] of plans.entries())
          sums.push(k === 0 && sources.length > 0 ? await this.contextChecksum(p) : p.checksum);
        checksum = sums.join(',');
        label =
          plans.length === 1 && plans[0]!.label === 'file' ? 'file' : plans.length > 1 ? 'multi' : 'dir';
      }
      const createdBy = this.nop(state, `${ins.kind} ${label}:${checksum.slice(0, 64)} in ${dest} `, false);
      this.req.trace?.mark('copy-key');
      // `strict`: parentRoot is only the image's top layer (see topLayerDir); undefined (nothing written)
      // when the plan would look up a parent directory there that is neither `dest` nor one of its
      // parents nor made by the plan itself.
      const write = async (srcRoot: string | undefined, parentRoot: string | undefined, strict = false) => {
        let destIsDir = false;
        if (parentRoot) {
          try {
            destIsDir = statSync(resolveInRoot(parentRoot, dest)).isDirectory();
          } catch {
            destIsDir = false;
          }
        }
        const plans = await plansFor(srcRoot, destIsDir, false);
        this.req.trace?.mark('copy-plan');
        if (strict && !plans.every((p) => parentsKnown(p, dest))) return undefined;
        const owner = ins.chown ? resolveOwner(ins.chown, parentRoot) : undefined;
        const layerDir = this.deps.images.tempDir();
        await mkdir(layerDir, { recursive: true });
        const made = { paths: new Set<string>(), exact: true };
        for (const plan of plans)
          await writeCopy(plan, {
            made,
            layerDir,
            parentRoot,
            keepOwner,
            ...(owner ? { owner } : {}),
            ...(ins.chmod ? { chmod: ins.chmod } : {}),
            link: srcRoot === this.req.contextDir,
          });
        this.req.trace?.mark('copy-write');
        return {
          // Made here: the store takes the directory as it is (ADD may unpack archives with xattrs).
          layer: { upperDir: layerDir, adopt: true, xattrs: ins.kind === 'ADD' },
          cleanup: () => rm(layerDir, { recursive: true, force: true }),
        };
      };
      await this.commitStep(state, step, createdBy, {
        contentChecksum: checksum,
        extra: `chown=${ins.chown ?? ''};chmod=${ins.chmodRaw ?? ''};parents=${ins.parents}`,
        make: async () => {
          // What a plain COPY reads of the images is often all in their top layers: no views then.
          const fast = this.topLayerRoots(state.imageId, sourceImage, dest, sources, {
            plain: ins.kind === 'COPY' && !ins.chown && !ins.parents && extraRoot === undefined,
          });
          if (fast) {
            const made = await write(fast.src ?? this.req.contextDir, fast.parent, true);
            if (made) return made;
          }
          const writeAll = async (srcRoot: string | undefined, parentRoot: string | undefined) =>
            (await write(srcRoot, parentRoot))!;
          // Both views of a COPY --from are mounted at once.
          if (sourceImage && state.imageId) {
            // Both settle before a failure is thrown: the build's end unmounts whichever did mount.
            const [parentRoot, root] = await Promise.allSettled([
              this.mountView(state.imageId),
              this.mountView(sourceImage),
            ]);
            if (parentRoot.status === 'rejected') throw parentRoot.reason;
            if (root.status === 'rejected') throw root.reason;
            return writeAll(root.value, parentRoot.value);
          }
          return this.withRoot(state.imageId, async (parentRoot) => {
            if (sourceImage === undefined) return writeAll(this.req.contextDir, parentRoot);
            if (sourceImage === null) {
              const empty = this.deps.images.tempDir();
              cleanups.push(empty);
              await mkdir(empty, { recursive: true });
              return writeAll(empty, parentRoot);
            }
            return writeAll(await this.mountView(sourceImage), parentRoot);
          });
        },
      });
    } catch (err) {
      if (err instanceof BerthError && !(err instanceof DockerfileError) && /COPY failed/.test(err.message))
        throw new BuildError(err.message.replace(/^COPY/, ins.kind));
      throw err;
    } finally {
      for (const c of cleanups) await rm(c, { recursive: true, force: true }).catch(() => {});
    }
  }

  /**
   * The content key of context sources: paths, modes and contents, the contents' digests taken from the
   * received context when it still holds the received file (else the file is read and hashed).
   */
  private async contextChecksum(plan: CopyPlan): Promise<string> {
    const root = this.req.contextDir;
    const h = createHash('sha256');
    h.update('ctx-v2\n');
    for (const op of plan.ops) {
      const st = op.stats;
      const rel = op.host.slice(root.length).replace(/^\/+/, '');
      h.update(`${op.kind}\u0000${rel}\u0000${st.mode.toString(8)}\u00000:0\u0000`);
      if (op.kind === 'file' || op.kind === 'extract')
        h.update(this.req.context?.digestOf(rel, st) ?? (await hashFile(op.host)));
      else if (op.kind === 'symlink') h.update(readlinkSync(op.host));
      h.update('\n');
    }
    return h.digest('hex');
  }

  // ---- RUN ----

  private async run(state: StageResult, step: ScopedInstruction, ins: RunInstruction): Promise<void> {
    const line = ins.location.startLine;
    const shell = this.shellOf(state);
    let cmd: string[];
    if (ins.command.form === 'exec') cmd = ins.command.args;
    else {
      let script = ins.command.script;
      const only = /^<<-?(["']?)([A-Za-z0-9_]+)\1$/.exec(script.trim());
      if (only && ins.heredocs.length === 1) script = ins.heredocs[0]!.content;
      else if (ins.heredocs.length > 0)
        script = `${script}\n${ins.heredocs.map((h) => `${h.content}${h.name}`).join('\n')}`;
      cmd = [...shell, script];
    }
    const args = this.argsInEffect(state, step);
    const createdBy = `${args.length > 0 ? `|${args.length} ${args.join(' ')} ` : ''}${cmd.join(' ')}`;
    const network = ins.network ?? (this.req.networkMode || 'default');
    const mounts = ins.mounts.map((m) => ({ ...m }));
    const extra = `net=${network};mounts=${JSON.stringify(mounts.map((m) => ({ ...m, env: undefined })))}`;
    const pending = state.pending;
    if (pending) {
      // The previous COPY/ADD is still being committed: this RUN runs on its layer directory meanwhile.
      state.pending = undefined;
      const env = [...step.env].map(([k, v]) => `${k}=${v}`);
      const lowers = [pending.layerDir, ...this.lowersOf(pending.parent)];
      const running = this.runDirect(
        state,
        cmd,
        env,
        network === 'host' ? 'host' : 'none',
        [],
        async () => {},
        { lowers, started: pending.start },
      );
      running.then(pending.start, pending.start);
      let parentId: string;
      try {
        parentId = await pending.done;
      } catch (err) {
        // The COPY failed: this RUN is no part of the build; its root goes with the build's views.
        await running.then(
          async (r) => {
            const log = state.log;
            state.log = () => {};
            await r.cleanup().finally(() => {
              state.log = log;
            });
          },
          () => {},
        );
        throw err;
      }
      state.imageId = parentId;
      await this.commitStep(state, step, createdBy, { extra, fresh: true, make: () => running });
      return;
    }
    await this.commitStep(state, step, createdBy, {
      extra,
      make: async () => {
        if (!state.imageId) {
          // RUN on scratch: the container needs an image to start from.
          state.imageId = (
            await this.deps.images.commit({ parent: null, layer: null, config: state.config })
          ).id;
        }
        return this.runContainer(state, step, cmd, network, mounts, line);
      },
    });
  }

  private async runContainer(
    state: StageResult,
    step: ScopedInstruction,
    cmd: string[],
    network: string,
    mounts: RunInstruction['mounts'],
    line: number,
  ): Promise<{ layer: { upperDir: string }; cleanup: () => Promise<void> }> {
    const c = this.deps.containers;
    const binds: string[] = [];
    const tmpfs: Record<string, string> = {};
    const env = [...step.env].map(([k, v]) => `${k}=${v}`);
    const secretFiles: string[] = [];
    const mountCleanups: (() => Promise<void>)[] = [];
    const cleanupMounts = async () => {
      for (const f of mountCleanups) await f();
      for (const f of secretFiles) await rm(f, { recursive: true, force: true }).catch(() => {});
    };
    // A mount that fails to set up releases the ones set up before it.
    try {
      for (const m of mounts) {
        const target = m.target ? this.absPath(state, m.target) : undefined;
        if (m.type === 'cache') {
          if (!target) this.fail(line, 'RUN --mount=type=cache needs a target');
          const dir = this.cacheMountDir(m.id ?? target);
          mkdirSync(dir, { recursive: true });
          binds.push(`${dir}:${target}`);
        } else if (m.type === 'tmpfs') {
          if (!target) this.fail(line, 'RUN --mount=type=tmpfs needs a target');
          tmpfs[target] = m.size ? `size=${m.size}` : '';
        } else if (m.type === 'secret') {
          const id = m.id ?? (m.target ? basename(m.target) : '');
          const value = this.req.secrets?.[id];
          if (value === undefined) {
            if (m.required) this.fail(line, `secret ${id} not found`);
            continue;
          }
          if (m.env) env.push(`${m.env}=${value}`);
          if (!m.env || m.target) {
            const file = join(this.deps.images.tempDir());
            await mkdir(file, { recursive: true, mode: 0o700 });
            await writeFile(join(file, 'secret'), value, { mode: m.mode ?? 0o400 });
            secretFiles.push(file);
            binds.push(`${join(file, 'secret')}:${target ?? `/run/secrets/${id}`}:ro`);
          }
        } else if (m.type === 'bind') {
          if (!target) this.fail(line, 'RUN --mount=type=bind needs a target');
          const src = posix.normalize(`/${m.source ?? '/'}`);
          if (m.from !== undefined) {
            const rs = this.graph.all.find((s) => s.name === m.from!.toLowerCase());
            const idx = rs ? rs.index : /^\d+$/.test(m.from) ? Number(m.from) : undefined;
            const imageId =
              idx !== undefined ? this.results.get(idx)?.imageId : this.deps.images.find(m.from)?.id;
            if (!imageId) this.fail(line, `RUN --mount from=${m.from}: no such stage or image`);
            const base = this.deps.images.tempDir();
            const root = join(base, 'merged');
            await this.deps.images.mountImage(imageId, join(base, 'upper'), join(base, 'work'), root);
            mountCleanups.push(async () => {
              await this.deps.images.layers.unmount(root).catch(() => {});
              await rm(base, { recursive: true, force: true }).catch(() => {});
            });
            const host = bindMountSource(root, src, { file: this.df.filename, line }, `stage ${m.from}`);
            binds.push(`${host}:${target}${m.readonly ? ':ro' : ''}`);
          } else {
            const where = { file: this.df.filename, line };
            let host = bindMountSource(this.req.contextDir, src, where, 'build context');
            // As BuildKit, what a RUN writes to a writable bind is discarded: it gets a scratch copy, so the
            // kept context, later steps and the layers hard-linked from the context never see the writes.
            if (!m.readonly) {
              const scratch = this.deps.images.tempDir();
              await mkdir(scratch, { recursive: true });
              mountCleanups.push(() => rm(scratch, { recursive: true, force: true }).catch(() => {}));
              const copy = join(scratch, 'copy');
              const r = await run('cp', ['-a', '--reflink=auto', host, copy]);
              if (r.code !== 0)
                this.fail(line, `RUN --mount=type=bind,rw: copying ${src}: ${r.stderr.trim()}`);
              host = copy;
            }
            binds.push(`${host}:${target}${m.readonly ? ':ro' : ''}`);
          }
        } else if (m.type === 'ssh') {
          const where = { file: this.df.filename, line };
          const r = sshMountBind(m, target ?? '/run/buildkit/ssh_agent.0', this.req.ssh, where);
          if (r.bind) binds.push(r.bind);
          if (!env.some((e) => e.startsWith('SSH_AUTH_SOCK='))) env.push(`SSH_AUTH_SOCK=${r.target}`);
        } else {
          this.fail(line, `RUN --mount=type=${m.type} is not supported by this builder`);
        }
      }
    } catch (err) {
      await cleanupMounts();
      throw err;
    }
    const networkMode = network === 'default' ? 'bridge' : network;
    // Without a bridge network to join, tmpfs, image volumes or a container to keep, the step runs on
    // the OCI runtime directly: no conmon, no container record.
    const direct =
      (networkMode === 'none' || networkMode === 'host') &&
      Object.keys(tmpfs).length === 0 &&
      Object.keys(state.config.Volumes ?? {}).length === 0 &&
      this.req.rm !== false;
    if (direct) {
      try {
        return await this.runDirect(state, cmd, env, networkMode, binds, cleanupMounts);
      } catch (err) {
        await cleanupMounts();
        throw err;
      }
    }
    let id: string | undefined;
    try {
      const created = await c.create({
        Image: state.imageId!,
        Cmd: cmd,
        Entrypoint: [],
        Env: env,
        WorkingDir: state.config.WorkingDir ?? '',
        User: state.config.User ?? '',
        Labels: { [BUILD_CONTAINER_LABEL]: 'true' },
        Healthcheck: { Test: ['NONE'] },
        HostConfig: {
          NetworkMode: networkMode,
          Binds: binds,
          ...(Object.keys(tmpfs).length > 0 ? { Tmpfs: tmpfs } : {}),
        },
      } as Parameters<ContainerService['create']>[0]);
      id = created.Id;
      state.log(` ---> Running in ${short(id)}\n`);
      const rec = c.get(id);
      const exited = c.wait(id, 'next-exit');
      await c.start(id);
      for await (const entry of readLogs(containerPaths(c.dir(rec)).log, { follow: true, exited })) {
        state.log(entry.line);
      }
      const { StatusCode } = await exited;
      if (StatusCode !== 0) {
        const text = cmd.join(' ');
        throw new BuildError(`The command '${text}' returned a non-zero code: ${StatusCode}`, StatusCode);
      }
      const upper = c.upperDir(rec);
      scrubMountPoints(upper, [...binds.map((b) => b.split(':')[1]!), ...Object.keys(tmpfs)]);
      const containerId = id;
      return {
        layer: { upperDir: upper },
        // Runs after the commit: removing the container is off the critical path (the build waits for
        // it at its end).
        cleanup: async () => {
          const remove = this.req.rm !== false || this.req.forceRm;
          this.defer(async () => {
            await cleanupMounts();
            if (remove) await c.remove(containerId, { force: true, volumes: true });
          });
          if (remove) state.log(` ---> Removed intermediate container ${short(containerId)}\n`);
        },
      };
    } catch (err) {
      await cleanupMounts();
      if (id && (this.req.forceRm || this.req.rm !== false))
        await c.remove(id, { force: true, volumes: true }).catch(() => {});
      throw err;
    }
  }

  /**
   * Runs a RUN step with `runc run` in the foreground (output through pipes) on an overlay of the
   * image; the overlay's upper directory is the step's layer. Mounts are released by the caller on a
   * throw, by the returned clean-up otherwise.
   */
  private async runDirect(
    state: StageResult,
    cmd: string[],
    env: string[],
    networkMode: 'none' | 'host',
    binds: string[],
    cleanupMounts: () => Promise<void>,
    /** The root's lowers when they are not the image's (a COPY's layer still being committed on top). */
    on?: { lowers: string[]; started: () => void },
  ): Promise<{ layer: { upperDir: string }; cleanup: () => Promise<void> }> {
    const images = this.deps.images;
    const id = randomId();
    const base = images.tempDir();
    const rootfs = join(base, 'merged');
    const upper = join(base, 'upper');
    const etc = join(base, 'etc');
    let mounted = false;
    const release = async () => {
      if (mounted) await images.layers.unmount(rootfs).catch(() => {});
      await rm(base, { recursive: true, force: true }).catch(() => {});
    };
    try {
      await mkdir(etc, { recursive: true });
      const work = join(base, 'work');
      const lowers = on?.lowers ?? this.lowersOf(state.imageId);
      if (!(await this.mountBuildRoot(lowers, base, rootfs, { upperDir: upper, workDir: work }))) {
        if (on) throw new BuildError(`the root of a RUN at ${rootfs} has too many layers`, undefined, 500);
        await images.mountImage(state.imageId!, upper, work, rootfs);
      }
      mounted = true;
      this.req.trace?.mark('run-mount');
      state.log(` ---> Running in ${short(id)}\n`);
      const hostNet = networkMode === 'host';
      const hostname = hostNet ? hostHostname() : id.slice(0, 12);
      const files = {
        hosts: join(etc, 'hosts'),
        resolvConf: join(etc, 'resolv.conf'),
        hostname: join(etc, 'hostname'),
      };
      await Promise.all([
        writeFile(files.hostname, `${hostname}\n`),
        writeFile(
          files.hosts,
          hostNet ? await readFile('/etc/hosts', 'utf8').catch(() => LOCAL_HOSTS) : `${LOCAL_HOSTS}`,
        ),
        writeFile(files.resolvConf, await readFile('/etc/resolv.conf', 'utf8').catch(() => '')),
      ]);
      const config = mergeConfig(
        state.config as Parameters<typeof mergeConfig>[0],
        {
          Cmd: cmd,
          Entrypoint: [],
          Env: env,
          WorkingDir: state.config.WorkingDir ?? '',
          User: state.config.User ?? '',
          Hostname: hostname,
        } as Parameters<typeof mergeConfig>[1],
      );
      const mounts: ResolvedMount[] = binds.map((b) => {
        const [source, destination, mode] = b.split(':') as [string, string, string | undefined];
        return { type: 'bind', source, destination, options: ['rbind', ...(mode === 'ro' ? ['ro'] : [])] };
      });
      const spec = generateSpec({
        id,
        rootfs,
        config,
        mounts,
        etc: files,
        ...(hostNet ? { netns: 'host' } : {}),
      });
      this.req.trace?.mark('run-prep');
      const running = runToCompletion(this.deps.runtime, {
        id,
        bundle: base,
        spec,
        onOutput: (text) => state.log(text),
        ...(this.req.signal ? { signal: this.req.signal } : {}),
      });
      // The overlapped commit (whose tar and gzip keep this thread busy) starts once the runtime is on
      // its way, not before.
      if (on) setImmediate(on.started);
      const code = await running;
      this.req.trace?.mark('run-runc');
      if (code !== 0) {
        throw new BuildError(`The command '${cmd.join(' ')}' returned a non-zero code: ${code}`, code);
      }
      scrubMountPoints(
        upper,
        binds.map((b) => b.split(':')[1]!),
      );
    } catch (err) {
      await release();
      throw err;
    }
    return {
      layer: { upperDir: upper },
      cleanup: async () => {
        this.defer(cleanupMounts);
        // Unmounted with the image views, in the one umount at the end of the build.
        this.views.push({ target: rootfs, base });
        state.log(` ---> Removed intermediate container ${short(id)}\n`);
      },
    };
  }

  private cacheMountDir(id: string): string {
    return this.cache.mountDir(id);
  }
}

/** Whether `path` (absolute in the image) is a `kind` in `dir`, every parent a real directory. */
function pathIn(dir: string, path: string, kind: 'dir' | 'file'): boolean {
  const parts = posix.normalize(`/${path}`).split('/').filter(Boolean);
  let cur = dir;
  for (const [i, part] of parts.entries()) {
    cur = `${cur}/${part}`;
    const st = lstatSync(cur, { throwIfNoEntry: false });
    if (!st) return false;
    const last = i === parts.length - 1;
    if (last && kind === 'file' ? !st.isFile() : !st.isDirectory()) return false;
  }
  return true;
}

/**
 * Whether every directory a plan's writes look up in the parent image (the parents of each op's
 * destination) is `dest`, one of its parents, or a directory an earlier op of the plan makes.
 */
function parentsKnown(plan: CopyPlan, dest: string): boolean {
  const known = new Set<string>(['/']);
  for (let d = posix.normalize(`/${dest}`).replace(/\/+$/, '') || '/'; d !== '/'; d = posix.dirname(d))
    known.add(d);
  for (const op of plan.ops) {
    if (!known.has(posix.dirname(op.dest))) return false;
    if (op.kind === 'dir') known.add(op.dest.replace(/\/+$/, '') || '/');
  }
  return true;
}

/**
 * Empty files and directories the runtime created as mount points (resolv.conf, hosts, RUN --mount
 * targets and their new parents) are not part of the step's layer.
 */
function scrubMountPoints(upper: string, targets: string[]): void {
  const paths = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/.dockerenv', ...targets];
  for (const p of paths) {
    let rel = posix.normalize(p).replace(/^\/+/, '');
    while (rel !== '' && rel !== '.') {
      const abs = join(upper, rel);
      try {
        const st = statSync(abs);
        if (st.isFile() && st.size === 0) rmSync(abs);
        else if (st.isDirectory() && readdirSync(abs).length === 0) rmSync(abs, { recursive: true });
        else break;
      } catch {
        // Not in the upper dir: nothing above it was created for it either... unless it was; go on.
      }
      rel = posix.dirname(rel);
    }
  }
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}
