/**
 * The bytes a container's json-file logs hold on disk: the live file and the ones Docker rotated
 * beside it (`<id>-json.log.1`, ... and `.gz` when compressed), as the kubelet counts a
 * container's logs in its ephemeral storage.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function logFilesBytes(logPath: string | undefined): Promise<number> {
  if (!logPath) return 0;
  const name = basename(logPath);
  const dir = dirname(logPath);
  const entries = await readdir(dir).catch(() => []);
  const sizes = await Promise.all(
    entries.filter((entry) => entry === name || entry.startsWith(`${name}.`)).map(async (entry) => (await stat(join(dir, entry)).catch(() => undefined))?.size ?? 0),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}
