/**
 * The cluster's kubeconfigs, with the certificates inside (the *-data fields), so that a copy
 * works anywhere: one per component, and admin.kubeconfig for the user. With
 * `--merge-kubeconfig` the admin's cluster, user and context, all named dockerlet-<name> (as
 * kind names its kind-<name>), go into the user's kubeconfig too, made the current context;
 * `cluster down` takes them out again.
 */
import { existsSync } from 'node:fs';
import { chmod, chown, readFile, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { DockerletError, errorMessage } from '../../common/api/errors.js';
import { writeFileDurably } from '../../common/util/durable-file.js';
import type { ClusterLayout } from './cluster-layout.js';

type Named = { name: string } & Record<string, unknown>;
interface Kubeconfig {
  apiVersion?: string;
  kind?: string;
  clusters?: Named[];
  users?: Named[];
  contexts?: Named[];
  'current-context'?: string;
  [field: string]: unknown;
}

/** The name of the cluster, user and context of cluster `name` in a merged kubeconfig. */
export const contextName = (name: string): string => `dockerlet-${name}`;

/** The kubeconfig file kubectl writes a new context to: the first of $KUBECONFIG that exists, else its last, else ~/.kube/config. */
export function defaultKubeconfigPath(): string {
  const listed = (process.env.KUBECONFIG ?? '').split(':').filter((path) => path !== '');
  return listed.find((path) => existsSync(path)) ?? listed.at(-1) ?? join(homedir(), '.kube', 'config');
}

const base64 = async (path: string): Promise<string> => (await readFile(path)).toString('base64');

/** Writes the kubeconfig of a client-certificate identity (pki/<identity>.crt) for `server`. */
export async function writeKubeconfig(layout: ClusterLayout, file: string, server: string, name: string, identity: string): Promise<void> {
  const credentials = layout.pki(identity);
  const config: Kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': await base64(layout.pki('ca').cert) } }],
    users: [{ name, user: { 'client-certificate-data': await base64(credentials.cert), 'client-key-data': await base64(credentials.key) } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  };
  await writeFileDurably(file, stringify(config), 0o600);
}

/** Puts the admin kubeconfig's cluster, user and context into `target` (made when missing) and makes the context current. */
export async function mergeKubeconfig(adminKubeconfig: string, target: string): Promise<void> {
  const admin = parse(await readFile(adminKubeconfig, 'utf8')) as Kubeconfig;
  const name = admin['current-context']!;
  const config = await readKubeconfig(target);
  const upsert = (list: Named[] | undefined, entry: Named | undefined): Named[] => [...(list ?? []).filter((item) => item.name !== name), ...(entry ? [entry] : [])];
  config.clusters = upsert(config.clusters, admin.clusters?.[0]);
  config.users = upsert(config.users, admin.users?.[0]);
  config.contexts = upsert(config.contexts, admin.contexts?.[0]);
  config['current-context'] = name;
  await writeInPlace(target, stringify(config));
}

/** Takes context `name` (and its cluster and user) out of `target`, if it is there; the current context is unset if it was that one. */
export async function unmergeKubeconfig(name: string, target: string): Promise<void> {
  if (!existsSync(target)) return;
  const config = await readKubeconfig(target);
  const without = (list: Named[] | undefined): Named[] => (list ?? []).filter((item) => item.name !== name);
  config.clusters = without(config.clusters);
  config.users = without(config.users);
  config.contexts = without(config.contexts);
  if (config['current-context'] === name) config['current-context'] = '';
  await writeInPlace(target, stringify(config));
}

/**
 * Writes a user's kubeconfig as it is: through a symlink to the file it names, keeping the
 * file's owner and mode (root, under sudo, must not take a user's file over); a new one is 0600,
 * owned with its new directories by whoever owns the nearest directory that was there.
 */
async function writeInPlace(target: string, text: string): Promise<void> {
  const path = await realpath(target).catch(() => target);
  const existing = await stat(path).catch(() => undefined);
  let ancestor = dirname(path);
  const made: string[] = [];
  while (!existsSync(ancestor)) {
    made.push(ancestor);
    ancestor = dirname(ancestor);
  }
  const owner = existing ?? (await stat(ancestor));
  await writeFileDurably(path, text, 0o600);
  await chmod(path, existing ? existing.mode & 0o777 : 0o600);
  for (const entry of [path, ...made]) await chown(entry, owner.uid, owner.gid);
}

async function readKubeconfig(path: string): Promise<Kubeconfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [], 'current-context': '' };
    throw err;
  }
  try {
    const parsed = (parse(text) ?? {}) as unknown;
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a mapping');
    return parsed as Kubeconfig;
  } catch (err) {
    throw new DockerletError('DKL_ERR_CONFIG_INVALID', `${path}: not a kubeconfig (${errorMessage(err)}); fix it or merge into another file with KUBECONFIG=<file>`);
  }
}
