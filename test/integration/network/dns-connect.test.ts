// A running container that joins a user network (`docker network connect`) is pointed at that network's
// embedded DNS: its resolv.conf is rewritten through the bind-mounted inode, peers resolve by name and
// external names are still forwarded; leaving the network points it back at the upstream servers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  readResolvConfFile,
  replaceNameservers,
  writeResolvConfInPlace,
} from '../../../src/network/files.js';
import type { TestDaemon } from '../../helpers/daemon.js';
import { haveCommand, isRoot } from '../../helpers/index.js';
import { DOCKER, daemonWithBusybox, type Result, runTool } from '../build/helpers.js';

const skip = !isRoot() ? 'needs root' : !haveCommand('runc') ? 'needs runc' : false;

test('replaceNameservers keeps search, options and comments, adds ndots:0 for an embedded server', () => {
  const host =
    '# generated\nsearch example.com\nnameserver 192.0.2.1\nnameserver 192.0.2.2\noptions rotate\n';
  assert.equal(
    replaceNameservers(host, ['10.202.0.1'], { embedded: true }),
    '# generated\nsearch example.com\nnameserver 10.202.0.1\noptions rotate ndots:0\n',
  );
  // A chosen ndots stays; no options line gets one.
  assert.equal(
    replaceNameservers('nameserver 192.0.2.1\noptions ndots:2\n', ['10.202.0.1'], { embedded: true }),
    'nameserver 10.202.0.1\noptions ndots:2\n',
  );
  assert.equal(
    replaceNameservers('search a\n', ['10.202.0.1'], { embedded: true }),
    'search a\nnameserver 10.202.0.1\noptions ndots:0\n',
  );
  // Back to upstreams: the nameservers change, nothing else.
  assert.equal(
    replaceNameservers('search a\nnameserver 10.202.0.1\noptions ndots:0\n', ['192.0.2.1', '192.0.2.2']),
    'search a\nnameserver 192.0.2.1\nnameserver 192.0.2.2\noptions ndots:0\n',
  );
  // Malformed input is passed through, never thrown on.
  assert.equal(
    replaceNameservers('nameserver\n\x00junk', ['10.0.0.1']),
    'nameserver\n\x00junk\nnameserver 10.0.0.1\n',
  );
});

test('writeResolvConfInPlace keeps the inode and refuses links; reading a missing file is undefined', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-resolv-'));
  try {
    const file = join(dir, 'resolv.conf');
    writeFileSync(file, 'nameserver 192.0.2.1\nnameserver 192.0.2.2\noptions rotate timeout:1\n');
    const ino = statSync(file).ino;
    await writeResolvConfInPlace(file, 'nameserver 10.0.0.1\n');
    assert.equal(statSync(file).ino, ino);
    assert.equal(await readFile(file, 'utf8'), 'nameserver 10.0.0.1\n', 'a shorter text leaves no old tail');
    const link = join(dir, 'link');
    symlinkSync(file, link);
    await assert.rejects(writeResolvConfInPlace(link, 'nameserver 10.0.0.2\n'));
    assert.equal(await readResolvConfFile(link), undefined);
    assert.equal(await readResolvConfFile(join(dir, 'missing')), undefined);
    assert.equal(await readResolvConfFile(dir), undefined, 'a directory is not a resolv.conf');
    await assert.rejects(writeResolvConfInPlace(join(dir, 'missing'), 'x\n'), { code: 'ENOENT' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('network connect of a running container: peers resolve by name, external names still do', {
  skip,
}, async () => {
  const d: TestDaemon = await daemonWithBusybox();
  const docker = (...args: string[]): Promise<Result> => runTool(DOCKER, args, d.env);
  const ok = async (...args: string[]): Promise<string> => {
    const r = await docker(...args);
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  // Upstream DNS here sometimes drops a query: an external lookup gets three tries before it counts as failed.
  const lookupExternal = async (): Promise<Result> => {
    let r = await docker('exec', 'first', 'nslookup', 'deb.debian.org');
    for (let i = 0; i < 2 && r.status !== 0; i++)
      r = await docker('exec', 'first', 'nslookup', 'deb.debian.org');
    return r;
  };
  try {
    await ok('network', 'create', 'dnsnet');
    const gateway = (
      await ok('network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Gateway}}{{end}}', 'dnsnet')
    ).trim();
    await ok('run', '-d', '--name', 'peer', '--network', 'dnsnet', 'busybox', 'sleep', '600');
    await ok('run', '-d', '--name', 'first', 'busybox', 'sleep', '600');
    const resolvPath = (await ok('inspect', '-f', '{{.ResolvConfPath}}', 'first')).trim();
    const ino = statSync(resolvPath).ino;
    const before = await ok('exec', 'first', 'cat', '/etc/resolv.conf');
    assert.ok(
      !before.includes(`nameserver ${gateway}\n`),
      `on the default bridge: no embedded DNS: ${before}`,
    );
    assert.match(before, /^nameserver /m, before);
    const extBefore = await lookupExternal();
    assert.equal(
      extBefore.status,
      0,
      `the host's resolvers answer on the default bridge: ${extBefore.stdout}`,
    );
    assert.equal((await docker('exec', 'first', 'nslookup', 'peer')).status === 0, false, 'peer unknown yet');

    await ok('network', 'connect', 'dnsnet', 'first');
    const peerIp = (
      await ok('inspect', '-f', '{{.NetworkSettings.Networks.dnsnet.IPAddress}}', 'peer')
    ).trim();
    const after = await ok('exec', 'first', 'cat', '/etc/resolv.conf');
    assert.match(after, new RegExp(`^nameserver ${gateway.replaceAll('.', '\\.')}$`, 'm'), after);
    assert.equal(after.match(/^nameserver /gm)?.length, 1, after);
    assert.match(after, /^options .*ndots:0/m, after);
    assert.equal(statSync(resolvPath).ino, ino, 'rewritten through the bind-mounted inode');

    const lookup = await docker('exec', 'first', 'nslookup', 'peer');
    assert.equal(lookup.status, 0, lookup.stdout + lookup.stderr);
    assert.ok(lookup.stdout.includes(peerIp), `peer is ${peerIp}: ${lookup.stdout}`);
    const ping = await docker('exec', 'first', 'ping', '-c1', '-W3', 'peer');
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);

    // External names: forwarded to the servers the container used before, with the same outcome.
    const extAfter = await lookupExternal();
    assert.equal(extAfter.status, extBefore.status, `before: ${extBefore.stdout}\nafter: ${extAfter.stdout}`);
    const bogus = await docker('exec', 'first', 'nslookup', 'nosuch-berth-test.invalid');
    assert.notEqual(bogus.status, 0, bogus.stdout);

    // Leaving the network: back to upstream servers, which still answer external names.
    await ok('network', 'disconnect', 'dnsnet', 'first');
    const left = await ok('exec', 'first', 'cat', '/etc/resolv.conf');
    assert.ok(!left.includes(`nameserver ${gateway}\n`), left);
    assert.match(left, /^nameserver /m, left);
    assert.equal(statSync(resolvPath).ino, ino);
    const extLeft = await lookupExternal();
    assert.equal(extLeft.status, extBefore.status, extLeft.stdout);
  } finally {
    await docker('rm', '-f', 'first', 'peer');
    await docker('network', 'rm', 'dnsnet');
    await d.stop();
  }
});

test('--link on a user network: the alias resolves for the linking container only', { skip }, async () => {
  const d: TestDaemon = await daemonWithBusybox();
  const docker = (...args: string[]): Promise<Result> => runTool(DOCKER, args, d.env);
  const ok = async (...args: string[]): Promise<string> => {
    const r = await docker(...args);
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  try {
    await ok('network', 'create', 'linknet');
    await ok('run', '-d', '--name', 'db', '--network', 'linknet', 'busybox', 'sleep', '600');
    await ok(
      'run',
      '-d',
      '--name',
      'web',
      '--network',
      'linknet',
      '--link',
      'db:store',
      'busybox',
      'sleep',
      '600',
    );
    await ok('run', '-d', '--name', 'other', '--network', 'linknet', 'busybox', 'sleep', '600');
    const dbIp = (await ok('inspect', '-f', '{{.NetworkSettings.Networks.linknet.IPAddress}}', 'db')).trim();
    const viaLink = await docker('exec', 'web', 'nslookup', 'store');
    assert.equal(viaLink.status, 0, viaLink.stdout + viaLink.stderr);
    assert.ok(viaLink.stdout.includes(dbIp), `store is db (${dbIp}): ${viaLink.stdout}`);
    const elsewhere = await docker('exec', 'other', 'nslookup', 'store');
    assert.notEqual(elsewhere.status, 0, `only web has the link: ${elsewhere.stdout}`);
    assert.match(
      await ok('inspect', '-f', '{{json .NetworkSettings.Networks.linknet.Links}}', 'web'),
      /"db:store"/,
    );
    // A malformed link is refused, naming it.
    const bad = await docker(
      'run',
      '--rm',
      '--network',
      'linknet',
      '--link',
      'db:st/../x:y',
      'busybox',
      'true',
    );
    assert.notEqual(bad.status, 0);
  } finally {
    await d.stop();
  }
});
