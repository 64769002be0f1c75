/**
 * Where the agent's resident memory starts from: the RSS of a bare node process, and what each
 * runtime dependency adds when it alone is imported into one (shared code such as a library
 * both import is counted in each). Read next to the agent's RSS and V8 heap, it tells how much
 * of the RSS is the platform and the libraries rather than the agent's own state.
 */
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const Repository = resolve(import.meta.dirname, '../../..');

async function rssAfterImport(module: string | undefined): Promise<number> {
  const script = `${module ? `await import(${JSON.stringify(module)});` : ''} process.stdout.write(String(process.memoryUsage().rss));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: Repository });
  return Number(stdout) / 1e6;
}

export interface ModuleFootprint {
  nodeAloneMB: number;
  /** MB the CLI's modules (every command's, as `dockerlet up` loads them before it starts) add to a bare node process. */
  cliModulesMB: number;
  /** MB each dependency adds to a bare node process, largest first. */
  added: Array<{ module: string; mb: number }>;
}

/** Whether a dependency has code to load: a package of type declarations alone (kubernetes-types) has none. */
async function hasCode(module: string): Promise<boolean> {
  const dir = resolve(Repository, 'node_modules', module);
  const manifest = JSON.parse(await readFile(resolve(dir, 'package.json'), 'utf8')) as { main?: string; exports?: unknown };
  return manifest.main !== undefined || manifest.exports !== undefined || (await access(resolve(dir, 'index.js')).then(() => true, () => false));
}

export async function moduleFootprint(): Promise<ModuleFootprint> {
  const manifest = JSON.parse(await readFile(resolve(Repository, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const nodeAloneMB = await rssAfterImport(undefined);
  const cliModulesMB = (await rssAfterImport(resolve(Repository, 'dist/cli/commands.js'))) - nodeAloneMB;
  const added: ModuleFootprint['added'] = [];
  for (const module of Object.keys(manifest.dependencies)) if (await hasCode(module)) added.push({ module, mb: (await rssAfterImport(module)) - nodeAloneMB });
  return { nodeAloneMB, cliModulesMB, added: added.sort((a, b) => b.mb - a.mb) };
}
