// A subset of Go's text/template as the docker CLI uses it for --format: fields, variables, pipelines,
// if/else, range, with, Go's builtins and Docker's extra functions. Errors read like Go's.

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

// ---------------------------------------------------------------- lexer

type TokKind =
  | 'field' // .A.B (value: 'A.B'), or '.' alone (value: '')
  | 'var' // $x or $x.A.B (value: 'x' / 'x.A.B'); '$' alone is value ''
  | 'ident'
  | 'string'
  | 'number'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'chain'; // .A.B right after ')'

interface Tok {
  kind: TokKind;
  value: string;
  pos: number;
}

type Piece = { text: string; pos: number } | { action: Tok[]; pos: number; src: string };

function lineOf(src: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < src.length; i++) if (src.charCodeAt(i) === 10) line++;
  return line;
}

function parseError(src: string, pos: number, msg: string): TemplateError {
  return new TemplateError(`template: :${lineOf(src, pos)}: ${msg}`);
}

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string) => /[A-Za-z0-9_]/.test(c);

function unquote(src: string, raw: string, pos: number): string {
  let out = '';
  for (let i = 1; i < raw.length - 1; i++) {
    const c = raw[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = raw[++i];
    const simple: Record<string, string> = {
      n: '\n',
      t: '\t',
      r: '\r',
      '\\': '\\',
      '"': '"',
      "'": "'",
      a: '\x07',
      b: '\b',
      f: '\f',
      v: '\v',
    };
    if (n !== undefined && n in simple) out += simple[n];
    else if (n === 'x') {
      out += String.fromCharCode(Number.parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (n === 'u') {
      out += String.fromCodePoint(Number.parseInt(raw.slice(i + 1, i + 5), 16));
      i += 4;
    } else throw parseError(src, pos, `invalid syntax: ${raw}`);
  }
  return out;
}

function lexAction(src: string, start: number, end: number): Tok[] {
  const toks: Tok[] = [];
  let i = start;
  while (i < end) {
    const c = src[i]!;
    if (isSpace(c)) {
      i++;
      continue;
    }
    const pos = i;
    if (c === '|') {
      toks.push({ kind: 'pipe', value: '|', pos });
      i++;
    } else if (c === '(') {
      toks.push({ kind: 'lparen', value: '(', pos });
      i++;
    } else if (c === ')') {
      toks.push({ kind: 'rparen', value: ')', pos });
      i++;
      if (src[i] === '.' && i < end && isAlnum(src[i + 1] ?? '')) {
        let j = i;
        while (j < end && (src[j] === '.' || isAlnum(src[j]!))) j++;
        toks.push({ kind: 'chain', value: src.slice(i + 1, j), pos: i });
        i = j;
      }
    } else if (c === ',') {
      toks.push({ kind: 'comma', value: ',', pos });
      i++;
    } else if (c === ':' && src[i + 1] === '=') {
      toks.push({ kind: 'declare', value: ':=', pos });
      i += 2;
    } else if (c === '=') {
      toks.push({ kind: 'assign', value: '=', pos });
      i++;
    } else if (c === '"' || c === '`') {
      let j = i + 1;
      while (j < end && src[j] !== c) {
        if (c === '"' && src[j] === '\\') j++;
        if (c === '"' && src[j] === '\n') throw parseError(src, pos, 'unterminated quoted string');
        j++;
      }
      if (j >= end)
        throw parseError(
          src,
          pos,
          c === '"' ? 'unterminated quoted string' : 'unterminated raw quoted string',
        );
      const raw = src.slice(i, j + 1);
      toks.push({ kind: 'string', value: c === '`' ? raw.slice(1, -1) : unquote(src, raw, pos), pos });
      i = j + 1;
    } else if (c === '.' && !/[0-9]/.test(src[i + 1] ?? '')) {
      let j = i + 1;
      while (j < end && (src[j] === '.' || isAlnum(src[j]!))) j++;
      toks.push({ kind: 'field', value: src.slice(i + 1, j), pos });
      i = j;
    } else if (c === '$') {
      let j = i + 1;
      while (j < end && (src[j] === '.' || isAlnum(src[j]!))) j++;
      toks.push({ kind: 'var', value: src.slice(i + 1, j), pos });
      i = j;
    } else if (/[0-9+\-.]/.test(c)) {
      const m = /^[+-]?(0x[0-9a-fA-F_]+|[0-9_]*\.?[0-9_]+(?:[eE][+-]?[0-9]+)?)/.exec(src.slice(i, end));
      if (!m || m[0] === '') throw parseError(src, pos, `bad number syntax: "${c}"`);
      toks.push({ kind: 'number', value: m[0], pos });
      i += m[0].length;
    } else if (c === "'") {
      const m = /^'(\\.|[^'\\])'/.exec(src.slice(i, end));
      if (!m) throw parseError(src, pos, 'unterminated character constant');
      const ch = m[1]!.length === 2 ? unquote(src, `"${m[1]}"`, pos) : m[1]!;
      toks.push({ kind: 'number', value: String(ch.codePointAt(0)), pos });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < end && isAlnum(src[j]!)) j++;
      toks.push({ kind: 'ident', value: src.slice(i, j), pos });
      i = j;
    } else {
      const code = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      throw parseError(src, pos, `unexpected bad character U+${code} '${c}' in command`);
    }
  }
  return toks;
}

function lex(src: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  let trimNext = false;
  while (i <= src.length) {
    const open = src.indexOf('{{', i);
    let text = open === -1 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    if (open === -1) {
      if (text) pieces.push({ text, pos: i });
      break;
    }
    let actStart = open + 2;
    if (src[actStart] === '-' && isSpace(src[actStart + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '');
      actStart += 2;
    }
    if (text) pieces.push({ text, pos: i });
    // comments
    const afterSpace = src.slice(actStart).match(/^\s*/)![0].length;
    if (src.startsWith('/*', actStart + afterSpace)) {
      const close = src.indexOf('*/', actStart + afterSpace + 2);
      if (close === -1) throw parseError(src, open, 'unclosed comment');
      let j = close + 2;
      while (isSpace(src[j] ?? '')) j++;
      trimNext = false;
      if (src[j] === '-' && src.startsWith('}}', j + 1)) {
        trimNext = true;
        j += 1;
      }
      if (!src.startsWith('}}', j)) throw parseError(src, open, 'comment ends before closing delimiter');
      i = j + 2;
      continue;
    }
    // find the closing delimiter outside of quoted strings
    let j = actStart;
    let close = -1;
    while (j < src.length) {
      const c = src[j]!;
      if (c === '"' || c === '`') {
        const q = c;
        const qpos = j;
        j++;
        while (j < src.length && src[j] !== q) {
          if (q === '"' && src[j] === '\\') j++;
          if (q === '"' && src[j] === '\n') break;
          j++;
        }
        if (j >= src.length || src[j] !== q) {
          throw parseError(
            src,
            qpos,
            q === '"' ? 'unterminated quoted string' : 'unterminated raw quoted string',
          );
        }
        j++;
        continue;
      }
      if (src.startsWith('}}', j)) {
        close = j;
        break;
      }
      j++;
    }
    if (close === -1) throw parseError(src, open, 'unclosed action');
    let actEnd = close;
    trimNext = false;
    if (src[close - 1] === '-' && isSpace(src[close - 2] ?? '') && close - 2 >= actStart) {
      actEnd = close - 2;
      trimNext = true;
    }
    pieces.push({
      action: lexAction(src, actStart, actEnd),
      pos: open,
      src: src.slice(actStart, actEnd).trim(),
    });
    i = close + 2;
  }
  return pieces;
}

// ---------------------------------------------------------------- parser

type Arg =
  | { t: 'field'; path: string[]; pos: number; src: string }
  | { t: 'var'; name: string; path: string[]; pos: number; src: string }
  | { t: 'ident'; name: string; pos: number; src: string }
  | { t: 'lit'; value: unknown; pos: number; src: string }
  | { t: 'pipe'; pipe: Pipe; path: string[]; pos: number; src: string };

interface Cmd {
  args: Arg[];
  pos: number;
}
interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Cmd[];
  pos: number;
}

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pipe: Pipe; pos: number; src: string }
  | { t: 'if' | 'with'; pipe: Pipe; list: Node[]; elseList?: Node[]; pos: number }
  | { t: 'range'; pipe: Pipe; list: Node[]; elseList?: Node[]; pos: number }
  | { t: 'break' | 'continue'; pos: number };

const BUILTINS = new Set([
  'and',
  'or',
  'not',
  'len',
  'index',
  'print',
  'printf',
  'println',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
  'html',
  'js',
  'urlquery',
  'slice',
]);

class Parser {
  private i = 0;
  private readonly vars: string[][] = [['']];
  private rangeDepth = 0;
  constructor(
    private readonly src: string,
    private readonly pieces: Piece[],
    private readonly funcs: Set<string>,
  ) {}

  parse(): Node[] {
    const { list, stop } = this.list();
    if (stop) throw parseError(this.src, stop.pos, `unexpected {{${stop.kw}}}`);
    return list;
  }

  /** Parses nodes until {{end}}/{{else}} (returned as stop) or the end of input. */
  private list(): { list: Node[]; stop?: { kw: string; toks: Tok[]; pos: number } } {
    const list: Node[] = [];
    while (this.i < this.pieces.length) {
      const p = this.pieces[this.i++]!;
      if ('text' in p) {
        list.push({ t: 'text', text: p.text });
        continue;
      }
      const toks = p.action;
      if (toks.length === 0) throw parseError(this.src, p.pos, 'missing value for command');
      const head = toks[0]!;
      const kw = head.kind === 'ident' ? head.value : '';
      if (kw === 'end' || kw === 'else') return { list, stop: { kw, toks, pos: p.pos } };
      if (kw === 'if' || kw === 'with' || kw === 'range') {
        list.push(this.control(kw, toks.slice(1), p.pos));
      } else if (kw === 'break' || kw === 'continue') {
        if (this.rangeDepth === 0) throw parseError(this.src, p.pos, `{{${kw}}} outside {{range}}`);
        list.push({ t: kw, pos: p.pos });
      } else if (kw === 'define' || kw === 'template' || kw === 'block') {
        throw parseError(this.src, p.pos, `{{${kw}}} is not supported`);
      } else {
        list.push({ t: 'action', pipe: this.pipeline(toks, p.pos, true), pos: p.pos, src: p.src });
      }
    }
    return { list };
  }

  private control(kw: 'if' | 'with' | 'range', toks: Tok[], pos: number): Node {
    this.vars.push([...this.vars.at(-1)!]);
    const pipe = this.pipeline(toks, pos, true, kw === 'range');
    if (kw === 'range') this.rangeDepth++;
    const body = this.list();
    if (kw === 'range') this.rangeDepth--;
    if (!body.stop) throw parseError(this.src, this.src.length, 'unexpected EOF');
    let elseList: Node[] | undefined;
    if (body.stop.kw === 'else') {
      const rest = body.stop.toks.slice(1);
      if (
        rest.length > 0 &&
        rest[0]!.kind === 'ident' &&
        (rest[0]!.value === 'if' || rest[0]!.value === 'with')
      ) {
        // {{else if …}} / {{else with …}}: a nested control whose {{end}} closes both
        const nested = this.control(rest[0]!.value as 'if' | 'with', rest.slice(1), body.stop.pos);
        elseList = [nested];
        this.vars.pop();
        return { t: kw, pipe, list: body.list, elseList, pos } as Node;
      }
      if (rest.length > 0) throw parseError(this.src, body.stop.pos, 'unexpected tokens after {{else}}');
      const tail = this.list();
      if (!tail.stop) throw parseError(this.src, this.src.length, 'unexpected EOF');
      if (tail.stop.kw !== 'end') throw parseError(this.src, tail.stop.pos, 'expected end; found {{else}}');
      elseList = tail.list;
    }
    this.vars.pop();
    return { t: kw, pipe, list: body.list, elseList, pos } as Node;
  }

  private pipeline(toks: Tok[], pos: number, allowDecl: boolean, range = false): Pipe {
    let k = 0;
    const decl: string[] = [];
    let assign = false;
    if (allowDecl && toks[0]?.kind === 'var') {
      // $x := …, $x = …, or range $i, $v := …
      let j = 0;
      const names: string[] = [];
      while (toks[j]?.kind === 'var' && !toks[j]!.value.includes('.')) {
        names.push(toks[j]!.value);
        j++;
        if (range && toks[j]?.kind === 'comma' && names.length < 2) {
          j++;
          continue;
        }
        break;
      }
      const op = toks[j];
      if (op && (op.kind === 'declare' || op.kind === 'assign') && names.length > 0) {
        if (names.length > 1 && !range) throw parseError(this.src, pos, 'too many declarations');
        decl.push(...names);
        assign = op.kind === 'assign';
        if (assign) for (const n of names) this.checkVar(n, pos);
        k = j + 1;
      }
    }
    const cmds: Cmd[] = [];
    let cur: Arg[] = [];
    let cmdPos = toks[k]?.pos ?? pos;
    while (k < toks.length) {
      const t = toks[k]!;
      if (t.kind === 'pipe') {
        if (cur.length === 0) throw parseError(this.src, t.pos, 'missing value for command');
        cmds.push({ args: cur, pos: cmdPos });
        cur = [];
        k++;
        cmdPos = toks[k]?.pos ?? t.pos;
        continue;
      }
      const [arg, next] = this.operand(toks, k);
      cur.push(arg);
      k = next;
    }
    if (cur.length === 0) throw parseError(this.src, pos, 'missing value for command');
    cmds.push({ args: cur, pos: cmdPos });
    if (!assign) for (const n of decl) this.vars.at(-1)!.push(n);
    return { decl, assign, cmds, pos };
  }

  private checkVar(name: string, pos: number) {
    if (!this.vars.at(-1)!.includes(name)) throw parseError(this.src, pos, `undefined variable "$${name}"`);
  }

  private operand(toks: Tok[], k: number): [Arg, number] {
    const t = toks[k]!;
    const src = t.value;
    switch (t.kind) {
      case 'field':
        return [{ t: 'field', path: t.value ? t.value.split('.') : [], pos: t.pos, src: `.${src}` }, k + 1];
      case 'var': {
        const [name, ...path] = t.value.split('.');
        this.checkVar(name!, t.pos);
        return [{ t: 'var', name: name!, path, pos: t.pos, src: `$${src}` }, k + 1];
      }
      case 'string':
        return [{ t: 'lit', value: t.value, pos: t.pos, src: JSON.stringify(t.value) }, k + 1];
      case 'number': {
        const n = Number(t.value.replace(/_/g, ''));
        if (Number.isNaN(n)) throw parseError(this.src, t.pos, `bad number syntax: "${t.value}"`);
        return [{ t: 'lit', value: n, pos: t.pos, src }, k + 1];
      }
      case 'ident': {
        if (t.value === 'true' || t.value === 'false')
          return [{ t: 'lit', value: t.value === 'true', pos: t.pos, src }, k + 1];
        if (t.value === 'nil') return [{ t: 'lit', value: null, pos: t.pos, src }, k + 1];
        if (!this.funcs.has(t.value)) throw parseError(this.src, t.pos, `function "${t.value}" not defined`);
        return [{ t: 'ident', name: t.value, pos: t.pos, src }, k + 1];
      }
      case 'lparen': {
        let depth = 1;
        let j = k + 1;
        while (j < toks.length && depth > 0) {
          if (toks[j]!.kind === 'lparen') depth++;
          else if (toks[j]!.kind === 'rparen') depth--;
          j++;
        }
        if (depth !== 0) throw parseError(this.src, t.pos, 'unclosed left paren');
        const inner = this.pipeline(toks.slice(k + 1, j - 1), t.pos, false);
        let path: string[] = [];
        if (toks[j]?.kind === 'chain') {
          path = toks[j]!.value.split('.');
          j++;
        }
        return [{ t: 'pipe', pipe: inner, path, pos: t.pos, src: '(…)' }, j];
      }
      case 'rparen':
        throw parseError(this.src, t.pos, 'unexpected right paren');
      default:
        throw parseError(this.src, t.pos, `unexpected "${t.value}" in command`);
    }
  }
}

// ---------------------------------------------------------------- values

/** Go's %v rendering of a JSON-ish value. */
export function goValue(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goNumber(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? '<nil>' : goValue(x))).join(' ')}]`;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    return `map[${keys.map((k) => `${k}:${goValue((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  }
  return String(v);
}

function goNumber(n: number): string {
  // JSON integers come from Go integer fields, which print in full.
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
  // %v of a float64 is strconv's shortest 'g': exponent form below 1e-4 and from 1e6 (two-digit exponent).
  const [mant, e] = n.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && !(v instanceof Date)) return Object.keys(v as object).length > 0;
  return true;
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (Array.isArray(v)) return '[]interface {}';
  if (typeof v === 'object') return 'map[string]interface {}';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}

/** Go's fmt.Sprintf for the common verbs (%v %s %d %q %t %f %g %e %x %X %o %c %%) with flags and width. */
export function sprintf(format: string, args: unknown[]): string {
  let ai = 0;
  return (
    format.replace(/%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*))?([a-zA-Z%])/g, (whole, flags, w, p, verb) => {
      if (verb === '%') return '%';
      const width = w === '*' ? Number(args[ai++]) : w ? Number(w) : undefined;
      const prec = p === '*' ? Number(args[ai++]) : p !== undefined ? Number(p) : undefined;
      if (ai >= args.length) return `%!${verb}(MISSING)`;
      const a = args[ai++];
      let s: string;
      switch (verb) {
        case 'v':
          s = flags.includes('#') && typeof a === 'string' ? JSON.stringify(a) : goValue(a);
          break;
        case 's':
          s = goValue(a);
          if (prec !== undefined) s = [...s].slice(0, prec).join('');
          break;
        case 'q':
          s = goQuote(typeof a === 'string' ? a : goValue(a));
          break;
        case 'd':
          if (typeof a !== 'number') return `%!d(${typeName(a)}=${goValue(a)})`;
          s = String(Math.trunc(a));
          if (flags.includes('+') && a >= 0) s = `+${s}`;
          break;
        case 't':
          s = typeof a === 'boolean' ? String(a) : `%!t(${typeName(a)}=${goValue(a)})`;
          break;
        case 'f':
        case 'F':
          s = typeof a === 'number' ? a.toFixed(prec ?? 6) : `%!f(${typeName(a)}=${goValue(a)})`;
          break;
        case 'e':
          s =
            typeof a === 'number' ? a.toExponential(prec ?? 6).replace(/e([+-])(\d)$/, 'e$10$2') : goValue(a);
          break;
        case 'g':
          s = typeof a === 'number' ? goG(a, prec) : goValue(a);
          break;
        case 'x':
        case 'X':
          s =
            typeof a === 'number'
              ? Math.trunc(a).toString(16)
              : Buffer.from(typeof a === 'string' ? a : goValue(a)).toString('hex');
          if (verb === 'X') s = s.toUpperCase();
          break;
        case 'o':
          s = typeof a === 'number' ? Math.trunc(a).toString(8) : goValue(a);
          break;
        case 'c':
          s = typeof a === 'number' ? String.fromCodePoint(a) : goValue(a);
          break;
        default:
          return `%!${verb}(${typeName(a)}=${goValue(a)})`;
      }
      if (width !== undefined && [...s].length < width) {
        const pad = width - [...s].length;
        if (flags.includes('-')) s += ' '.repeat(pad);
        else if (flags.includes('0') && /[dfeEgxXo]/.test(verb)) {
          const sign = /^[+-]/.test(s) ? s[0] : '';
          s = sign + '0'.repeat(pad) + s.slice(sign.length);
        } else s = ' '.repeat(pad) + s;
      }
      void whole;
      return s;
    }) +
    (ai < args.length
      ? `%!(EXTRA ${args
          .slice(ai)
          .map((a) => `${typeName(a)}=${goValue(a)}`)
          .join(', ')})`
      : '')
  );
}

/** Go's %g: shortest form, or `prec` significant digits, without trailing zeros. */
export function goG(n: number, prec?: number): string {
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
  if (prec === undefined) return goNumber(n);
  if (n === 0) return '0';
  const p = Math.max(prec, 1);
  const exp = Math.floor(Math.log10(Math.abs(Number(n.toPrecision(p)))));
  if (exp < -4 || exp >= p) {
    const [m, e] = n.toExponential(p - 1).split('e');
    const mant = m!.includes('.') ? m!.replace(/0+$/, '').replace(/\.$/, '') : m!;
    const en = Number(e);
    return `${mant}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  const fixed = n.toFixed(Math.max(0, p - 1 - exp));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

/** Go's strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

// ---------------------------------------------------------------- functions

export type TemplateFunc = (...args: unknown[]) => unknown;

const str = (v: unknown) => (typeof v === 'string' ? v : goValue(v));

function goTitle(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, pre: string, ch: string) => pre + ch.toUpperCase());
}

/** Marks an object whose `{{json .}}` output escapes HTML characters as Go's json.Marshal does. */
export const GO_HTML_ESCAPE: unique symbol = Symbol('go-html-escape');

function escapeJsonHtml(text: string): string {
  return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Docker's template functions (cli/templates): json, split, join, title, lower, upper, pad, truncate, println. */
export const DOCKER_FUNCS: Record<string, TemplateFunc> = {
  json: (v) => {
    if (v === undefined) return 'null';
    const text = JSON.stringify(v);
    // Docker's formatter rows marshal themselves with Go's json.Marshal, which escapes <, >, & and U+2028/9.
    return v !== null && typeof v === 'object' && GO_HTML_ESCAPE in v ? escapeJsonHtml(text) : text;
  },
  split: (s, sep) => str(s).split(str(sep)),
  join: (arr, sep) => {
    if (!Array.isArray(arr)) throw new Error(`wrong type for value; expected []string; got ${typeName(arr)}`);
    return arr.map(str).join(str(sep));
  },
  title: (s) => goTitle(str(s)),
  lower: (s) => str(s).toLowerCase(),
  upper: (s) => str(s).toUpperCase(),
  pad: (s, pre, post) => ' '.repeat(Number(pre) || 0) + str(s) + ' '.repeat(Number(post) || 0),
  truncate: (s, n) => {
    const t = str(s);
    const k = Number(n);
    return t.length <= k ? t : t.slice(0, k);
  },
};

/** In a table header the functions pass the header text through (Docker's HeaderFunctions). */
const HEADER_FUNCS: Record<string, TemplateFunc> = Object.fromEntries(
  Object.keys(DOCKER_FUNCS).map((k) => [k, (v: unknown) => v]),
);

function sprint(args: unknown[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    if (i > 0 && typeof args[i] !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += goValue(args[i]);
  }
  return out;
}

function compare(a: unknown, b: unknown, op: string): boolean {
  if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string')) {
    if (op === 'eq' || op === 'ne') {
      const eq = a === b || (a == null && b == null);
      return op === 'eq' ? eq : !eq;
    }
    throw new Error(`incompatible types for comparison`);
  }
  const x = a as number | string;
  const y = b as number | string;
  switch (op) {
    case 'eq':
      return x === y;
    case 'ne':
      return x !== y;
    case 'lt':
      return x < y;
    case 'le':
      return x <= y;
    case 'gt':
      return x > y;
    default:
      return x >= y;
  }
}

function builtin(name: string, args: unknown[]): unknown {
  switch (name) {
    case 'not':
      return !truthy(args[0]);
    case 'len': {
      const v = args[0];
      if (typeof v === 'string') return Buffer.byteLength(v);
      if (Array.isArray(v)) return v.length;
      if (v && typeof v === 'object') return Object.keys(v).length;
      throw new Error(`error calling len: len of type ${typeName(v)}`);
    }
    case 'index': {
      let v = args[0];
      for (const k of args.slice(1)) {
        if (Array.isArray(v)) {
          if (typeof k !== 'number')
            throw new Error(`error calling index: cannot index slice/array with type ${typeName(k)}`);
          if (k < 0 || k >= v.length) throw new Error(`error calling index: index out of range: ${k}`);
          v = v[k];
        } else if (v && typeof v === 'object') v = (v as Record<string, unknown>)[String(k)];
        else if (v === undefined || v === null) throw new Error('error calling index: index of untyped nil');
        else throw new Error(`error calling index: can't index item of type ${typeName(v)}`);
      }
      return v;
    }
    case 'slice': {
      const v = args[0];
      if (typeof v !== 'string' && !Array.isArray(v))
        throw new Error(`error calling slice: can't slice item of type ${typeName(v)}`);
      const from = (args[1] as number | undefined) ?? 0;
      const to = (args[2] as number | undefined) ?? v.length;
      if (from < 0 || to > v.length || from > to)
        throw new Error(`error calling slice: index out of range: ${to}`);
      return v.slice(from, to);
    }
    case 'print':
      return sprint(args);
    case 'println':
      return `${args.map(goValue).join(' ')}\n`;
    case 'printf':
      return sprintf(str(args[0]), args.slice(1));
    case 'eq':
      if (args.length < 2) throw new Error('missing argument for comparison');
      return args.slice(1).some((b) => compare(args[0], b, 'eq'));
    case 'ne':
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge':
      return compare(args[0], args[1], name);
    case 'html':
      return sprint(args).replace(
        /[&<>"']/g,
        (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': '#34', "'": '#39' }[c]};`,
      );
    case 'js':
      return sprint(args).replace(
        /[\\'"<>&=]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`,
      );
    case 'urlquery':
      return encodeURIComponent(sprint(args)).replace(/%20/g, '+');
    default:
      throw new Error(`function "${name}" not defined`);
  }
}

// ---------------------------------------------------------------- execution

class Break {}
class Continue {}

interface Scope {
  vars: Map<string, unknown>;
}

export interface TemplateOptions {
  /** Extra functions, on top of Go's builtins and Docker's. */
  funcs?: Record<string, TemplateFunc>;
}

export class Template {
  private readonly nodes: Node[];
  private readonly funcs: Record<string, TemplateFunc>;
  private header = false;

  constructor(
    readonly source: string,
    options: TemplateOptions = {},
  ) {
    this.funcs = { ...DOCKER_FUNCS, ...options.funcs };
    const names = new Set([...BUILTINS, ...Object.keys(this.funcs)]);
    this.nodes = new Parser(source, lex(source), names).parse();
  }

  /** Renders the template against `data` ($ and the initial dot). */
  execute(data: unknown, opts: { header?: boolean } = {}): string {
    const funcs = opts.header ? { ...this.funcs, ...HEADER_FUNCS } : this.funcs;
    const out: string[] = [];
    const scope: Scope = { vars: new Map([['', data]]) };
    this.header = opts.header === true;
    try {
      this.walk(this.nodes, data, scope, out, funcs);
    } finally {
      this.header = false;
    }
    return out.join('');
  }

  private fail(pos: number, src: string, msg: string): TemplateError {
    const before = this.source.slice(0, pos);
    const line = lineOf(this.source, pos);
    const col = pos - (before.lastIndexOf('\n') + 1);
    return new TemplateError(`template: :${line}:${col}: executing "" at <${src}>: ${msg}`);
  }

  private walk(
    nodes: Node[],
    dot: unknown,
    scope: Scope,
    out: string[],
    funcs: Record<string, TemplateFunc>,
  ) {
    for (const n of nodes) {
      switch (n.t) {
        case 'text':
          out.push(n.text);
          break;
        case 'action': {
          const v = this.pipe(n.pipe, dot, scope, funcs);
          if (n.pipe.decl.length === 0) out.push(goValue(v));
          break;
        }
        case 'if':
        case 'with': {
          const inner: Scope = { vars: new Map(scope.vars) };
          const v = this.pipe(n.pipe, dot, inner, funcs);
          if (truthy(v)) this.walk(n.list, n.t === 'with' ? v : dot, inner, out, funcs);
          else if (n.elseList) this.walk(n.elseList, dot, inner, out, funcs);
          this.copyBack(scope, inner);
          break;
        }
        case 'range':
          this.range(n, dot, scope, out, funcs);
          break;
        case 'break':
          throw new Break();
        case 'continue':
          throw new Continue();
      }
    }
  }

  /** Assignments ($x = …) inside a block are visible after it, as in Go. */
  private copyBack(outer: Scope, inner: Scope) {
    for (const k of outer.vars.keys()) outer.vars.set(k, inner.vars.get(k));
  }

  private range(
    n: Extract<Node, { t: 'range' }>,
    dot: unknown,
    scope: Scope,
    out: string[],
    funcs: Record<string, TemplateFunc>,
  ) {
    const inner: Scope = { vars: new Map(scope.vars) };
    const pipe = { ...n.pipe, decl: [] };
    const v = this.pipe(pipe, dot, inner, funcs);
    let entries: [unknown, unknown][];
    if (v === undefined || v === null) entries = [];
    else if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
    else if (typeof v === 'number' && Number.isInteger(v))
      entries = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    else if (typeof v === 'object') {
      const obj = v as Record<string, unknown>;
      entries = Object.keys(obj)
        .sort()
        .map((k) => [k, obj[k]]);
    } else throw this.fail(n.pos, 'range', `range can't iterate over ${goValue(v)}`);
    if (entries.length === 0) {
      if (n.elseList) this.walk(n.elseList, dot, inner, out, funcs);
      this.copyBack(scope, inner);
      return;
    }
    for (const [k, x] of entries) {
      const decl = n.pipe.decl;
      if (decl.length === 1) inner.vars.set(decl[0]!, x);
      if (decl.length === 2) {
        inner.vars.set(decl[0]!, k);
        inner.vars.set(decl[1]!, x);
      }
      try {
        this.walk(n.list, x, inner, out, funcs);
      } catch (err) {
        if (err instanceof Break) break;
        if (err instanceof Continue) continue;
        throw err;
      }
    }
    this.copyBack(scope, inner);
  }

  private pipe(p: Pipe, dot: unknown, scope: Scope, funcs: Record<string, TemplateFunc>): unknown {
    let value: unknown;
    let first = true;
    for (const cmd of p.cmds) {
      value = this.cmd(cmd, dot, scope, funcs, first ? undefined : { value });
      first = false;
    }
    for (const name of p.decl) scope.vars.set(name, value);
    return value;
  }

  private cmd(
    cmd: Cmd,
    dot: unknown,
    scope: Scope,
    funcs: Record<string, TemplateFunc>,
    final?: { value: unknown },
  ): unknown {
    const [head, ...rest] = cmd.args;
    const h = head!;
    const argsFor = () => {
      const a = rest.map((r) => this.arg(r, dot, scope, funcs));
      if (final) a.push(final.value);
      return a;
    };
    try {
      if (h.t === 'ident') {
        if (h.name === 'and' || h.name === 'or') {
          const all = [
            ...rest.map((r) => () => this.arg(r, dot, scope, funcs)),
            ...(final ? [() => final.value] : []),
          ];
          if (all.length === 0) throw new Error(`wrong number of args for ${h.name}: want at least 1 got 0`);
          let v: unknown;
          for (const get of all) {
            v = get();
            if (h.name === 'and' ? !truthy(v) : truthy(v)) return v;
          }
          return v;
        }
        const fn = funcs[h.name];
        if (fn) return fn(...argsFor());
        return builtin(h.name, argsFor());
      }
      if (h.t === 'field' || h.t === 'var' || h.t === 'pipe') {
        // the last element of a field chain may be a method taking arguments (e.g. .Label "k")
        const base =
          h.t === 'field'
            ? dot
            : h.t === 'var'
              ? scope.vars.get(h.name)
              : this.pipe(h.pipe, dot, scope, funcs);
        if (h.t === 'var' && !scope.vars.has(h.name)) throw new Error(`undefined variable: $${h.name}`);
        const path = h.path;
        const args = argsFor();
        if (path.length === 0) {
          if (args.length > 0) throw new Error(`can't give argument to non-function ${h.src}`);
          return base;
        }
        return this.field(base, path, args);
      }
      if (rest.length > 0 || final) throw new Error(`can't give argument to non-function ${h.src}`);
      return h.value;
    } catch (err) {
      if (err instanceof TemplateError || err instanceof Break || err instanceof Continue) throw err;
      throw this.fail(h.pos, h.src, (err as Error).message);
    }
  }

  private field(base: unknown, path: string[], args: unknown[]): unknown {
    let v = base;
    for (let i = 0; i < path.length; i++) {
      const name = path[i]!;
      const last = i === path.length - 1;
      if (v === undefined || v === null) {
        throw new Error(
          `nil pointer evaluating ${typeName(v) === 'nil' ? 'interface {}' : typeName(v)}.${name}`,
        );
      }
      if (typeof v !== 'object') throw new Error(`can't evaluate field ${name} in type ${typeName(v)}`);
      const obj = v as Record<string, unknown>;
      const member = obj[name];
      if (typeof member === 'function') {
        v = (member as TemplateFunc).apply(obj, last ? args : []);
        continue;
      }
      // header rows render `{{.Label "k"}}` as the column's title
      if (last && args.length > 0 && !(this.header && typeof member === 'string')) {
        throw new Error(`${name} is not a method but has arguments`);
      }
      v = member;
    }
    return v;
  }

  private arg(a: Arg, dot: unknown, scope: Scope, funcs: Record<string, TemplateFunc>): unknown {
    switch (a.t) {
      case 'lit':
        return a.value;
      case 'field':
        return a.path.length === 0 ? dot : this.field(dot, a.path, []);
      case 'var': {
        if (!scope.vars.has(a.name)) throw new Error(`undefined variable: $${a.name}`);
        const v = scope.vars.get(a.name);
        return a.path.length === 0 ? v : this.field(v, a.path, []);
      }
      case 'pipe': {
        const v = this.pipe(a.pipe, dot, scope, funcs);
        return a.path.length === 0 ? v : this.field(v, a.path, []);
      }
      case 'ident': {
        const fn = funcs[a.name];
        return fn ? fn() : builtin(a.name, []);
      }
    }
  }
}

/** Parses a template; throws TemplateError with Go's wording. */
export function parseTemplate(source: string, options?: TemplateOptions): Template {
  return new Template(source, options);
}
