// Dockerfile text → directives, logical lines (continuations, comments, heredocs) → typed stages.
// Line handling follows BuildKit's parser: directives only at the very top, comment lines and
// empty lines inside a continuation are skipped (the latter with a warning), heredoc bodies follow
// the line that opens them.
import { DockerfileError, InstructionError } from './errors.js';
import { extractFlags } from './flags.js';
import { heredocMarker, type LogicalLine, parseInstruction, parseJsonArray } from './instructions.js';
import { expandDetailed, ShellExpansionError, splitRawWords } from './shell.js';
import type {
  ArgInstruction,
  CheckDirective,
  Dockerfile,
  Heredoc,
  Instruction,
  ParserDirectives,
  ParseWarning,
  Stage,
} from './types.js';

export interface ParseOptions {
  /** Shown in errors and warnings; default `Dockerfile`. */
  filename?: string;
}

const DIRECTIVE_RE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const HEREDOC_INSTRUCTIONS = new Set(['RUN', 'COPY', 'ADD']);

/** Parses `skip=A,B;error=true` (the `# check=` directive). */
export function parseCheckDirective(value: string): CheckDirective {
  const out: CheckDirective = { skip: [], error: false };
  for (const part of value.split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    const key = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? '' : p.slice(eq + 1).trim();
    if (key === 'skip') {
      const ids = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      out.skip = ids.some((s) => s.toLowerCase() === 'all') ? 'all' : ids;
    } else if (key === 'error') {
      const lv = v.toLowerCase();
      if (lv !== 'true' && lv !== 'false')
        throw new Error(`invalid boolean value for check directive error: ${v}`);
      out.error = lv === 'true';
    } else if (key !== 'experimental') {
      throw new Error(`invalid check directive: ${p}`);
    }
  }
  return out;
}

const leadingWs = (s: string) => /^[ \t]*/.exec(s)![0].length;
const isCommentLine = (s: string) => s.trimStart().startsWith('#');
const isBlank = (s: string) => s.trim() === '';

/** Parses a Dockerfile; throws DockerfileError (`file:line[:col]: reason`) on invalid input. */
export function parseDockerfile(text: string, options: ParseOptions = {}): Dockerfile {
  const file = options.filename ?? 'Dockerfile';
  const fail = (line: number, reason: string, column?: number): never => {
    throw new DockerfileError(file, line, reason, column);
  };
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  // Parser directives: consecutive `# key=value` lines at the very top, nothing else before them.
  const directives: ParserDirectives = { escape: '\\', checks: { skip: [], error: false } };
  let i = 0;
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = DIRECTIVE_RE.exec(lines[i]!.trimStart());
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (!KNOWN_DIRECTIVES.has(key)) break;
    if (seen.has(key)) fail(i + 1, `only one ${key} parser directive can be used`);
    seen.add(key);
    const value = m[2]!;
    if (key === 'escape') {
      if (value !== '\\' && value !== '`')
        fail(i + 1, `invalid escape token '${value}' does not match \` or \\`);
      directives.escape = value as '\\' | '`';
    } else if (key === 'syntax') directives.syntax = value;
    else {
      directives.check = value;
      try {
        directives.checks = parseCheckDirective(value);
      } catch (err) {
        fail(i + 1, (err as Error).message);
      }
    }
  }
  const esc = directives.escape;
  // The escape char ends a line as a continuation unless it is itself escaped (`foo \\\\`).
  const e = esc === '\\' ? '\\\\' : '`';
  const contRe = new RegExp(`(^|[^${e}])${e}[ \\t]*$`);
  const warnings: ParseWarning[] = [];

  const logical: LogicalLine[] = [];
  // Directive lines are comments for the instruction parser; start over from line 0.
  for (i = 0; i < lines.length; i++) {
    const first = lines[i]!;
    if (isCommentLine(first) || isBlank(first)) continue;
    const startLine = i + 1;
    const column = leadingWs(first) + 1;
    let line = first.slice(column - 1);
    let ended = !contRe.test(line);
    if (!ended) line = line.replace(contRe, '$1');
    const originalParts = [line];
    let emptyContinuation = false;
    while (!ended) {
      if (i + 1 >= lines.length)
        fail(startLine, 'unexpected end of file: line continuation at the end of the Dockerfile');
      const next = lines[++i]!;
      if (isCommentLine(next)) continue;
      if (isBlank(next)) {
        emptyContinuation = true;
        continue;
      }
      ended = !contRe.test(next);
      const part = ended ? next : next.replace(contRe, '$1');
      line += part;
      originalParts.push(part);
    }
    const km = /^(\S+)([ \t]*)([\s\S]*)$/.exec(line)!;
    const keyword = km[1]!;
    const args = km[3]!;
    const argsColumn = column + keyword.length + km[2]!.length;
    if (emptyContinuation)
      warnings.push({
        rule: 'NoEmptyContinuation',
        message: `Empty continuation line found in: ${line.trim()}`,
        line: startLine,
      });

    // Heredoc bodies follow the logical line (RUN, COPY, ADD in shell form only).
    const heredocs: Heredoc[] = [];
    let upper = keyword.toUpperCase();
    let heredocArgs = args;
    if (upper === 'ONBUILD') {
      // ONBUILD RUN <<EOF … takes heredocs too (BuildKit's compound heredoc directives).
      const sub = /^(\S+)[ \t]*([\s\S]*)$/.exec(args.trim());
      upper = sub ? sub[1]!.toUpperCase() : '';
      heredocArgs = sub ? sub[2]! : '';
    }
    if (HEREDOC_INSTRUCTIONS.has(upper) && line.includes('<<')) {
      const { rest } = extractFlags(heredocArgs, esc);
      let isJson = false;
      try {
        isJson = parseJsonArray(rest) !== undefined;
      } catch {
        isJson = true;
      }
      if (!isJson) {
        for (const word of splitRawWords(line, '\\')) {
          const marker = heredocMarker(word);
          if (!marker) continue;
          let parsed: ReturnType<typeof expandDetailed>;
          try {
            parsed = expandDetailed(marker.rest, () => undefined, { skipUnset: true });
          } catch {
            continue;
          }
          if (parsed.words.length !== 1) continue;
          const name = parsed.words[0]!;
          const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
          const expand = quotes(name) === quotes(marker.rest);
          let content = '';
          let terminated = false;
          while (i + 1 < lines.length) {
            const body = lines[++i]!;
            const cmp = marker.chomp ? body.replace(/^\t+/, '') : body;
            if (cmp === name) {
              terminated = true;
              break;
            }
            content += `${cmp}\n`;
          }
          if (!terminated) fail(startLine, `unterminated heredoc ${name}`);
          heredocs.push({ name, content, expand, chomp: marker.chomp, fd: marker.fd });
        }
      }
    }
    let original = originalParts.join('').trim();
    // History shows heredoc bodies too, as BuildKit's created_by does.
    if (heredocs.length > 0) original += `\n${heredocs.map((h) => `${h.content}${h.name}`).join('\n')}`;
    logical.push({
      keyword,
      args,
      argsColumn,
      location: { startLine, endLine: i + 1, column },
      original,
      heredocs,
    });
  }

  if (logical.length === 0) fail(1, 'file with no instructions');

  const metaArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  for (const l of logical) {
    let instr: Instruction;
    try {
      instr = parseInstruction(l, esc);
    } catch (err) {
      if (err instanceof InstructionError) fail(l.location.startLine, err.message, err.column);
      if (err instanceof ShellExpansionError) fail(l.location.startLine, err.message);
      throw err;
    }
    if (instr.kind === 'FROM') {
      const stage: Stage = { index: stages.length, base: instr.image, from: instr, instructions: [] };
      if (instr.stageName) stage.name = instr.stageName;
      if (instr.platform !== undefined) stage.platform = instr.platform;
      stages.push(stage);
    } else if (stages.length === 0) {
      if (instr.kind === 'ARG') metaArgs.push(instr);
      else fail(l.location.startLine, 'no build stage in current context');
    } else {
      stages[stages.length - 1]!.instructions.push(instr);
    }
  }
  if (stages.length === 0)
    fail(logical[logical.length - 1]!.location.startLine, 'dockerfile contains no stages to build');

  return { filename: file, directives, metaArgs, stages, warnings };
}
