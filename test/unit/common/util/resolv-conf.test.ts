import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { parseResolvConf, readHostResolvConf } from '../../../../common/util/resolv-conf.js';

describe('parseResolvConf', () => {
  test('nameservers accumulate, search and options are read', () => {
    const text = '# generated\nnameserver 192.168.1.1\nnameserver 192.168.1.2\nsearch corp.example lab.example\noptions ndots:2 edns0\n';
    expect(parseResolvConf(text)).toEqual({ nameservers: ['192.168.1.1', '192.168.1.2'], searches: ['corp.example', 'lab.example'], options: ['ndots:2', 'edns0'] });
  });

  test('the last search line wins', () => {
    expect(parseResolvConf('search a.example\nsearch b.example\n').searches).toEqual(['b.example']);
  });

  test('search domains lose a trailing dot, and "." is dropped', () => {
    expect(parseResolvConf('search corp.example. . lab.example\n').searches).toEqual(['corp.example', 'lab.example']);
  });

  test('options accumulate; a later option replaces an earlier one of the same name', () => {
    expect(parseResolvConf('options ndots:2 timeout:1\noptions ndots:3 rotate\n').options).toEqual(['ndots:3', 'timeout:1', 'rotate']);
  });

  test('comment lines, blank lines, indentation and other keywords are ignored (domain included, as the kubelet does)', () => {
    const text = '\n  # nameserver 1.1.1.1\n   nameserver 9.9.9.9  \ndomain corp.example\nsortlist 130.155.160.0/255.255.240.0\nnameserver\n';
    expect(parseResolvConf(text)).toEqual({ nameservers: ['9.9.9.9'], searches: [], options: [] });
  });
});

describe('readHostResolvConf', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  async function files(host: string, stubUpstreams?: string): Promise<{ host: string; stub: string }> {
    dir = await mkdtemp(join(tmpdir(), 'resolv-'));
    const paths = { host: join(dir, 'resolv.conf'), stub: join(dir, 'stub-resolv.conf') };
    await writeFile(paths.host, host);
    if (stubUpstreams !== undefined) await writeFile(paths.stub, stubUpstreams);
    return paths;
  }

  test('a file of real nameservers is taken as it is', async () => {
    const paths = await files('nameserver 192.0.2.53\nsearch corp.test\n', 'nameserver 198.51.100.1\n');
    expect(await readHostResolvConf(paths.host, paths.stub)).toEqual({ conf: { nameservers: ['192.0.2.53'], searches: ['corp.test'], options: [] }, from: paths.host });
  });

  test("only a loopback stub (systemd-resolved's 127.0.0.53): the servers it forwards to, with their search domains", async () => {
    const paths = await files('nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.test\n', 'nameserver 198.51.100.1\nnameserver 127.0.0.1\nsearch lan.test\n');
    expect(await readHostResolvConf(paths.host, paths.stub)).toEqual({ conf: { nameservers: ['198.51.100.1'], searches: ['lan.test'], options: [] }, from: paths.stub });
  });

  test("another loopback resolver is kept (a test's own), and so is the stub when systemd-resolved lists no server; a missing file reads as empty", async () => {
    const paths = await files('nameserver 127.0.0.1\n', 'nameserver 198.51.100.1\n');
    expect((await readHostResolvConf(paths.host, paths.stub)).conf.nameservers).toEqual(['127.0.0.1']);
    await writeFile(paths.host, 'nameserver 127.0.0.53\n');
    await rm(paths.stub);
    expect((await readHostResolvConf(paths.host, paths.stub)).conf.nameservers).toEqual(['127.0.0.53']);
    expect((await readHostResolvConf(join(dir, 'absent'), paths.stub)).conf).toEqual({ nameservers: [], searches: [], options: [] });
  });
});
