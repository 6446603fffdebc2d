import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BerthError,
  formatGoDuration,
  parseGoDuration,
  tryParseGoDuration,
} from '../../../src/util/index.js';

test('parseGoDuration reads Go durations into nanoseconds', () => {
  const cases: [string, number][] = [
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['0s', 0],
    ['-0s', 0],
    ['1ns', 1],
    ['2us', 2000],
    ['2µs', 2000],
    ['2μs', 2000],
    ['500ms', 5e8],
    ['30s', 30e9],
    ['1m30s', 90e9],
    ['1h2m3s4ms', 3723004e6],
    ['1.5h', 5400e9],
    ['1.s', 1e9],
    ['.5s', 5e8],
    ['-2s', -2e9],
    ['+2s', 2e9],
    ['1ms1m', 60e9 + 1e6],
  ];
  for (const [text, ns] of cases) assert.equal(parseGoDuration(text), ns, text);
});

test("parseGoDuration rejects what Go rejects, with Go's message and status 400", () => {
  for (const bad of [
    '',
    '1',
    '10',
    '-',
    '+',
    'abc',
    '1d',
    '.s',
    '.',
    '1s2',
    's',
    ' 1s',
    '1s ',
    '1.5.5s',
    '--1s',
    '1hm',
  ]) {
    assert.equal(tryParseGoDuration(bad), undefined, bad);
    assert.throws(
      () => parseGoDuration(bad),
      (err: unknown) =>
        err instanceof BerthError && err.status === 400 && err.message === `time: invalid duration "${bad}"`,
      bad,
    );
  }
});

test('formatGoDuration prints as Go does', () => {
  assert.equal(formatGoDuration(0), '0s');
  assert.equal(formatGoDuration(5), '5ns');
  assert.equal(formatGoDuration(2000), '2µs');
  assert.equal(formatGoDuration(1e6), '1ms');
  assert.equal(formatGoDuration(1.5e9), '1.5s');
  assert.equal(formatGoDuration(90e9), '1m30s');
  assert.equal(formatGoDuration(3600e9), '1h0m0s');
  assert.equal(formatGoDuration(-2e9), '-2s');
  for (const ns of [1, 1500, 3e8, 90e9, 3723004e6]) assert.equal(parseGoDuration(formatGoDuration(ns)), ns);
});
