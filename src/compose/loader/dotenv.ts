// Docker's .env syntax: KEY=VALUE lines, optional `export `, # comments, '...' literal values,
// "..." values with escapes spanning several lines, and ${VAR} interpolation in unquoted and
// double-quoted values (the process environment first, then keys defined earlier in the file).
import { readFileSync } from 'node:fs';
import { badRequest } from '../../util/index.js';
import { type Lookup, substitute, TemplateError } from './interpolate.js';

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function parseDotenv(
  text: string,
  file: string,
  lookup: Lookup = () => undefined,
): Record<string, string> {
  const vars: Record<string, string> = {};
  const resolve: Lookup = (name) => lookup(name) ?? vars[name];
  const expand = (v: string, line: number) => {
    try {
      return substitute(v, resolve);
    } catch (err) {
      if (err instanceof TemplateError) throw badRequest(`${file}:${line}: ${err.message}`);
      throw err;
    }
  };
  const src = text.replace(/\r\n?/g, '\n');
  let i = 0;
  let line = 1;
  while (i < src.length) {
    const startLine = line;
    let eol = src.indexOf('\n', i);
    if (eol < 0) eol = src.length;
    let lineText = src.slice(i, eol).replace(/^\s+/, '');
    if (lineText === '' || lineText.startsWith('#')) {
      i = eol + 1;
      line++;
      continue;
    }
    if (/^export\s+/.test(lineText)) lineText = lineText.replace(/^export\s+/, '');
    const eq = lineText.indexOf('=');
    if (eq < 0) {
      // A bare KEY takes its value from the environment, or is left out.
      const key = lineText.replace(/\s+#.*$/, '').trim();
      if (!KEY.test(key))
        throw badRequest(
          `${file}:${startLine}: unexpected character in variable name ${JSON.stringify(key)}`,
        );
      const v = lookup(key);
      if (v !== undefined) vars[key] = v;
      i = eol + 1;
      line++;
      continue;
    }
    const key = lineText.slice(0, eq).trim();
    if (!KEY.test(key))
      throw badRequest(`${file}:${startLine}: unexpected character in variable name ${JSON.stringify(key)}`);
    // Work on the raw source from the value's start, since quoted values may span lines.
    const valueStart = i + (src.slice(i, eol).length - lineText.length) + eq + 1;
    let j = valueStart;
    while (j < eol && (src[j] === ' ' || src[j] === '\t')) j++;
    const q = src[j];
    if (q === '"' || q === "'") {
      let k = j + 1;
      let value = '';
      for (; k < src.length; k++) {
        const c = src[k] as string;
        if (c === '\n') line++;
        if (c === q) break;
        if (q === '"' && c === '\\' && k + 1 < src.length) {
          const n = src[k + 1] as string;
          k++;
          if (n === 'n') value += '\n';
          else if (n === 't') value += '\t';
          else if (n === 'r') value += '\r';
          else if (n === '"' || n === '\\') value += n;
          else if (n === '$') value += '$$';
          else value += `\\${n}`;
          continue;
        }
        value += c;
      }
      if (k >= src.length) throw badRequest(`${file}:${startLine}: unterminated quoted value for ${key}`);
      vars[key] = q === '"' ? expand(value, startLine) : value;
      let end = src.indexOf('\n', k);
      if (end < 0) end = src.length;
      const trailing = src.slice(k + 1, end).trim();
      if (trailing !== '' && !trailing.startsWith('#'))
        throw badRequest(`${file}:${line}: unexpected characters after quoted value of ${key}: ${trailing}`);
      i = end + 1;
      line++;
      continue;
    }
    let raw = src.slice(j, eol);
    const hash = raw.search(/\s#/);
    if (hash >= 0) raw = raw.slice(0, hash);
    vars[key] = expand(raw.trim(), startLine);
    i = eol + 1;
    line++;
  }
  return vars;
}

/** Reads and parses one env file. `lookup` resolves ${VAR} references (the process environment). */
export function readDotenv(path: string, lookup?: Lookup): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw badRequest(`env file ${path} not found${code ? `: ${code}` : ''}`, err);
  }
  return parseDotenv(text, path, lookup);
}
