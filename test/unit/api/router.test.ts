import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareVersions, parseBool, parseFilters, Router } from '../../../src/api/index.js';

const h = (name: string) => () => ({ json: name });

function router(): Router {
  return new Router()
    .get('/containers/json', h('list'))
    .get('/containers/:id/json', h('inspect'))
    .post('/containers/:id/start', h('start'))
    .get('/images/json', h('images'))
    .get('/images/get', h('save-many'))
    .get('/images/:name+/json', h('image-inspect'))
    .get('/images/:name+/get', h('save'))
    .delete('/images/:name+', h('image-rm'))
    .get('/distribution/:name+/json', h('dist'))
    .get('/exec/:id/json', h('exec'));
}

test('static routes win over parameter routes', () => {
  const r = router();
  assert.equal(r.match('GET', '/images/json')?.pattern, '/images/json');
  assert.equal(r.match('GET', '/images/get')?.pattern, '/images/get');
  assert.equal(r.match('GET', '/containers/json')?.pattern, '/containers/json');
});

test('parameters are captured and percent-decoded', () => {
  const r = router();
  const m = r.match('GET', '/containers/my%20box/json');
  assert.equal(m?.pattern, '/containers/:id/json');
  assert.deepEqual(m?.params, { id: 'my box' });
  assert.deepEqual(r.match('POST', '/containers/abc/start')?.params, { id: 'abc' });
});

test('greedy parameters take image names with slashes, ports and tags', () => {
  const r = router();
  const cases: [string, string, string][] = [
    ['GET', '/images/localhost:5000/a/b:tag/json', 'localhost:5000/a/b:tag'],
    ['GET', '/images/busybox/json', 'busybox'],
    ['GET', '/images/sha256:abc/json', 'sha256:abc'],
    ['GET', '/images/json/json', 'json'],
    ['GET', '/images/a/b/get', 'a/b'],
    ['DELETE', '/images/registry.example.com/x/y@sha256:00', 'registry.example.com/x/y@sha256:00'],
    ['DELETE', '/images/a%2Fb', 'a/b'],
    ['GET', '/distribution/docker.io/library/busybox:latest/json', 'docker.io/library/busybox:latest'],
  ];
  for (const [method, path, name] of cases) {
    assert.deepEqual(r.match(method, path)?.params, { name }, `${method} ${path}`);
  }
});

test('no match: wrong method, wrong shape, empty segments', () => {
  const r = router();
  assert.equal(r.match('POST', '/containers/json'), undefined);
  assert.equal(r.match('GET', '/containers/abc/json/extra'), undefined);
  assert.equal(r.match('GET', '/containers//json'), undefined);
  assert.equal(r.match('GET', '/images//json'), undefined);
  assert.equal(r.match('GET', '/images/json/'), undefined);
  assert.equal(r.match('PATCH', '/containers/json'), undefined);
  assert.equal(r.match('GET', '/nope'), undefined);
  assert.equal(r.has('/containers/json'), true);
  assert.equal(r.has('/nope'), false);
});

test('malformed escapes throw URIError', () => {
  assert.throws(() => router().match('GET', '/containers/%zz/json'), URIError);
});

test('bad patterns are refused', () => {
  assert.throws(() => new Router().get('nope', h('x')), /must start with/);
  assert.throws(() => new Router().get('/a/:x+/:y', h('x')), /no parameter may follow/);
});

test('parseBool follows Docker', () => {
  for (const v of ['1', 'true', 'True', 'yes', 'anything']) assert.equal(parseBool(v), true, v);
  for (const v of ['', '0', 'false', 'False', 'no', 'none', ' 0 ']) assert.equal(parseBool(v), false, v);
  assert.equal(parseBool(null), false);
  assert.equal(parseBool(null, true), true);
});

test('parseFilters reads both forms and rejects bad input', () => {
  assert.deepEqual(
    [...parseFilters('{"status":{"running":true,"exited":false},"label":["a=b"]}')],
    [
      ['status', ['running']],
      ['label', ['a=b']],
    ],
  );
  assert.equal(parseFilters(null).size, 0);
  assert.equal(parseFilters('').size, 0);
  assert.throws(() => parseFilters('{'), /invalid filter/);
  assert.throws(() => parseFilters('[1]'), /invalid filter/);
  assert.throws(() => parseFilters('{"a":1}'), /invalid filter 'a'/);
  assert.throws(() => parseFilters('{"a":[1]}'), /invalid filter 'a'/);
  assert.throws(() => parseFilters('{"a":{"b":"yes"}}'), /invalid filter 'a'/);
});

test('compareVersions is numeric', () => {
  assert.equal(compareVersions('1.9', '1.24'), -1);
  assert.equal(compareVersions('1.47', '1.47'), 0);
  assert.equal(compareVersions('1.50', '1.47'), 1);
  assert.equal(compareVersions('2', '1.99'), 1);
});
