import { readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { checkHostPath, goPathError, hostPathAllowed, type HostPathType } from '../../../../agent/volumes/plugins/host-path.js';

/** A block device of this host, found under /dev (undefined when there is none to stat). */
const blockDevice = ((): string | undefined => {
  try {
    for (const name of readdirSync('/dev').sort()) {
      try {
        if (statSync(join('/dev', name)).isBlockDevice()) return join('/dev', name);
      } catch {
        // not stat-able: skip
      }
    }
  } catch {
    // no /dev
  }
  return undefined;
})();

let root: string;
let socketServer: Server | undefined;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dockerlet-hostpath-'));
});

afterEach(async () => {
  if (socketServer) await new Promise<void>((resolve) => socketServer!.close(() => resolve()));
  socketServer = undefined;
  await rm(root, { recursive: true, force: true });
});

async function unixSocket(path: string): Promise<void> {
  const server = createServer();
  socketServer = server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
}

async function entries(): Promise<string[]> {
  return (await readdir(root)).sort();
}

const failed = (path: string, what: string) => ({ ok: false, message: `hostPath type check failed: ${path} is not ${what}` });

describe('checkHostPath (checkType)', () => {
  test('"" checks nothing: a missing path passes and is not created', async () => {
    const path = join(root, 'missing');
    expect(await checkHostPath(path, '')).toEqual({ ok: true });
    expect(await entries()).toEqual([]);
  });

  test('a path with a ".." element is refused whatever the type (ValidatePathNoBacksteps)', async () => {
    const path = `${root}/a/../b`;
    expect(await checkHostPath(path, '')).toEqual({ ok: false, message: `invalid HostPath \`${path}\`: must not contain '..'` });
    expect(await checkHostPath(path, 'DirectoryOrCreate')).toEqual({ ok: false, message: `invalid HostPath \`${path}\`: must not contain '..'` });
    expect(await entries()).toEqual([]);
  });

  describe('DirectoryOrCreate', () => {
    test('a missing directory is created with its parents, mode 0755 whatever the umask', async () => {
      const path = join(root, 'a', 'b', 'c');
      const previous = process.umask(0o077);
      try {
        expect(await checkHostPath(path, 'DirectoryOrCreate')).toEqual({ ok: true });
      } finally {
        process.umask(previous);
      }
      for (const dir of [join(root, 'a'), join(root, 'a', 'b'), path]) {
        const stats = await stat(dir);
        expect(stats.isDirectory()).toBe(true);
        expect(stats.mode & 0o7777).toBe(0o755);
      }
    });

    test('an existing directory passes and keeps its mode', async () => {
      const path = join(root, 'dir');
      await mkdir(path, { mode: 0o700 });
      expect(await checkHostPath(path, 'DirectoryOrCreate')).toEqual({ ok: true });
      expect((await stat(path)).mode & 0o777).toBe(0o700);
    });

    test('an existing file fails as "is not a directory"', async () => {
      const path = join(root, 'file');
      await writeFile(path, 'x');
      expect(await checkHostPath(path, 'DirectoryOrCreate')).toEqual(failed(path, 'a directory'));
    });

    test("a file in the way of a parent fails with mkdir's error naming that parent, and creates nothing", async () => {
      await writeFile(join(root, 'file'), 'x');
      const path = join(root, 'file', 'sub', 'deeper');
      expect(await checkHostPath(path, 'DirectoryOrCreate')).toEqual({ ok: false, message: `mkdir ${join(root, 'file')}: not a directory` });
      expect(await entries()).toEqual(['file']);
    });

    test('a failure after parents were made removes those parents again', async () => {
      const path = join(root, 'new', 'parent', 'x'.repeat(300));
      expect(await checkHostPath(path, 'DirectoryOrCreate')).toEqual({ ok: false, message: `mkdir ${path}: file name too long` });
      expect(await entries()).toEqual([]);
    });
  });

  describe('Directory', () => {
    test('an existing directory passes', async () => {
      expect(await checkHostPath(root, 'Directory')).toEqual({ ok: true });
    });

    test('a symbolic link to a directory passes (links are followed)', async () => {
      await mkdir(join(root, 'real'));
      await symlink(join(root, 'real'), join(root, 'link'));
      expect(await checkHostPath(join(root, 'link'), 'Directory')).toEqual({ ok: true });
    });

    test('a missing path fails and is not created', async () => {
      const path = join(root, 'missing');
      expect(await checkHostPath(path, 'Directory')).toEqual(failed(path, 'a directory'));
      expect(await entries()).toEqual([]);
    });

    test('a file fails', async () => {
      const path = join(root, 'file');
      await writeFile(path, 'x');
      expect(await checkHostPath(path, 'Directory')).toEqual(failed(path, 'a directory'));
    });
  });

  describe('FileOrCreate', () => {
    test('a missing file is created empty with mode 0644 whatever the umask', async () => {
      const path = join(root, 'new.conf');
      const previous = process.umask(0o077);
      try {
        expect(await checkHostPath(path, 'FileOrCreate')).toEqual({ ok: true });
      } finally {
        process.umask(previous);
      }
      const stats = await stat(path);
      expect(stats.isFile()).toBe(true);
      expect(stats.size).toBe(0);
      expect(stats.mode & 0o7777).toBe(0o644);
    });

    test('an existing file passes and keeps its content', async () => {
      const path = join(root, 'file');
      await writeFile(path, 'content');
      expect(await checkHostPath(path, 'FileOrCreate')).toEqual({ ok: true });
      expect((await stat(path)).size).toBe(7);
    });

    test('a missing parent is not created: the open error names the path (os.OpenFile)', async () => {
      const path = join(root, 'missing-dir', 'file');
      expect(await checkHostPath(path, 'FileOrCreate')).toEqual({ ok: false, message: `open ${path}: no such file or directory` });
      expect(await entries()).toEqual([]);
    });

    test('an existing directory fails as "is not a file"', async () => {
      expect(await checkHostPath(root, 'FileOrCreate')).toEqual(failed(root, 'a file'));
    });
  });

  describe('File', () => {
    test('a regular file passes', async () => {
      const path = join(root, 'file');
      await writeFile(path, 'x');
      expect(await checkHostPath(path, 'File')).toEqual({ ok: true });
    });

    test('a missing file fails and is not created', async () => {
      const path = join(root, 'missing');
      expect(await checkHostPath(path, 'File')).toEqual(failed(path, 'a file'));
      expect(await entries()).toEqual([]);
    });

    test('a directory fails', async () => {
      expect(await checkHostPath(root, 'File')).toEqual(failed(root, 'a file'));
    });

    test('a character device is not a file', async () => {
      expect(await checkHostPath('/dev/null', 'File')).toEqual(failed('/dev/null', 'a file'));
    });
  });

  describe('Socket', () => {
    test('a unix socket passes', async () => {
      const path = join(root, 'app.sock');
      await unixSocket(path);
      expect(await checkHostPath(path, 'Socket')).toEqual({ ok: true });
    });

    test('a regular file fails', async () => {
      const path = join(root, 'file');
      await writeFile(path, 'x');
      expect(await checkHostPath(path, 'Socket')).toEqual(failed(path, 'a socket file'));
    });

    test('a missing path fails and is not created', async () => {
      const path = join(root, 'missing.sock');
      expect(await checkHostPath(path, 'Socket')).toEqual(failed(path, 'a socket file'));
      expect(await entries()).toEqual([]);
    });
  });

  describe('CharDevice', () => {
    test('/dev/null passes', async () => {
      expect(await checkHostPath('/dev/null', 'CharDevice')).toEqual({ ok: true });
    });

    test('a directory fails', async () => {
      expect(await checkHostPath(root, 'CharDevice')).toEqual(failed(root, 'a character device'));
    });

    test('a unix socket is not a character device', async () => {
      const path = join(root, 'app.sock');
      await unixSocket(path);
      expect(await checkHostPath(path, 'CharDevice')).toEqual(failed(path, 'a character device'));
    });
  });

  describe('BlockDevice', () => {
    test.runIf(blockDevice !== undefined)(`a block device of this host passes (${blockDevice ?? 'none found under /dev'})`, async () => {
      expect(await checkHostPath(blockDevice!, 'BlockDevice')).toEqual({ ok: true });
    });

    test(
      blockDevice === undefined
        ? 'no block device under /dev on this host: only the negative case is checked — a character device is not a block device'
        : 'a character device is not a block device',
      async () => {
        expect(await checkHostPath('/dev/null', 'BlockDevice')).toEqual(failed('/dev/null', 'a block device'));
      },
    );

    test('a missing path fails', async () => {
      const path = join(root, 'missing');
      expect(await checkHostPath(path, 'BlockDevice')).toEqual(failed(path, 'a block device'));
    });
  });

  test('an unknown type is refused with upstream\'s message', async () => {
    expect(await checkHostPath(root, 'Fifo' as HostPathType)).toEqual({ ok: false, message: 'Fifo is an invalid volume type' });
  });
});

describe('goPathError (*os.PathError)', () => {
  test('known errno codes read as Go prints them', () => {
    expect(goPathError('open', '/x', { code: 'ENOENT' })).toBe('open /x: no such file or directory');
    expect(goPathError('mkdir', '/x', { code: 'EEXIST' })).toBe('mkdir /x: file exists');
  });

  test("other codes keep Node's description", () => {
    const error = Object.assign(new Error("EXDEV: cross-device link not permitted, mkdir '/x'"), { code: 'EXDEV' });
    expect(goPathError('mkdir', '/x', error)).toBe('mkdir /x: cross-device link not permitted');
  });
});

describe('hostPathAllowed (allowedHostPaths prefixes)', () => {
  test('an empty list allows everything', () => {
    expect(hostPathAllowed('/etc/shadow', [])).toBe(true);
  });

  test('a prefix allows itself and what lies below it', () => {
    expect(hostPathAllowed('/data', ['/data'])).toBe(true);
    expect(hostPathAllowed('/data/x/y', ['/data'])).toBe(true);
  });

  test('whole path elements only: /data does not allow /database', () => {
    expect(hostPathAllowed('/database', ['/data'])).toBe(false);
    expect(hostPathAllowed('/dat', ['/data'])).toBe(false);
  });

  test('trailing slashes do not matter on either side', () => {
    expect(hostPathAllowed('/data/', ['/data'])).toBe(true);
    expect(hostPathAllowed('/data/x', ['/data/'])).toBe(true);
    expect(hostPathAllowed('/database', ['/data/'])).toBe(false);
  });

  test('"." and ".." are resolved before comparing: no escaping a prefix', () => {
    expect(hostPathAllowed('/data/../etc/shadow', ['/data'])).toBe(false);
    expect(hostPathAllowed('/data/./x', ['/data'])).toBe(true);
    expect(hostPathAllowed('/other/../data/x', ['/data'])).toBe(true);
    expect(hostPathAllowed('//data//x', ['/data'])).toBe(true);
  });

  test('any of several prefixes will do', () => {
    expect(hostPathAllowed('/var/log/app', ['/data', '/var/log'])).toBe(true);
    expect(hostPathAllowed('/var/lib', ['/data', '/var/log'])).toBe(false);
  });

  test('"/" allows every absolute path', () => {
    expect(hostPathAllowed('/anything/at/all', ['/'])).toBe(true);
  });

  test('a relative path is never allowed by a non-empty list, and a relative prefix allows nothing', () => {
    expect(hostPathAllowed('data/x', ['/data'])).toBe(false);
    expect(hostPathAllowed('/data/x', ['data'])).toBe(false);
  });
});
