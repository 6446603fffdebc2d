import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  parseApiMount,
  parseBind,
  parseMountFlag,
  parseSize,
  parseTmpfs,
  parseTmpfsFlag,
  parseVolumesFrom,
  tmpfsOptionsToData,
  validMountMode,
} from '../../../src/volumes/index.js';

const rejects400 = (fn: () => unknown, message: string | RegExp) =>
  assert.throws(fn, (err: Error & { status?: number }) => {
    assert.equal(err.status, 400, `status of ${err.message}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });

test('-v name:/path is a named volume with copy-up, mode kept', () => {
  const s = parseBind('data:/var/lib/db:ro');
  assert.equal(s.type, 'volume');
  assert.equal(s.source, 'data');
  assert.equal(s.destination, '/var/lib/db');
  assert.equal(s.readOnly, true);
  assert.equal(s.mode, 'ro');
  assert.equal(s.copyData, true);
  assert.equal(s.volume?.driver, 'local');
});

test('-v name:/path:nocopy disables copy-up', () => {
  const s = parseBind('data:/x:nocopy');
  assert.equal(s.copyData, false);
  assert.equal(s.readOnly, false);
});

test('-v /host:/ctr is a bind that creates its source; propagation and cleaning', () => {
  const s = parseBind('/srv/x/:/mnt/y/:rshared,ro');
  assert.equal(s.type, 'bind');
  assert.equal(s.source, '/srv/x');
  assert.equal(s.destination, '/mnt/y');
  assert.equal(s.propagation, 'rshared');
  assert.equal(s.readOnly, true);
  assert.equal(s.createHostPath, true);
  assert.equal(s.copyData, false);
});

test('-v /ctr alone is an anonymous volume', () => {
  const s = parseBind('/data');
  assert.equal(s.type, 'volume');
  assert.equal(s.source, '');
  assert.equal(s.destination, '/data');
});

test('-v bad specs give Docker errors', () => {
  rejects400(() => parseBind(''), "invalid volume specification: ''");
  rejects400(() => parseBind(':/x'), "invalid volume specification: ':/x'");
  rejects400(() => parseBind('/data:ro'), "invalid volume specification: '/data:ro'");
  rejects400(() => parseBind('a:/b:rw:extra'), "invalid volume specification: 'a:/b:rw:extra'");
  rejects400(() => parseBind('a:/b:bogus'), 'invalid mode: bogus');
  rejects400(() => parseBind('a:/b:ro,rw'), 'invalid mode: ro,rw');
  rejects400(
    () => parseBind('data:relative'),
    `invalid volume specification: 'data:relative': invalid mount config for type "volume": invalid mount path: 'relative' mount path must be absolute`,
  );
  rejects400(
    () => parseBind('data:/'),
    `invalid volume specification: 'data:/': invalid mount config for type "volume": invalid specification: destination can't be '/'`,
  );
  rejects400(
    () => parseBind('data:/x:rshared'),
    `invalid volume specification: 'data:/x:rshared': invalid mount config for type "volume": field BindOptions must not be specified`,
  );
  rejects400(
    () => parseBind('/h:/x:nocopy'),
    `invalid volume specification: '/h:/x:nocopy': invalid mount config for type "bind": field VolumeOptions must not be specified`,
  );
});

test('mode validation accepts one of each kind', () => {
  assert.equal(validMountMode('ro,z,rslave,nocopy,cached'), true);
  assert.equal(validMountMode('z,Z'), false);
  assert.equal(validMountMode('private,shared'), false);
  assert.equal(validMountMode('RO'), false);
});

test('--mount CSV: volume with options', () => {
  const m = parseMountFlag(
    'type=volume,src=db,dst=/var/lib/db,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=10m,volume-nocopy,volume-label=a=b,ro=false',
  );
  assert.deepEqual(m, {
    Type: 'volume',
    Source: 'db',
    Target: '/var/lib/db',
    ReadOnly: false,
    VolumeOptions: {
      NoCopy: true,
      Labels: { a: 'b' },
      DriverConfig: { Options: { type: 'tmpfs', device: 'tmpfs', o: 'size=10m' } },
    },
  });
  const s = parseApiMount(m);
  assert.equal(s.copyData, false);
  assert.deepEqual(s.volume?.driverOpts, { type: 'tmpfs', device: 'tmpfs', o: 'size=10m' });
});

test('--mount CSV: quoted field with comma, bind options, tmpfs options', () => {
  assert.deepEqual(parseMountFlag('type=bind,"source=/a,b",target=/c,readonly,bind-propagation=rslave'), {
    Type: 'bind',
    Source: '/a,b',
    Target: '/c',
    ReadOnly: true,
    BindOptions: { Propagation: 'rslave' },
  });
  const t = parseMountFlag('type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1770');
  assert.deepEqual(t.TmpfsOptions, { SizeBytes: 64 * 1024 * 1024, Mode: 0o1770 });
  assert.equal(parseApiMount(t).tmpfsData, 'mode=1770,size=64m');
});

test('--mount CSV errors are the docker CLI ones', () => {
  rejects400(() => parseMountFlag('type=volume'), 'target is required');
  rejects400(() => parseMountFlag('target=/x,foo'), "invalid field 'foo' must be a key=value pair");
  rejects400(() => parseMountFlag('target=/x,bogus=1'), "unexpected key 'bogus' in 'bogus=1'");
  rejects400(() => parseMountFlag('target=/x,ro=maybe'), 'invalid value for ro: maybe');
  rejects400(
    () => parseMountFlag('type=tmpfs,target=/x,tmpfs-size=lots'),
    'invalid value for tmpfs-size: lots',
  );
  rejects400(
    () => parseMountFlag('type=tmpfs,target=/x,tmpfs-mode=999'),
    'invalid value for tmpfs-mode: 999',
  );
  rejects400(
    () => parseMountFlag('type=bind,src=/a,target=/x,volume-nocopy'),
    "cannot mix 'volume-*' options with mount type 'bind'",
  );
  rejects400(
    () => parseMountFlag('type=volume,target=/x,bind-propagation=shared'),
    "cannot mix 'bind-*' options with mount type 'volume'",
  );
  rejects400(
    () => parseMountFlag('type=bind,src=/a,target=/x,bind-recursive=maybe'),
    /invalid value for bind-recursive/,
  );
  rejects400(() => parseMountFlag('type=volume,"target=/x'), /unterminated/);
});

test('API Mount validation: bind source must exist, with Docker errors', () => {
  rejects400(
    () => parseApiMount({ Type: 'bind', Source: '/nope/berth-missing', Target: '/x' }),
    'invalid mount config for type "bind": bind source path does not exist: /nope/berth-missing',
  );
  const ok = parseApiMount({
    Type: 'bind',
    Source: '/nope/berth-missing',
    Target: '/x',
    BindOptions: { CreateMountpoint: true },
  });
  assert.equal(ok.createHostPath, true);
  rejects400(
    () => parseApiMount({ Type: 'bind', Target: '/x' }),
    'invalid mount config for type "bind": field Source must not be empty',
  );
  rejects400(
    () => parseApiMount({ Type: 'bind', Source: 'rel', Target: '/x' }),
    `invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`,
  );
  rejects400(
    () =>
      parseApiMount({ Type: 'bind', Source: '/tmp', Target: '/x', BindOptions: { Propagation: 'weird' } }),
    'invalid mount config for type "bind": invalid propagation mode: weird',
  );
  rejects400(
    () =>
      parseApiMount({
        Type: 'bind',
        Source: '/tmp',
        Target: '/x',
        BindOptions: { ReadOnlyNonRecursive: true },
      }),
    /need ReadOnly/,
  );
  rejects400(
    () => parseApiMount({ Type: 'volume', Target: '' }),
    'invalid mount config for type "volume": field Target must not be empty',
  );
  rejects400(
    () => parseApiMount({ Type: 'volume', Target: '/x', ReadOnly: true }),
    'invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes',
  );
  rejects400(
    () => parseApiMount({ Type: 'tmpfs', Source: 'x', Target: '/x' }),
    'invalid mount config for type "tmpfs": field Source must not be specified',
  );
  rejects400(
    () => parseApiMount({ Type: 'npipe', Target: '/x' }),
    'invalid mount config for type "npipe": mount type unknown',
  );
  rejects400(
    () => parseApiMount({ Type: 'volume', Source: 'v', Target: '/x', VolumeOptions: { Subpath: '../etc' } }),
    /subpath must be a relative path/,
  );
});

test('--tmpfs parsing and validation', () => {
  assert.deepEqual(parseTmpfsFlag('/run:rw,size=64m,mode=1777'), ['/run', 'rw,size=64m,mode=1777']);
  assert.deepEqual(parseTmpfsFlag('/cache'), ['/cache', '']);
  assert.equal(parseTmpfs('/run', 'ro').readOnly, true);
  rejects400(() => parseTmpfs('run'), "invalid mount path: 'run' mount path must be absolute");
  rejects400(() => parseTmpfs('/'), "invalid specification: destination can't be '/'");
  rejects400(() => parseTmpfs('/run', 'bogus'), 'invalid tmpfs option "bogus" for /run');
  rejects400(() => parseTmpfs('/run', 'size=huge'), 'invalid tmpfs size "huge" for /run');
  rejects400(() => parseTmpfs('/run', 'mode=abc'), 'invalid tmpfs mode "abc" for /run');
});

test('--volumes-from parsing', () => {
  assert.deepEqual(parseVolumesFrom('db'), { container: 'db', mode: 'rw', readWrite: true });
  assert.deepEqual(parseVolumesFrom('db:ro'), { container: 'db', mode: 'ro', readWrite: false });
  rejects400(() => parseVolumesFrom(''), 'volumes-from specification cannot be an empty string');
  rejects400(() => parseVolumesFrom('db:xx'), 'invalid mode: xx');
  rejects400(() => parseVolumesFrom('db:rshared'), 'invalid mode: rshared');
  rejects400(() => parseVolumesFrom('db:nocopy'), 'invalid mode: nocopy');
});

test('sizes and tmpfs option conversion', () => {
  assert.equal(parseSize('64m'), 64 * 1024 ** 2);
  assert.equal(parseSize('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseSize('100MiB'), 100 * 1024 ** 2);
  assert.equal(parseSize('512'), 512);
  assert.equal(parseSize('12x'), undefined);
  assert.equal(tmpfsOptionsToData({ SizeBytes: 1000 }, true), 'ro,size=1000');
  assert.equal(tmpfsOptionsToData({ SizeBytes: 2048, Options: [['exec']] }, false), 'size=2k,exec');
  assert.throws(() => tmpfsOptionsToData({ Options: [['suid']] }, false), {
    message: 'invalid option: suid',
  });
  assert.throws(() => tmpfsOptionsToData({ Options: [[]] }, false), {
    message: 'invalid option array length',
  });
});
