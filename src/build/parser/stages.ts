// The stage graph: which stages a target needs, in which order, and which can build together.
import { DockerfileError, InstructionError } from './errors.js';
import { platformArgs, type ScopedInstruction, walkStage } from './expand.js';
import { expandDetailed, ShellExpansionError } from './shell.js';
import type { Dockerfile, Stage } from './types.js';

export interface ResolveOptions {
  /** Stage name (or index as a string) to build; default: the last stage. */
  target?: string;
  buildArgs?: Readonly<Record<string, string>>;
  /** `os/arch[/variant]`; default the host's. */
  buildPlatform?: string;
  targetPlatform?: string;
}

/** Why one stage needs another. */
export interface StageDependency {
  stage: number;
  via: 'from' | 'copy' | 'mount';
  line: number;
}

export interface ResolvedStage {
  index: number;
  name?: string;
  /** FROM after substitution with the meta args: an image reference, or a stage name/`scratch`. */
  base: string;
  /** Set when FROM names an earlier stage. */
  baseStage?: number;
  /** `--platform` after substitution. */
  platform?: string;
  dependsOn: StageDependency[];
  /** Images used by `COPY --from=<image>` / `RUN --mount=from=<image>` in this stage. */
  externalImages: string[];
  stage: Stage;
  /**
   * The stage's instructions expanded in their scope as far as the Dockerfile alone tells (meta
   * args, build args, a parent stage's ARG/ENV; not the base image's Env, which the executor adds
   * by walking again with walkStage({ baseEnv: imageEnv, baseArgs: parent.finalArgs, … })).
   */
  steps: ScopedInstruction[];
  /** ARGs and ENV in scope at the end of the stage (what a `FROM <this stage>` inherits). */
  finalArgs: Map<string, string>;
  finalEnv: Map<string, string>;
}

export interface StageGraph {
  /** Index of the target stage. */
  target: number;
  /** Meta args (ARG before FROM) after --build-arg overrides, plus the platform args. */
  metaArgs: Map<string, string | undefined>;
  /** Every stage, resolved (indexed by stage index). */
  all: ResolvedStage[];
  /** Stage indexes the target needs (target included), dependencies first. */
  order: number[];
  /** The same stages grouped into waves: every stage of a wave depends only on earlier waves. */
  groups: number[][];
}

/** Meta-arg values: --build-arg overrides a declared ARG; defaults may refer to earlier meta args. */
export function resolveMetaArgs(
  df: Dockerfile,
  buildArgs: Readonly<Record<string, string>> = {},
  platforms: Map<string, string> = platformArgs(),
): Map<string, string | undefined> {
  const values = new Map<string, string | undefined>(platforms);
  for (const instr of df.metaArgs) {
    for (const a of instr.args) {
      let v: string | undefined;
      if (Object.hasOwn(buildArgs, a.name)) v = buildArgs[a.name];
      else if (a.default !== undefined) {
        try {
          v = expandDetailed(a.default, (n) => values.get(n), { escapeChar: df.directives.escape }).value;
        } catch (err) {
          if (err instanceof ShellExpansionError)
            throw new DockerfileError(df.filename, instr.location.startLine, err.message);
          throw err;
        }
      }
      values.set(a.name, v);
    }
  }
  return values;
}

export function resolveStages(df: Dockerfile, options: ResolveOptions = {}): StageGraph {
  const file = df.filename;
  const metaArgs = resolveMetaArgs(
    df,
    options.buildArgs,
    platformArgs(options.buildPlatform, options.targetPlatform),
  );
  const esc = df.directives.escape;
  const byName = new Map<string, number>();
  for (const s of df.stages) if (s.name !== undefined && !byName.has(s.name)) byName.set(s.name, s.index);

  const expandMeta = (word: string, line: number): string => {
    try {
      return expandDetailed(word, (n) => metaArgs.get(n), { escapeChar: esc }).value;
    } catch (err) {
      if (err instanceof ShellExpansionError) throw new DockerfileError(file, line, err.message);
      throw err;
    }
  };

  const all: ResolvedStage[] = [];
  const finalEnv: Map<string, string>[] = [];
  const finalArgs: Map<string, string>[] = [];
  for (const stage of df.stages) {
    const line = stage.from.location.startLine;
    const base = expandMeta(stage.base, line);
    if (base === '') throw new DockerfileError(file, line, `base name (${stage.base}) should not be blank`);
    const r: ResolvedStage = {
      index: stage.index,
      base,
      dependsOn: [],
      externalImages: [],
      stage,
      steps: [],
      finalArgs: new Map(),
      finalEnv: new Map(),
    };
    if (stage.name !== undefined) r.name = stage.name;
    if (stage.platform !== undefined) r.platform = expandMeta(stage.platform, line);
    const parent = byName.get(base.toLowerCase());
    if (parent !== undefined && parent < stage.index) {
      r.baseStage = parent;
      r.dependsOn.push({ stage: parent, via: 'from', line });
    }
    // A stage's --from values may use its ARG/ENV; walk it to see them expanded.
    let steps: ReturnType<typeof walkStage>;
    try {
      steps = walkStage(stage, {
        metaArgs,
        buildArgs: options.buildArgs,
        baseEnv: r.baseStage !== undefined ? finalEnv[r.baseStage] : undefined,
        baseArgs: r.baseStage !== undefined ? finalArgs[r.baseStage] : undefined,
        escapeChar: esc,
      });
    } catch (err) {
      if (err instanceof InstructionError) throw new DockerfileError(file, err.line ?? line, err.message);
      throw err;
    }
    finalEnv.push(steps.env);
    finalArgs.push(steps.args);
    r.steps = steps.steps;
    r.finalArgs = steps.args;
    r.finalEnv = steps.env;
    // ONBUILD triggers of a parent stage run at the start of this one (not in grandchildren).
    const triggers =
      r.baseStage !== undefined
        ? df.stages[r.baseStage]!.instructions.flatMap((i) =>
            i.kind === 'ONBUILD' ? [{ instr: i.instruction, line }] : [],
          )
        : [];
    const own = steps.steps.map((s) => ({ instr: s.expanded, line: s.expanded.location.startLine }));
    for (const { instr: e, line: refLine } of [...triggers, ...own]) {
      const refs: { from: string; via: 'copy' | 'mount' }[] = [];
      if (e.kind === 'COPY' && e.from !== undefined) refs.push({ from: e.from, via: 'copy' });
      if (e.kind === 'RUN')
        for (const m of e.mounts) if (m.from !== undefined) refs.push({ from: m.from, via: 'mount' });
      for (const ref of refs) {
        const named = byName.get(ref.from.toLowerCase());
        if (named !== undefined) {
          r.dependsOn.push({ stage: named, via: ref.via, line: refLine });
        } else if (/^\d+$/.test(ref.from)) {
          const idx = Number(ref.from);
          if (idx >= df.stages.length)
            throw new DockerfileError(
              file,
              refLine,
              `invalid from flag value ${ref.from}: stage index out of range (${df.stages.length} stages)`,
            );
          r.dependsOn.push({ stage: idx, via: ref.via, line: refLine });
        } else if (!r.externalImages.includes(ref.from)) {
          r.externalImages.push(ref.from);
        }
      }
    }
    all.push(r);
  }

  let target = df.stages.length - 1;
  if (options.target !== undefined && options.target !== '') {
    const t = options.target.toLowerCase();
    const idx = byName.get(t) ?? (/^\d+$/.test(t) && Number(t) < df.stages.length ? Number(t) : undefined);
    if (idx === undefined) {
      throw new DockerfileError(file, 1, `target stage "${options.target}" could not be found`);
    }
    target = idx;
  }

  // Depth-first from the target: post-order gives dependencies first; a grey node seen again is a cycle.
  const state = new Map<number, 'visiting' | 'done'>();
  const visited: number[] = [];
  const level = new Map<number, number>();
  const label = (i: number) => df.stages[i]!.name ?? `stage-${i}`;
  const visit = (i: number, path: number[]) => {
    const st = state.get(i);
    if (st === 'done') return;
    if (st === 'visiting') {
      const cycle = [...path.slice(path.indexOf(i)), i].map(label).join(' -> ');
      const from = path[path.length - 1]!;
      const edge = all[from]!.dependsOn.find((d) => d.stage === i)!;
      throw new DockerfileError(
        file,
        edge.line,
        `circular dependency detected on stage: ${label(i)} (${cycle})`,
      );
    }
    state.set(i, 'visiting');
    let lv = 0;
    for (const dep of all[i]!.dependsOn) {
      visit(dep.stage, [...path, i]);
      lv = Math.max(lv, level.get(dep.stage)! + 1);
    }
    level.set(i, lv);
    state.set(i, 'done');
    visited.push(i);
  };
  // Like BuildKit, a cycle anywhere in the file is an error, even outside the target's needs.
  for (let i = 0; i < all.length; i++) visit(i, []);
  const needed = new Set<number>();
  const mark = (i: number) => {
    if (needed.has(i)) return;
    needed.add(i);
    for (const d of all[i]!.dependsOn) mark(d.stage);
  };
  mark(target);
  const order = visited.filter((i) => needed.has(i));
  const groups: number[][] = [];
  for (const i of order) (groups[level.get(i)!] ??= []).push(i);
  for (const g of groups) g.sort((a, b) => a - b);
  return { target, metaArgs, all, order, groups };
}
