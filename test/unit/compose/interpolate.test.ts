// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Compose ${VAR} templates are the subject here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPath, substitute, TemplateError } from '../../../src/compose/index.js';

const env: Record<string, string> = { SET: 'v', EMPTY: '', A: 'a', B: 'b' };
const lookup = (n: string) => env[n];
const sub = (t: string) => substitute(t, lookup);

test('plain and braced variables', () => {
  assert.equal(sub('${SET}'), 'v');
  assert.equal(sub('$SET'), 'v');
  assert.equal(sub('x$SET.y'), 'xv.y');
  assert.equal(sub('${A}${B}'), 'ab');
  assert.equal(sub('no vars'), 'no vars');
});

test('defaults and alternatives distinguish unset from empty', () => {
  assert.equal(sub('${NOPE:-d}'), 'd');
  assert.equal(sub('${EMPTY:-d}'), 'd');
  assert.equal(sub('${NOPE-d}'), 'd');
  assert.equal(sub('${EMPTY-d}'), '');
  assert.equal(sub('${SET:+r}'), 'r');
  assert.equal(sub('${EMPTY:+r}'), '');
  assert.equal(sub('${EMPTY+r}'), 'r');
  assert.equal(sub('${NOPE+r}'), '');
  assert.equal(sub('${NOPE:-}'), '');
  assert.equal(sub('${NOPE:-a b:c}'), 'a b:c');
});

test('nested templates are expanded only when used', () => {
  assert.equal(sub('${NOPE:-${ALSO:-${SET}}}'), 'v');
  assert.equal(sub('${SET:-${NOPE:?unused}}'), 'v');
  assert.equal(sub('${NOPE:-pre-${A}-post}'), 'pre-a-post');
});

test('$$ escapes a dollar', () => {
  assert.equal(sub('$$SET'), '$SET');
  assert.equal(sub('$${SET}'), '${SET}');
  assert.equal(sub('a$$'), 'a$');
});

test('required variables fail with the message', () => {
  assert.throws(() => sub('${NOPE:?need it}'), {
    name: 'TemplateError',
    message: 'required variable NOPE is missing a value: need it',
  });
  assert.throws(() => sub('${EMPTY:?}'), { message: 'required variable EMPTY is missing a value' });
  assert.throws(() => sub('${NOPE?gone}'), /NOPE is missing a value: gone/);
  assert.equal(sub('${EMPTY?never}'), '');
  assert.equal(sub('${SET:?x}'), 'v');
});

test('malformed templates are rejected', () => {
  for (const t of ['${', '${SET', '${}', '${1A}', 'a $ b', 'end$', '${SET!x}'])
    assert.throws(() => sub(t), TemplateError, t);
});

test('unset plain variables are reported, defaulted ones are not', () => {
  const seen: string[] = [];
  const out = substitute('$X ${Y} ${Z:-z} ${W-w} ${V:+v}', lookup, { onUnset: (n) => seen.push(n) });
  assert.equal(out, '  z w ');
  assert.deepEqual(seen, ['X', 'Y']);
});

test('paths print like docker compose', () => {
  assert.equal(formatPath(['services', 'web', 'ports', 0]), 'services.web.ports[0]');
  assert.equal(formatPath(['services', 'web', 'image']), 'services.web.image');
});
