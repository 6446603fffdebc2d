// Runs the build checks over a parsed Dockerfile, honouring `# check=skip=…;error=true`.
import type { IgnoreMatcher } from '../context/index.js';
import { type Dockerfile, resolveStages } from '../parser/index.js';
import { CHECK_RULES, type CheckContext, type CheckRule, type Finding } from './rules.js';

export { CHECK_RULES, type CheckContext, type CheckRule, type Finding };

export interface CheckViolation {
  rule: string;
  origin: 'docker' | 'berth';
  message: string;
  /** Dockerfile line (1-based). */
  line: number;
  /** `file:line: message (Rule)`, ready to print. */
  text: string;
}

export interface CheckOptions {
  hasDockerignore?: boolean;
  ignore?: IgnoreMatcher;
  buildArgs?: Readonly<Record<string, string>>;
  /** Target stage name; default the last stage. */
  target?: string;
  /** Extra rule ids to skip (on top of the `# check=skip=` directive). */
  skip?: readonly string[];
  /** Run only these rules (ids). */
  only?: readonly string[];
}

export interface CheckReport {
  violations: CheckViolation[];
  /** `# check=error=true` and at least one violation: the build must fail. */
  failed: boolean;
}

export function runChecks(df: Dockerfile, options: CheckOptions = {}): CheckReport {
  const directive = df.directives.checks;
  if (directive.skip === 'all') return { violations: [], failed: false };
  const skip = new Set([...directive.skip, ...(options.skip ?? [])].map((s) => s.toLowerCase()));
  let target = df.stages.length - 1;
  try {
    target = resolveStages(df, { target: options.target, buildArgs: options.buildArgs }).target;
  } catch {
    // An unresolvable graph is the build's error to report; check the last stage.
  }
  const ctx: CheckContext = {
    dockerfile: df,
    hasDockerignore: options.hasDockerignore ?? true,
    buildArgs: options.buildArgs ?? {},
    target,
  };
  if (options.ignore) ctx.ignore = options.ignore;
  const violations: CheckViolation[] = [];
  for (const rule of CHECK_RULES) {
    if (skip.has(rule.id.toLowerCase())) continue;
    if (options.only && !options.only.includes(rule.id)) continue;
    for (const f of rule.run(ctx))
      violations.push({
        rule: rule.id,
        origin: rule.origin,
        message: f.message,
        line: f.line,
        text: `${df.filename}:${f.line}: ${f.message} (${rule.id})`,
      });
  }
  violations.sort((a, b) => a.line - b.line || a.rule.localeCompare(b.rule));
  return { violations, failed: directive.error && violations.length > 0 };
}
