// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile words are written with ${…} on purpose
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  expandDetailed,
  expandWord,
  expandWords,
  ShellExpansionError,
  splitRawWords,
} from '../../../src/build/index.js';

const env = {
  a: 'apple',
  empty: '',
  path: '/usr/local/bin/app.tar.gz',
  spaced: 'one two  three',
  star: 'a*b',
};

test('expandWord: substitution forms and modifiers', () => {
  const cases: [string, string][] = [
    ['$a', 'apple'],
    ['${a}', 'apple'],
    ['x${a}y', 'xappley'],
    ['$a$a', 'appleapple'],
    ['$unset', ''],
    ['${unset}', ''],
    ['$', '$'],
    ['a$', 'a$'],
    ['$1', ''],
    ['${a:-b}', 'apple'],
    ['${empty:-b}', 'b'],
    ['${unset:-b}', 'b'],
    ['${empty-b}', ''],
    ['${unset-b}', 'b'],
    ['${a:+b}', 'b'],
    ['${empty:+b}', ''],
    ['${empty+b}', 'b'],
    ['${unset+b}', ''],
    ['${unset:-$a}', 'apple'],
    ['${unset:-${a}x}', 'applex'],
    ['${a:?msg}', 'apple'],
    ['${empty?msg}', ''],
    ['${path#*/}', 'usr/local/bin/app.tar.gz'],
    ['${path##*/}', 'app.tar.gz'],
    ['${path%.*}', '/usr/local/bin/app.tar'],
    ['${path%%.*}', '/usr/local/bin/app'],
    ['${path#/usr}', '/local/bin/app.tar.gz'],
    ['${path#nomatch}', '/usr/local/bin/app.tar.gz'],
    ['${path%.t?r.gz}', '/usr/local/bin/app'],
    ['${star#a\\*}', 'b'],
    ['${path/local/opt}', '/usr/opt/bin/app.tar.gz'],
    ['${path//a/A}', '/usr/locAl/bin/App.tAr.gz'],
    ['${path/\\/usr/}', '/local/bin/app.tar.gz'],
    ['${path/*bin/X}', 'X/app.tar.gz'],
    ['${unset/a/b}', ''],
    ['[${a}]', '[apple]'],
  ];
  for (const [word, want] of cases) assert.equal(expandWord(word, env), want, word);
});

test('expandWord: quoting and escapes', () => {
  const cases: [string, string][] = [
    ["'$a'", '$a'],
    ['"$a"', 'apple'],
    ['"${a} and $a"', 'apple and apple'],
    ['\\$a', '$a'],
    ['"\\$a"', '$a'],
    ['"a\\"b"', 'a"b'],
    ['"a\\b"', 'a\\b'],
    ['a\\ b', 'a b'],
    ["'a\"b'", 'a"b'],
    ['"it\'s"', "it's"],
    ['""', ''],
    ['a"b"c', 'abc'],
    ['trailing\\', 'trailing'],
  ];
  for (const [word, want] of cases) assert.equal(expandWord(word, env), want, word);
});

test('expandWord: the backtick escape character', () => {
  assert.equal(expandWord('C:\\path`$a', env, { escapeChar: '`' }), 'C:\\path$a');
  assert.equal(expandWord('`"x`"', env, { escapeChar: '`' }), '"x"');
  assert.equal(expandWord('"a`"b"', env, { escapeChar: '`' }), 'a"b');
});

test('expandWords splits unquoted whitespace, also inside variable values', () => {
  assert.deepEqual(expandWords('a b  c', env), ['a', 'b', 'c']);
  assert.deepEqual(expandWords('$spaced', env), ['one', 'two', 'three']);
  assert.deepEqual(expandWords('"$spaced" x', env), ['one two  three', 'x']);
  assert.deepEqual(expandWords("'' x", env), ['', 'x']);
  assert.deepEqual(expandWords('a\\ b c', env), ['a b', 'c']);
});

test('expandWord: a Map and a function work as the environment', () => {
  assert.equal(expandWord('$x', new Map([['x', 'map']])), 'map');
  assert.equal(
    expandWord('$x', (n) => (n === 'x' ? 'fn' : undefined)),
    'fn',
  );
  assert.equal(expandWord('$toString', {}), '', 'no prototype lookups');
});

test('expandDetailed reports unset variables but not ones with defaults', () => {
  const r = expandDetailed('$a $nope ${gone} ${dflt:-x} ${dflt2-y}', env);
  assert.deepEqual(r.unset.sort(), ['gone', 'nope']);
});

test('skipUnset keeps unset variables as written', () => {
  assert.equal(expandWord('$a $nope ${gone}', env, { skipUnset: true }), 'apple $nope ${gone}');
});

test('keepQuotes (heredoc bodies) substitutes but leaves quotes alone', () => {
  assert.equal(expandWord(`don't "$a" '$a' \\$a`, env, { keepQuotes: true }), `don't "apple" 'apple' $a`);
});

test('malformed words fail with BuildKit wording', () => {
  const cases: [string, RegExp][] = [
    ["'open", /matching single-quote/],
    ['"open', /matching double-quote/],
    ['${a', /missing '\}'/],
    ['${}', /bad substitution/],
    ['${:a}', /bad substitution/],
    ['${a:=b}', /unsupported modifier \(:=\)/],
    ['${a^}', /unsupported modifier \(\^\)/],
    ['${unset:?}', /unset: is not allowed to be unset/],
    ['${empty:?}', /empty: is not allowed to be empty/],
    ['${unset?custom message}', /unset: custom message/],
    ['${a/x}', /missing '\/'/],
    ['${a#\\q}', /invalid escape/],
  ];
  for (const [word, re] of cases) {
    assert.throws(
      () => expandWord(word, env),
      (err: unknown) => err instanceof ShellExpansionError && re.test((err as Error).message),
      word,
    );
  }
});

test('splitRawWords keeps quotes and escapes for later expansion', () => {
  assert.deepEqual(splitRawWords('a=1 b="x y" c=\'p q\' d=e\\ f'), ['a=1', 'b="x y"', "c='p q'", 'd=e\\ f']);
  assert.deepEqual(splitRawWords('  lead   trail  '), ['lead', 'trail']);
  assert.deepEqual(splitRawWords('x="a \\" b"'), ['x="a \\" b"']);
});

test('substitution patterns never backtrack and work on code points', () => {
  const long = 'a'.repeat(3000);
  // A regular expression would take exponential time here; the automaton is linear per prefix.
  assert.equal(expandWord('${v%%*a*a*a*a*a*a*a*a*b}', { v: long }), long);
  assert.equal(expandWord('${v#*a*a*a*a*a*a*a*a*b}', { v: `${long}b` }), '');
  assert.equal(expandWord('${v//a*a*a*a*c/x}', { v: long }), long);
  assert.equal(expandWord('${v#?}', { v: 'éa' }), 'a');
  assert.equal(expandWord('${v%?}', { v: 'a😀' }), 'a');
  assert.equal(expandWord('${v/[ab]/x}', { v: 'a[ab]b' }), 'axb', 'brackets are literal, as in BuildKit');
});
