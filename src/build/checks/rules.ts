// Build checks: Docker's rules (same ids and wording where Docker has one) plus berth's
// best-practice rules. Each rule reads the parsed Dockerfile and reports lines.
import type { IgnoreMatcher } from '../context/index.js';
import {
  type Dockerfile,
  expandDetailed,
  type Instruction,
  resolveMetaArgs,
  type Stage,
  suggestName,
  walkStage,
} from '../parser/index.js';

export interface CheckContext {
  dockerfile: Dockerfile;
  /** Whether the context has a .dockerignore (for CopyWholeContextWithoutDockerignore). */
  hasDockerignore: boolean;
  /** The context's ignore rules, for CopyIgnoredFile. */
  ignore?: IgnoreMatcher;
  buildArgs: Readonly<Record<string, string>>;
  /** Index of the stage being built (the image's final stage). */
  target: number;
}

export interface Finding {
  message: string;
  line: number;
}

export interface CheckRule {
  id: string;
  /** `docker` for Docker's build checks, `berth` for ours. */
  origin: 'docker' | 'berth';
  description: string;
  run(ctx: CheckContext): Finding[];
}

function* allInstructions(df: Dockerfile): Generator<{ stage: Stage; instr: Instruction }> {
  for (const stage of df.stages) for (const instr of stage.instructions) yield { stage, instr };
}

const line = (i: Instruction) => i.location.startLine;
const isUpper = (s: string) => s === s.toUpperCase();
const isLower = (s: string) => s === s.toLowerCase();

/** The stage's name as written (BuildKit lower-cases it; the casing check needs the original). */
function writtenStageName(stage: Stage): string | undefined {
  if (stage.name === undefined) return undefined;
  const words = stage.from.original.trim().split(/\s+/);
  return words[words.length - 1];
}

const SECRET_RE =
  /(?:^|_)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const SECRET_ALLOW = /(?:^|_)(?:public)(?:_|$)/i;

/** Variables a base image or the shell commonly provides; not reported as undefined. */
const WELL_KNOWN_ENV = new Set([
  'PATH',
  'HOME',
  'HOSTNAME',
  'TERM',
  'LANG',
  'PWD',
  'USER',
  'SHELL',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'FTP_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'ftp_proxy',
  'no_proxy',
  'all_proxy',
]);

function stageChain(df: Dockerfile, index: number): Stage[] {
  // The stage and the stages it is built FROM (by name), nearest first.
  const chain: Stage[] = [];
  let cur: Stage | undefined = df.stages[index];
  while (cur && !chain.includes(cur)) {
    chain.push(cur);
    const base = cur.base.toLowerCase();
    cur = df.stages.find((s) => s.index < cur!.index && s.name === base);
  }
  return chain;
}

export const CHECK_RULES: readonly CheckRule[] = [
  {
    id: 'StageNameCasing',
    origin: 'docker',
    description: 'Stage names should be lowercase',
    run: ({ dockerfile }) =>
      dockerfile.stages.flatMap((s) => {
        const n = writtenStageName(s);
        return n !== undefined && !isLower(n)
          ? [{ message: `Stage name '${n}' should be lowercase`, line: line(s.from) }]
          : [];
      }),
  },
  {
    id: 'FromAsCasing',
    origin: 'docker',
    description: "The 'as' keyword should match the case of the 'from' keyword",
    run: ({ dockerfile }) =>
      dockerfile.stages.flatMap((s) => {
        const as = s.from.asKeyword;
        if (as === undefined) return [];
        const kw = s.from.keyword;
        const bad = (isUpper(kw) && !isUpper(as)) || (isLower(kw) && !isLower(as));
        return bad
          ? [{ message: `'${as}' and '${kw}' keywords' casing do not match`, line: line(s.from) }]
          : [];
      }),
  },
  {
    id: 'NoEmptyContinuation',
    origin: 'docker',
    description: 'Empty continuation lines will become errors in a future release',
    run: ({ dockerfile }) =>
      dockerfile.warnings
        .filter((w) => w.rule === 'NoEmptyContinuation')
        .map((w) => ({ message: 'Empty continuation line', line: w.line })),
  },
  {
    id: 'ConsistentInstructionCasing',
    origin: 'docker',
    description: 'All commands within the Dockerfile should use the same casing (either upper or lower)',
    run: ({ dockerfile }) => {
      const all: Instruction[] = [...dockerfile.metaArgs];
      for (const s of dockerfile.stages) all.push(s.from, ...s.instructions);
      const upper = all.filter((i) => isUpper(i.keyword)).length;
      const lower = all.filter((i) => isLower(i.keyword)).length;
      const want = upper >= lower ? 'uppercase' : 'lowercase';
      return all
        .filter((i) => (want === 'uppercase' ? !isUpper(i.keyword) : !isLower(i.keyword)))
        .map((i) => ({
          message: `Command '${i.keyword}' should match the case of the command majority (${want})`,
          line: line(i),
        }));
    },
  },
  {
    id: 'DuplicateStageName',
    origin: 'docker',
    description: 'Stage names should be unique',
    run: ({ dockerfile }) => {
      const seen = new Set<string>();
      const out: Finding[] = [];
      for (const s of dockerfile.stages) {
        if (s.name === undefined) continue;
        if (seen.has(s.name))
          out.push({
            message: `Duplicate stage name "${s.name}", stage names should be unique`,
            line: line(s.from),
          });
        seen.add(s.name);
      }
      return out;
    },
  },
  {
    id: 'ReservedStageName',
    origin: 'docker',
    description: 'Reserved words should not be used as stage names',
    run: ({ dockerfile }) =>
      dockerfile.stages.flatMap((s) =>
        s.name === 'scratch' || s.name === 'context'
          ? [
              {
                message: `Stage name should not use the same name as reserved stage "${s.name}"`,
                line: line(s.from),
              },
            ]
          : [],
      ),
  },
  {
    id: 'JSONArgsRecommended',
    origin: 'docker',
    description:
      'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals',
    run: ({ dockerfile }) => {
      const out: Finding[] = [];
      for (const { instr } of allInstructions(dockerfile))
        if ((instr.kind === 'CMD' || instr.kind === 'ENTRYPOINT') && instr.command.form === 'shell')
          out.push({
            message: `JSON arguments recommended for ${instr.kind} to prevent unintended behavior related to OS signals`,
            line: line(instr),
          });
      return out;
    },
  },
  {
    id: 'MaintainerDeprecated',
    origin: 'docker',
    description: 'The MAINTAINER instruction is deprecated, use a label instead to define an image author',
    run: ({ dockerfile }) =>
      [...allInstructions(dockerfile)]
        .filter(({ instr }) => instr.kind === 'MAINTAINER')
        .map(({ instr }) => ({
          message: 'Maintainer instruction is deprecated in favor of using label',
          line: line(instr),
        })),
  },
  {
    id: 'LegacyKeyValueFormat',
    origin: 'docker',
    description: 'Legacy key/value format with whitespace separator should not be used',
    run: ({ dockerfile }) => {
      const out: Finding[] = [];
      for (const { instr } of allInstructions(dockerfile))
        if ((instr.kind === 'ENV' || instr.kind === 'LABEL') && instr.legacy)
          out.push({
            message: `"${instr.kind} key=value" should be used instead of legacy "${instr.kind} key value" format`,
            line: line(instr),
          });
      return out;
    },
  },
  {
    id: 'MultipleInstructionsDisallowed',
    origin: 'docker',
    description: 'Multiple instructions of the same type should not be used in the same stage',
    run: ({ dockerfile }) => {
      const out: Finding[] = [];
      for (const s of dockerfile.stages) {
        for (const kind of ['CMD', 'ENTRYPOINT', 'HEALTHCHECK'] as const) {
          const found = s.instructions.filter((i) => i.kind === kind);
          for (const i of found.slice(0, -1))
            out.push({
              message: `Multiple ${kind} instructions should not be used in the same stage because only the last one will be used`,
              line: line(i),
            });
        }
      }
      return out;
    },
  },
  {
    id: 'WorkdirRelativePath',
    origin: 'docker',
    description:
      'Relative workdir without an absolute workdir declared within the build can have unexpected results',
    run: ({ dockerfile }) => {
      const out: Finding[] = [];
      for (const s of dockerfile.stages) {
        let absolute = false;
        for (const i of s.instructions) {
          if (i.kind !== 'WORKDIR') continue;
          if (i.path.startsWith('/') || i.path.startsWith('$')) absolute = true;
          else if (!absolute)
            out.push({
              message: `Relative workdir "${i.path}" can have unexpected results if the base image changes`,
              line: line(i),
            });
        }
      }
      return out;
    },
  },
  {
    id: 'ExposeProtoCasing',
    origin: 'docker',
    description: 'Protocol in EXPOSE instruction should be lowercase',
    run: ({ dockerfile }) => {
      const out: Finding[] = [];
      for (const { instr } of allInstructions(dockerfile))
        if (instr.kind === 'EXPOSE')
          for (const p of instr.ports) {
            const proto = p.split('/')[1];
            if (proto !== undefined && !isLower(proto))
              out.push({
                message: `Defined protocol '${p}' in EXPOSE instruction should be lowercase`,
                line: line(instr),
              });
          }
      return out;
    },
  },
  {
    id: 'ExposeInvalidFormat',
    origin: 'docker',
    description: 'IP address and host-port mapping should not be used in EXPOSE instruction',
    run: ({ dockerfile }) => {
      const out: Finding[] = [];
      for (const { instr } of allInstructions(dockerfile))
        if (instr.kind === 'EXPOSE')
          for (const p of instr.ports)
            if (p.split('/')[0]!.includes(':'))
              out.push({
                message: `EXPOSE instruction should not define an IP address or host-port mapping, found '${p}'`,
                line: line(instr),
              });
      return out;
    },
  },
  {
    id: 'SecretsUsedInArgOrEnv',
    origin: 'docker',
    description: 'Sensitive data should not be used in the ARG or ENV commands',
    run: ({ dockerfile }) => {
      const out: Finding[] = [];
      const check = (instr: Instruction, kind: string, name: string) => {
        if (SECRET_RE.test(name) && !SECRET_ALLOW.test(name))
          out.push({
            message: `Do not use ARG or ENV instructions for sensitive data (${kind} "${name}")`,
            line: line(instr),
          });
      };
      const instrs: Instruction[] = [...dockerfile.metaArgs];
      for (const s of dockerfile.stages) instrs.push(...s.instructions);
      for (const instr of instrs) {
        if (instr.kind === 'ARG') for (const a of instr.args) check(instr, 'ARG', a.name);
        if (instr.kind === 'ENV') for (const kv of instr.vars) check(instr, 'ENV', kv.key);
      }
      return out;
    },
  },
  {
    id: 'UndefinedArgInFrom',
    origin: 'docker',
    description: 'FROM command must use declared ARGs',
    run: ({ dockerfile, buildArgs }) => {
      const meta = resolveMetaArgs(dockerfile, buildArgs);
      const out: Finding[] = [];
      for (const s of dockerfile.stages) {
        for (const word of [s.from.image, s.from.platform ?? '']) {
          let unset: string[] = [];
          try {
            unset = expandDetailed(word, (n) => (meta.has(n) ? (meta.get(n) ?? '') : undefined), {
              escapeChar: dockerfile.directives.escape,
            }).unset;
          } catch {
            // Malformed words are reported by the build itself.
          }
          for (const name of unset)
            out.push({ message: `FROM argument '${name}' is not declared`, line: line(s.from) });
        }
      }
      return out;
    },
  },
  {
    id: 'RedundantTargetPlatform',
    origin: 'docker',
    description:
      'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
    run: ({ dockerfile }) =>
      dockerfile.stages.flatMap((s) =>
        /^\$(?:TARGETPLATFORM|\{TARGETPLATFORM\})$/.test(s.platform ?? '')
          ? [
              {
                message: `Setting platform to predefined ${s.platform} in FROM is redundant as this is the default behavior`,
                line: line(s.from),
              },
            ]
          : [],
      ),
  },
  {
    id: 'FromPlatformFlagConstDisallowed',
    origin: 'docker',
    description: 'FROM --platform flag should not use a constant value',
    run: ({ dockerfile }) =>
      dockerfile.stages.flatMap((s) =>
        s.platform !== undefined && !s.platform.includes('$')
          ? [
              {
                message: `FROM --platform flag should not use constant value "${s.platform}"`,
                line: line(s.from),
              },
            ]
          : [],
      ),
  },
  {
    id: 'UndefinedVar',
    origin: 'docker',
    description: 'Variables should be defined before their use',
    run: ({ dockerfile, buildArgs }) => {
      const meta = resolveMetaArgs(dockerfile, buildArgs);
      const out: Finding[] = [];
      const finalEnv: Map<string, string>[] = [];
      const finalArgs: Map<string, string>[] = [];
      for (const s of dockerfile.stages) {
        const parent = stageChain(dockerfile, s.index)[1];
        try {
          const walked = walkStage(s, {
            metaArgs: meta,
            buildArgs,
            baseEnv: parent ? finalEnv[parent.index] : undefined,
            baseArgs: parent ? finalArgs[parent.index] : undefined,
            escapeChar: dockerfile.directives.escape,
          });
          finalEnv[s.index] = walked.env;
          finalArgs[s.index] = walked.args;
          for (const step of walked.steps)
            for (const name of step.unset) {
              if (WELL_KNOWN_ENV.has(name)) continue;
              // A typo of a variable in scope gets a suggestion, as in Docker's output.
              const close = suggestName(name, [...step.env.keys(), ...WELL_KNOWN_ENV]);
              const hint = close
                ? ` (did you mean $${close}?)`
                : meta.has(name)
                  ? ` (declare it in this stage with ARG ${name} to use the global value)`
                  : '';
              out.push({
                message: `Usage of undefined variable '$${name}'${hint}`,
                line: line(step.instruction),
              });
            }
        } catch {
          finalEnv[s.index] = new Map();
          finalArgs[s.index] = new Map();
        }
      }
      return out;
    },
  },
  {
    id: 'CopyIgnoredFile',
    origin: 'docker',
    description: 'Attempting to Copy file that is excluded by .dockerignore',
    run: ({ dockerfile, ignore }) => {
      if (!ignore) return [];
      const out: Finding[] = [];
      for (const { instr } of allInstructions(dockerfile)) {
        if (
          (instr.kind !== 'COPY' && instr.kind !== 'ADD') ||
          (instr.kind === 'COPY' && instr.from !== undefined)
        )
          continue;
        for (const src of instr.sources)
          if (src.kind === 'path' && !/^[a-z]+:\/\//i.test(src.path) && !/[*?[$]/.test(src.path))
            if (ignore.matches(src.path))
              out.push({
                message: `Attempting to ${instr.kind === 'COPY' ? 'Copy' : 'Add'} file "${src.path}" that is excluded by .dockerignore`,
                line: line(instr),
              });
      }
      return out;
    },
  },
  // --- berth's best-practice rules ---
  {
    id: 'UnpinnedBaseImage',
    origin: 'berth',
    description: 'Base images should be pinned to a version tag or digest, not latest',
    run: ({ dockerfile, buildArgs }) => {
      const meta = resolveMetaArgs(dockerfile, buildArgs);
      const out: Finding[] = [];
      for (const s of dockerfile.stages) {
        let image: string;
        try {
          image = expandDetailed(s.base, (n) => meta.get(n), {
            escapeChar: dockerfile.directives.escape,
          }).value;
        } catch {
          continue;
        }
        const lower = image.toLowerCase();
        if (lower === 'scratch' || image === '') continue;
        if (dockerfile.stages.some((o) => o.index < s.index && o.name === lower)) continue;
        if (image.includes('@')) continue;
        const lastPart = image.slice(image.lastIndexOf('/') + 1);
        const colon = lastPart.indexOf(':');
        const tag = colon < 0 ? undefined : lastPart.slice(colon + 1);
        if (tag === undefined || tag === 'latest')
          out.push({
            message: `Base image "${image}" is not pinned (${tag === undefined ? 'no tag, so latest' : 'latest'}): use a version tag or a digest for repeatable builds`,
            line: line(s.from),
          });
      }
      return out;
    },
  },
  {
    id: 'RootUserInFinalStage',
    origin: 'berth',
    description: 'The final image should not run as root: set a USER',
    run: ({ dockerfile, target }) => {
      const chain = stageChain(dockerfile, target);
      for (const s of chain) {
        const users = s.instructions.filter((i) => i.kind === 'USER');
        const last = users[users.length - 1];
        if (last && last.kind === 'USER') {
          const u = last.user.split(':')[0]!;
          if (u === 'root' || u === '0')
            return [
              {
                message: `The final stage runs as root (USER ${last.user}): switch to an unprivileged USER`,
                line: line(last),
              },
            ];
          return [];
        }
      }
      const final = dockerfile.stages[target]!;
      if (final.base.toLowerCase() === 'scratch') return [];
      return [
        {
          message: 'The final stage has no USER instruction, so the container runs as root',
          line: line(final.from),
        },
      ];
    },
  },
  {
    id: 'AptListsNotCleaned',
    origin: 'berth',
    description: 'apt-get install should remove /var/lib/apt/lists in the same RUN',
    run: ({ dockerfile }) => {
      const out: Finding[] = [];
      for (const { instr } of allInstructions(dockerfile)) {
        if (instr.kind !== 'RUN') continue;
        const text =
          (instr.command.form === 'shell' ? instr.command.script : instr.command.args.join(' ')) +
          instr.heredocs.map((h) => `\n${h.content}`).join('');
        if (!/\bapt(-get)?\s+(?:-\S+\s+)*install\b/.test(text)) continue;
        if (/\/var\/lib\/apt\/lists/.test(text)) continue;
        if (instr.mounts.some((m) => m.type === 'cache' && m.target?.startsWith('/var/lib/apt'))) continue;
        out.push({
          message:
            'apt-get install without removing /var/lib/apt/lists/* in the same RUN leaves the package lists in the layer',
          line: line(instr),
        });
      }
      return out;
    },
  },
  {
    id: 'ConsecutiveRunInstructions',
    origin: 'berth',
    description: 'Consecutive RUN instructions could be combined into one layer',
    run: ({ dockerfile }) => {
      const out: Finding[] = [];
      const simple = (i: Instruction | undefined) =>
        i?.kind === 'RUN' &&
        i.command.form === 'shell' &&
        i.mounts.length === 0 &&
        i.heredocs.length === 0 &&
        i.network === undefined &&
        i.security === undefined;
      for (const s of dockerfile.stages) {
        const list = s.instructions;
        for (let k = 0; k < list.length; k++) {
          if (!simple(list[k]) || !simple(list[k + 1]) || simple(list[k - 1])) continue;
          let end = k + 1;
          while (simple(list[end + 1])) end++;
          out.push({
            message: `${end - k + 1} consecutive RUN instructions (lines ${line(list[k]!)}-${line(list[end]!)}) could be combined into one`,
            line: line(list[k]!),
          });
        }
      }
      return out;
    },
  },
  {
    id: 'MissingHealthcheck',
    origin: 'berth',
    description: 'A service image (EXPOSE) should define a HEALTHCHECK',
    run: ({ dockerfile, target }) => {
      const chain = stageChain(dockerfile, target);
      const instrs = chain.flatMap((s) => s.instructions);
      const expose = instrs.find((i) => i.kind === 'EXPOSE');
      if (!expose || instrs.some((i) => i.kind === 'HEALTHCHECK')) return [];
      return [{ message: 'The image exposes ports but defines no HEALTHCHECK', line: line(expose) }];
    },
  },
  {
    id: 'CopyWholeContextWithoutDockerignore',
    origin: 'berth',
    description: 'Copying the whole context needs a .dockerignore',
    run: ({ dockerfile, hasDockerignore }) => {
      if (hasDockerignore) return [];
      const out: Finding[] = [];
      for (const { instr } of allInstructions(dockerfile)) {
        if (instr.kind !== 'COPY' && instr.kind !== 'ADD') continue;
        if (instr.kind === 'COPY' && instr.from !== undefined) continue;
        if (
          instr.sources.some(
            (s) => s.kind === 'path' && (s.path === '.' || s.path === './' || s.path === '/'),
          )
        )
          out.push({
            message: `${instr.kind} of the whole build context without a .dockerignore copies everything (VCS data, secrets, build output)`,
            line: line(instr),
          });
      }
      return out;
    },
  },
];
