/**
 * Registry credentials from a pod's imagePullSecrets, as the kubelet's credential keyring finds
 * them (pkg/credentialprovider): each Secret of type kubernetes.io/dockerconfigjson
 * (.dockerconfigjson: {"auths": {...}}) or kubernetes.io/dockercfg (.dockercfg: {...}) maps
 * registry locations to credentials. A location matches an image when its host matches the
 * image's registry label by label (a label may be a glob such as *.example.com), its port is the
 * same, and its path is a prefix of the image's repository path (a plain string prefix, as
 * upstream's); Docker Hub's aliases
 * (index.docker.io, registry-1.docker.io, docker.io, with /v1/ or /v2/) all stand for Docker Hub.
 * As in the kubelet's one keyring for all of a pod's pull Secrets, matching locations come in
 * reverse byte order of their host[:port][/path] (the most specific first), and the credentials
 * of one location in the Secrets' order; the kubelet tries them in turn until a pull succeeds.
 * A pull Secret whose docker config is not JSON fails the pull, naming the Secret.
 */
import type { Secret } from '../../common/api/types.js';
import type { RegistryAuth } from '../runtime/runtime.js';

export interface DockerConfigEntry {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** Registry locations and their credentials: a config.json's `auths`, a .dockercfg's whole content. */
export type DockerConfig = Record<string, DockerConfigEntry>;

export const DockerConfigJsonType = 'kubernetes.io/dockerconfigjson';
export const DockerCfgType = 'kubernetes.io/dockercfg';

const DockerHub = 'index.docker.io';
const DockerHubAliases = new Set([DockerHub, 'docker.io', 'registry-1.docker.io']);

interface Location {
  host: string;
  port: string;
  path: string;
}

/** A registry location of a docker config (a URL or host[:port][/path]). */
function parseLocation(key: string): Location | undefined {
  let url: URL;
  try {
    url = new URL(/^https?:\/\//.test(key) ? key : `https://${key}`);
  } catch {
    return undefined;
  }
  let path = url.pathname.replace(/^\/v[12]\//, '/').replace(/^\/+|\/+$/g, '');
  const host = DockerHubAliases.has(url.hostname) ? DockerHub : url.hostname.toLowerCase();
  if (host === DockerHub && path === 'v1') path = '';
  return { host, port: url.port, path };
}

/** The registry and repository path of an image reference (tag and digest left off). */
export function imageLocation(image: string): Location {
  const name = image.replace(/@.*$/, '').replace(/:[^:/]+$/, '');
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  if (!first || (!first.includes('.') && !first.includes(':') && first !== 'localhost')) {
    return { host: DockerHub, port: '', path: slash === -1 ? `library/${name}` : name };
  }
  const [host, port = ''] = first.split(':') as [string, string?];
  return { host: DockerHubAliases.has(host.toLowerCase()) ? DockerHub : host.toLowerCase(), port, path: name.slice(slash + 1) };
}

function globLabel(glob: string, label: string): boolean {
  const pattern = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^.]*').replaceAll('?', '[^.]');
  return new RegExp(`^${pattern}$`).test(label);
}

/** URLsMatch: same port, host matching label by label, the location's path a prefix of the image's. */
function matches(location: Location, image: Location): boolean {
  if (location.port !== image.port) return false;
  const globs = location.host.split('.');
  const labels = image.host.split('.');
  if (globs.length !== labels.length || !globs.every((glob, i) => globLabel(glob, labels[i]!))) return false;
  return image.path.startsWith(location.path);
}

/** A docker config's registry entries: `config.json` (its `auths`) or the older `.dockercfg` (the whole object). Throws when it is not JSON. */
export function parseDockerConfig(text: string, format: 'config.json' | '.dockercfg'): DockerConfig {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const entries = format === 'config.json' ? parsed['auths'] : parsed;
  return typeof entries === 'object' && entries !== null ? (entries as DockerConfig) : {};
}

/** The registry entries of a pull Secret; a Secret of another type has none. Throws on one that is not JSON. */
function dockerConfig(secret: Secret): DockerConfig {
  const field = secret.type === DockerConfigJsonType ? '.dockerconfigjson' : secret.type === DockerCfgType ? '.dockercfg' : undefined;
  const encoded = field ? secret.data?.[field] : undefined;
  if (!encoded) return {};
  try {
    return parseDockerConfig(Buffer.from(encoded, 'base64').toString('utf8'), field === '.dockerconfigjson' ? 'config.json' : '.dockercfg');
  } catch (err) {
    throw new Error(`image pull Secret ${secret.metadata?.namespace ?? 'default'}/${secret.metadata?.name ?? ''}: data[${field}]: ${(err as Error).message}`);
  }
}

/** An entry's credentials; its `auth` (base64 of user:password), when there is one, wins over username and password. */
function registryAuth(entry: DockerConfigEntry, serveraddress: string): RegistryAuth {
  let { username, password } = entry;
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) [username, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
  }
  return {
    serveraddress,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(entry.email ? { email: entry.email } : {}),
    ...(entry.identitytoken ? { identitytoken: entry.identitytoken } : {}),
    ...(entry.registrytoken ? { registrytoken: entry.registrytoken } : {}),
  };
}

/** One keyring of `configs`: the credentials matching `target`, the most specific location first, a location's in the configs' order. */
function keyringLookup(configs: readonly DockerConfig[], target: Location): RegistryAuth[] {
  const byLocation = new Map<string, RegistryAuth[]>();
  for (const config of configs) {
    for (const [key, entry] of Object.entries(config)) {
      const location = parseLocation(key);
      if (!location || !matches(location, target)) continue;
      const hostPort = location.port ? `${location.host}:${location.port}` : location.host;
      const index = location.path ? `${hostPort}/${location.path}` : hostPort;
      byLocation.set(index, [...(byLocation.get(index) ?? []), registryAuth(entry, hostPort)]);
    }
  }
  const reverseByteOrder = (a: string, b: string): number => (a < b ? 1 : a > b ? -1 : 0);
  return [...byLocation.keys()].sort(reverseByteOrder).flatMap((index) => byLocation.get(index)!);
}

/**
 * The credentials to try for `image`, in order: the pod's pull Secrets' keyring first, then the
 * node's own (its docker config files: node-credentials.ts); none: pull anonymously.
 */
export function credentialsFor(image: string, secrets: readonly Secret[], node: DockerConfig = {}): RegistryAuth[] {
  const target = imageLocation(image);
  return [...keyringLookup(secrets.map(dockerConfig), target), ...keyringLookup([node], target)];
}
