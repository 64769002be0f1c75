/**
 * Registry credentials from a pod's imagePullSecrets, as the kubelet's credential keyring finds
 * them (pkg/credentialprovider): each Secret of type kubernetes.io/dockerconfigjson
 * (.dockerconfigjson: {"auths": {...}}) or kubernetes.io/dockercfg (.dockercfg: {...}) maps
 * registry locations to credentials. A location matches an image when its host matches the
 * image's registry label by label (a label may be a glob such as *.example.com), its port is the
 * same, and its path is a prefix of the image's repository path (a plain string prefix, as
 * upstream's); Docker Hub's aliases
 * (index.docker.io, registry-1.docker.io, docker.io, with /v1/ or /v2/) all stand for Docker Hub.
 * The matches come Secret by Secret, the most specific location first, and the kubelet tries
 * them in that order until a pull succeeds.
 */
import type { Secret } from '../api/types.js';

/** What the Docker engine takes as X-Registry-Auth. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface DockerConfigEntry {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  identitytoken?: string;
  registrytoken?: string;
}

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

/** The registry entries of a pull Secret; a Secret of another type, or unreadable, has none. */
function dockerConfig(secret: Secret): Record<string, DockerConfigEntry> {
  const field = secret.type === DockerConfigJsonType ? '.dockerconfigjson' : secret.type === DockerCfgType ? '.dockercfg' : undefined;
  const encoded = field ? secret.data?.[field] : undefined;
  if (!encoded) return {};
  try {
    const parsed = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as Record<string, unknown>;
    const entries = secret.type === DockerConfigJsonType ? parsed['auths'] : parsed;
    return typeof entries === 'object' && entries !== null ? (entries as Record<string, DockerConfigEntry>) : {};
  } catch {
    return {};
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

/** The credentials to try for `image`, in order; none: pull anonymously. */
export function credentialsFor(image: string, secrets: readonly Secret[]): RegistryAuth[] {
  const target = imageLocation(image);
  const credentials: RegistryAuth[] = [];
  for (const secret of secrets) {
    const located = Object.entries(dockerConfig(secret)).flatMap(([key, entry]) => {
      const location = parseLocation(key);
      return location && matches(location, target) ? [{ location, entry }] : [];
    });
    const specificFirst = (l: Location): string => `${l.host}:${l.port}/${l.path}`;
    located.sort((a, b) => specificFirst(b.location).localeCompare(specificFirst(a.location)));
    for (const { location, entry } of located) credentials.push(registryAuth(entry, location.port ? `${location.host}:${location.port}` : location.host));
  }
  return credentials;
}
