// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Compose ${VAR} templates are the subject here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDotenv } from '../../../src/compose/index.js';

test('dotenv syntax: comments, export, quotes, inline comments, empty values', () => {
  const vars = parseDotenv(
    [
      '# comment',
      '',
      '  A=1',
      'export B=two words',
      "C='single $A #not comment'",
      'D="double ${A}\\n\\"q\\""',
      'E=value # comment',
      'F=val#ue',
      'G=',
      'H = spaced ',
      'I.J-K=dotted',
    ].join('\n'),
    'test.env',
  );
  assert.deepEqual(vars, {
    A: '1',
    B: 'two words',
    C: 'single $A #not comment',
    D: 'double 1\n"q"',
    E: 'value',
    F: 'val#ue',
    G: '',
    H: 'spaced',
    'I.J-K': 'dotted',
  });
});

test('dotenv multi-line double-quoted values and CRLF', () => {
  const vars = parseDotenv('KEY="line1\r\nline2"\r\nNEXT=x\r\n', 'f');
  assert.deepEqual(vars, { KEY: 'line1\nline2', NEXT: 'x' });
});

test('dotenv interpolation: process environment first, then earlier keys', () => {
  const vars = parseDotenv('A=file\nB=${A}\nC=${HOST_ONLY}-${MISSING:-dflt}\nD=$${A}\n', 'f', (n) =>
    n === 'HOST_ONLY' ? 'host' : n === 'A' ? 'process' : undefined,
  );
  assert.deepEqual(vars, { A: 'file', B: 'process', C: 'host-dflt', D: '${A}' });
});

test('a bare key takes its value from the environment or is left out', () => {
  const vars = parseDotenv('FROM_ENV\nNOT_SET\n', 'f', (n) => (n === 'FROM_ENV' ? 'e' : undefined));
  assert.deepEqual(vars, { FROM_ENV: 'e' });
});

test('dotenv errors name the file and line', () => {
  assert.throws(() => parseDotenv('OK=1\nBAD KEY=2\n', 'x.env'), {
    message: /^x\.env:2: unexpected character/,
  });
  assert.throws(() => parseDotenv('A="unterminated\n', 'x.env'), {
    message: /^x\.env:1: unterminated quoted value for A/,
  });
  assert.throws(() => parseDotenv("A='v' trailing\n", 'x.env'), /unexpected characters after quoted value/);
  assert.throws(() => parseDotenv('A=${B:?needed}\n', 'x.env'), {
    message: /^x\.env:1: required variable B/,
  });
});
