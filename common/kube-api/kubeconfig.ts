/**
 * A kubeconfig file, read as client-go's clientcmd reads one for kubectl, and the credentials
 * of its current context applied to Node https requests. One file only: the agent's
 * `--kubeconfig` names one, so there is no KUBECONFIG list to merge.
 *
 * - The YAML is decoded as go-yaml decodes it (YAML 1.1, no duplicate keys) into typed
 *   clusters, users and contexts; a value of the wrong type anywhere in the file is an error
 *   naming its field (`users[0].user.client-key: must be a string`), as Go's decoder fails on
 *   it. Fields dockerlet has no use for (preferences, a context's namespace) are read or
 *   ignored; unknown fields are ignored, as client-go ignores them.
 * - Relative paths (certificate-authority, client-certificate, client-key, tokenFile, and an
 *   exec command that contains a `/`) are relative to the kubeconfig's directory, as clientcmd
 *   resolves them.
 * - Only the current context, its cluster and its user must be usable (clientcmd's
 *   ConfirmUsable): a server, an https:// one; not both a file and its -data; a key with a
 *   certificate; not a token and basic auth together; no CA with insecure-skip-tls-verify; the
 *   files it names readable. What dockerlet does not do is an error naming the field:
 *   auth-provider (the deprecated gcp, azure and oidc providers: use an exec plugin),
 *   impersonation (as, as-uid, as-groups, as-user-extra), proxy-url, and interactiveMode
 *   Always (exec plugins run without a terminal).
 * - Per request: the CA, the client certificate and key, and the token file are read again
 *   each time (they are small, and all of them may be rotated in place); a token file that
 *   cannot be read falls back to the last token read from it, then to `token`, as client-go's
 *   caching token source does. `-data` fields are decoded once.
 * - Exec plugins (client.authentication.k8s.io/v1 and v1beta1) run only when the user has no
 *   token, token file, basic auth or client certificate, as in client-go. The command gets
 *   the process's environment, the plugin's `env`, and KUBERNETES_EXEC_INFO (an
 *   ExecCredential with spec.interactive false, and spec.cluster when provideClusterInfo); its
 *   stdin is /dev/null. The credential it prints (a token, or a client certificate and key) is
 *   kept until its expirationTimestamp (for ever without one), or until the server answers 401
 *   to a request that used it (`AppliedCredentials.rejected`); concurrent requests share one
 *   run of the plugin.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import type { RequestOptions } from 'node:https';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { errorMessage } from '../api/errors.js';

/** An error in a kubeconfig: `detail` names the field (`users[0].user.client-key: ...`); the message adds the file. */
export class KubeconfigError extends Error {
  readonly file: string;
  readonly detail: string;

  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    super(`${file}: ${detail}`, options);
    this.name = 'KubeconfigError';
    this.file = file;
    this.detail = detail;
  }
}

export const ExecApiVersions = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;
export type ExecApiVersion = (typeof ExecApiVersions)[number];
export const ExecInteractiveModes = ['Never', 'IfAvailable', 'Always'] as const;
export type ExecInteractiveMode = (typeof ExecInteractiveModes)[number];

/** The extension of a cluster that is given to its exec plugin as spec.cluster.config. */
export const ExecClusterExtension = 'client.authentication.k8s.io/exec';

export interface Cluster {
  server: string;
  /** An absolute path. */
  certificateAuthority?: string;
  certificateAuthorityData?: Buffer;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
  /** Not supported: an error when the current context's cluster has one. */
  proxyUrl?: string;
  /** The cluster's extensions, by name. */
  extensions: ReadonlyMap<string, unknown>;
}

export interface ExecConfig {
  apiVersion: string;
  /** An absolute path when the kubeconfig's command had a `/` in it; looked up on PATH otherwise. */
  command: string;
  args: string[];
  env: Array<{ name: string; value: string }>;
  installHint?: string;
  provideClusterInfo: boolean;
  /** As given; client-go defaults it to IfAvailable for v1beta1 and requires it for v1. */
  interactiveMode?: string;
}

export interface AuthInfo {
  /** Absolute paths. */
  clientCertificate?: string;
  clientCertificateData?: Buffer;
  clientKey?: string;
  clientKeyData?: Buffer;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  /** Not supported: the name of the auth-provider given, an error when the current user has one. */
  authProvider?: string;
  /** Not supported: the first impersonation field given (as, as-uid, as-groups, as-user-extra). */
  impersonation?: string;
}

export interface Context {
  cluster: string;
  user: string;
  namespace?: string;
}

/** A kubeconfig as its file says, with relative paths made absolute. */
export interface Kubeconfig {
  /** The file, absolute. */
  path: string;
  clusters: Array<{ name: string; cluster: Cluster }>;
  users: Array<{ name: string; user: AuthInfo }>;
  contexts: Array<{ name: string; context: Context }>;
  /** '' when unset. */
  currentContext: string;
}

type Fields = Record<string, unknown>;

/**
 * kubeconfigs are read with go-yaml, a YAML 1.1 parser that rejects duplicate keys;
 * timestamps stay strings.
 */
const YamlOptions = {
  version: '1.1',
  uniqueKeys: true,
  prettyErrors: true,
  customTags: (tags: Array<string | { tag: string }>) => tags.filter((tag) => (typeof tag === 'string' ? tag !== 'timestamp' : tag.tag !== 'tag:yaml.org,2002:timestamp')),
} as const;

/** Reads the kubeconfig at `path`; rejects with a KubeconfigError. */
export async function loadKubeconfig(path: string): Promise<Kubeconfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new KubeconfigError(path, errorMessage(err), { cause: err });
  }
  return parseKubeconfig(text, path);
}

/** Parses a kubeconfig's text; relative paths are made relative to `path`'s directory. */
export function parseKubeconfig(text: string, path: string): Kubeconfig {
  const file = resolve(path);
  const fail = (detail: string): never => {
    throw new KubeconfigError(path, detail);
  };
  const document = parseDocument(text, YamlOptions as Parameters<typeof parseDocument>[1]);
  if (document.errors.length > 0) fail(`not YAML: ${document.errors[0]!.message}`);
  const root: unknown = document.toJS();
  if (root === null || root === undefined) return { path: file, clusters: [], users: [], contexts: [], currentContext: '' };
  const top = mapping(root, '', fail);
  const kind = optionalString(top, 'kind', '', fail);
  if (kind !== undefined && kind !== 'Config') fail(`kind: ${kind}, not Config`);
  const apiVersion = optionalString(top, 'apiVersion', '', fail);
  if (apiVersion !== undefined && apiVersion !== 'v1') fail(`apiVersion: ${apiVersion}, not v1`);
  const base = dirname(file);
  const local = (value: string | undefined): string | undefined => (value ? resolve(base, value) : undefined);

  const clusters = namedList(top, 'clusters', 'cluster', fail).map(({ name, value, field }) => ({ name, cluster: readCluster(value, field, local, fail) }));
  const users = namedList(top, 'users', 'user', fail).map(({ name, value, field }) => ({ name, user: readAuthInfo(value, field, local, fail) }));
  const contexts = namedList(top, 'contexts', 'context', fail).map(({ name, value, field }) => ({
    name,
    context: {
      cluster: optionalString(value, 'cluster', field, fail) ?? '',
      user: optionalString(value, 'user', field, fail) ?? '',
      ...defined('namespace', optionalString(value, 'namespace', field, fail)),
    },
  }));
  return { path: file, clusters, users, contexts, currentContext: optionalString(top, 'current-context', '', fail) ?? '' };
}

function readCluster(fields: Fields, field: string, local: (path: string | undefined) => string | undefined, fail: (detail: string) => never): Cluster {
  const string = (key: string): string | undefined => optionalString(fields, key, field, fail);
  const extensions = new Map<string, unknown>();
  for (const { name, value } of namedList(fields, 'extensions', 'extension', fail, field, true)) extensions.set(name, value);
  return {
    server: string('server') ?? '',
    ...defined('certificateAuthority', local(string('certificate-authority'))),
    ...defined('certificateAuthorityData', optionalData(fields, 'certificate-authority-data', field, fail)),
    insecureSkipTlsVerify: optionalBoolean(fields, 'insecure-skip-tls-verify', field, fail) ?? false,
    ...defined('tlsServerName', string('tls-server-name')),
    ...defined('proxyUrl', string('proxy-url')),
    extensions,
  };
}

function readAuthInfo(fields: Fields, field: string, local: (path: string | undefined) => string | undefined, fail: (detail: string) => never): AuthInfo {
  const string = (key: string): string | undefined => optionalString(fields, key, field, fail);
  const authProvider = optionalMapping(fields, 'auth-provider', field, fail);
  const impersonation = ['as', 'as-uid', 'as-groups', 'as-user-extra'].find((key) => fields[key] !== undefined && fields[key] !== null);
  const exec = optionalMapping(fields, 'exec', field, fail);
  return {
    ...defined('clientCertificate', local(string('client-certificate'))),
    ...defined('clientCertificateData', optionalData(fields, 'client-certificate-data', field, fail)),
    ...defined('clientKey', local(string('client-key'))),
    ...defined('clientKeyData', optionalData(fields, 'client-key-data', field, fail)),
    ...defined('token', string('token')),
    ...defined('tokenFile', local(string('tokenFile'))),
    ...defined('username', string('username')),
    ...defined('password', string('password')),
    ...defined('exec', exec && readExec(exec, `${field}.exec`, local, fail)),
    ...defined('authProvider', authProvider && (optionalString(authProvider, 'name', `${field}.auth-provider`, fail) ?? '')),
    ...defined('impersonation', impersonation),
  };
}

function readExec(fields: Fields, field: string, local: (path: string | undefined) => string | undefined, fail: (detail: string) => never): ExecConfig {
  const string = (key: string): string | undefined => optionalString(fields, key, field, fail);
  const command = string('command') ?? '';
  const args = optionalList(fields, 'args', field, fail).map((arg, index) => (typeof arg === 'string' ? arg : fail(`${field}.args[${index}]: must be a string`)));
  const env = optionalList(fields, 'env', field, fail).map((entry, index) => {
    const variable = mapping(entry, `${field}.env[${index}]`, fail);
    return { name: optionalString(variable, 'name', `${field}.env[${index}]`, fail) ?? '', value: optionalString(variable, 'value', `${field}.env[${index}]`, fail) ?? '' };
  });
  return {
    apiVersion: string('apiVersion') ?? '',
    command: command.includes('/') ? local(command)! : command,
    args,
    env,
    ...defined('installHint', string('installHint')),
    provideClusterInfo: optionalBoolean(fields, 'provideClusterInfo', field, fail) ?? false,
    ...defined('interactiveMode', string('interactiveMode')),
  };
}

const defined = <K extends string, V>(key: K, value: V | undefined | null | false | ''): { [P in K]?: V } =>
  (value === undefined || value === null || value === false || value === '' ? {} : { [key]: value }) as { [P in K]?: V };

const join = (field: string, key: string): string => (field ? `${field}.${key}` : key);

function mapping(value: unknown, field: string, fail: (detail: string) => never): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${field || 'the file'}: must be a mapping`);
  return value as Fields;
}

function optionalMapping(fields: Fields, key: string, field: string, fail: (detail: string) => never): Fields | undefined {
  const value = fields[key];
  return value === undefined || value === null ? undefined : mapping(value, join(field, key), fail);
}

function optionalString(fields: Fields, key: string, field: string, fail: (detail: string) => never): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail(`${join(field, key)}: must be a string`);
  return value as string;
}

function optionalBoolean(fields: Fields, key: string, field: string, fail: (detail: string) => never): boolean | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') fail(`${join(field, key)}: must be true or false`);
  return value as boolean;
}

function optionalList(fields: Fields, key: string, field: string, fail: (detail: string) => never): unknown[] {
  const value = fields[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(`${join(field, key)}: must be a list`);
  return value as unknown[];
}

/** A -data field: base64 as Go's encoding/json decodes a []byte (standard alphabet, padded; line breaks ignored). */
function optionalData(fields: Fields, key: string, field: string, fail: (detail: string) => never): Buffer | undefined {
  const text = optionalString(fields, key, field, fail)?.replace(/[\r\n]/g, '');
  if (!text) return undefined;
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) fail(`${join(field, key)}: not base64`);
  return Buffer.from(text, 'base64');
}

/** A list of {name, <key>: mapping} entries, names unique; `raw` keeps each value as it is (extensions). */
function namedList(fields: Fields, list: string, key: string, fail: (detail: string) => never, field = '', raw = false): Array<{ name: string; value: Fields; field: string }> {
  const seen = new Map<string, number>();
  return optionalList(fields, list, field, fail).map((entry, index) => {
    const at = `${join(field, list)}[${index}]`;
    const named = mapping(entry, at, fail);
    const name = optionalString(named, 'name', at, fail) ?? '';
    if (!name) fail(`${at}.name: must be given`);
    const first = seen.get(name);
    if (first !== undefined) fail(`${at}.name: "${name}" is also the name of ${join(field, list)}[${first}]`);
    seen.set(name, index);
    const value = raw ? (named[key] as Fields) : (optionalMapping(named, key, at, fail) ?? {});
    return { name, value, field: `${at}.${key}` };
  });
}

/** What a request was given, to report the server's 401 to. */
export interface AppliedCredentials {
  /** The server answered 401: an exec plugin's credential, if one was used, is not used again. */
  rejected(): void;
}

export interface CredentialsOptions {
  /** The context to use; the current context by default. */
  context?: string;
  /** Milliseconds since the epoch: when an exec credential expires. */
  now?: () => number;
}

interface ExecCredential {
  token?: string;
  cert?: string;
  key?: string;
  /** Milliseconds since the epoch; none: for ever. */
  expires?: number;
}

/** One run of the exec plugin, shared by the requests that wait for it and use its credential. */
interface ExecEntry {
  credential: Promise<ExecCredential>;
}

/** The credentials of one context of a kubeconfig, applied to each request. */
export class KubeconfigCredentials {
  /** The cluster's server, as the kubeconfig says. */
  readonly server: string;
  readonly #file: string;
  readonly #cluster: Cluster;
  readonly #clusterField: string;
  readonly #user: AuthInfo;
  readonly #userField: string;
  readonly #now: () => number;
  /** The last token read from the user's tokenFile. */
  #fileToken: string | undefined;
  #exec: ExecEntry | undefined;

  private constructor(config: Kubeconfig, contextName: string, now: () => number) {
    this.#file = config.path;
    this.#now = now;
    const fail = (detail: string): never => {
      throw new KubeconfigError(config.path, detail);
    };
    const contextIndex = config.contexts.findIndex((entry) => entry.name === contextName);
    if (contextIndex < 0) fail(`current-context "${contextName}" names no context`);
    const context = config.contexts[contextIndex]!.context;
    const contextField = `contexts[${contextIndex}].context`;
    if (!context.cluster) fail(`${contextField}.cluster: must be given`);
    if (!context.user) fail(`${contextField}.user: must be given`);
    const clusterIndex = config.clusters.findIndex((entry) => entry.name === context.cluster);
    if (clusterIndex < 0) fail(`${contextField}.cluster: "${context.cluster}" names no cluster`);
    const userIndex = config.users.findIndex((entry) => entry.name === context.user);
    if (userIndex < 0) fail(`${contextField}.user: "${context.user}" names no user`);
    this.#cluster = config.clusters[clusterIndex]!.cluster;
    this.#clusterField = `clusters[${clusterIndex}].cluster`;
    this.#user = config.users[userIndex]!.user;
    this.#userField = `users[${userIndex}].user`;
    this.server = this.#cluster.server;
    this.#check(fail);
  }

  /** Reads the kubeconfig at `path` and checks that its current context can be used; rejects with a KubeconfigError. */
  static async load(path: string, options: CredentialsOptions = {}): Promise<KubeconfigCredentials> {
    return KubeconfigCredentials.from(await loadKubeconfig(path), options);
  }

  /** The credentials of `config`'s current context (or `options.context`), its files checked as clientcmd checks them. */
  static async from(config: Kubeconfig, options: CredentialsOptions = {}): Promise<KubeconfigCredentials> {
    const contextName = options.context ?? config.currentContext;
    if (!contextName) throw new KubeconfigError(config.path, 'current-context is not set');
    const credentials = new KubeconfigCredentials(config, contextName, options.now ?? Date.now);
    await credentials.#checkFiles();
    return credentials;
  }

  /** The cluster and user fields dockerlet cannot use, or that contradict each other. */
  #check(fail: (detail: string) => never): void {
    const cluster = this.#cluster;
    const user = this.#user;
    const at = this.#clusterField;
    const as = this.#userField;
    if (!cluster.server) fail(`${at}.server: must be given`);
    if (!cluster.server.startsWith('https://')) fail(`server ${cluster.server} must be an https:// URL (${at}.server)`);
    if (cluster.proxyUrl) fail(`${at}.proxy-url: not supported`);
    if (cluster.certificateAuthority && cluster.certificateAuthorityData) fail(`${at}: certificate-authority and certificate-authority-data are both given`);
    if (cluster.insecureSkipTlsVerify && (cluster.certificateAuthority || cluster.certificateAuthorityData)) fail(`${at}: insecure-skip-tls-verify with a certificate authority is not allowed`);
    if (user.authProvider !== undefined) {
      fail(`${as}.auth-provider: auth providers${user.authProvider ? ` (here ${user.authProvider})` : ''} are not supported: they are deprecated; use an exec plugin (users[].user.exec), such as the provider's kubectl credential plugin`);
    }
    if (user.impersonation) fail(`${as}.${user.impersonation}: impersonation is not supported`);
    if (user.clientCertificate && user.clientCertificateData) fail(`${as}: client-certificate and client-certificate-data are both given`);
    if (user.clientKey && user.clientKeyData) fail(`${as}: client-key and client-key-data are both given`);
    const hasCert = Boolean(user.clientCertificate || user.clientCertificateData);
    const hasKey = Boolean(user.clientKey || user.clientKeyData);
    if (hasCert && !hasKey) fail(`${as}: client-certificate without client-key (or client-key-data)`);
    if (hasKey && !hasCert) fail(`${as}: client-key without client-certificate (or client-certificate-data)`);
    if ((user.token || user.tokenFile) && (user.username || user.password)) fail(`${as}: a token and a username/password are both given; only one may be`);
    const exec = user.exec;
    if (exec) {
      const ex = `${as}.exec`;
      if (!exec.command) fail(`${ex}.command: must be given`);
      if (!exec.apiVersion) fail(`${ex}.apiVersion: must be given`);
      if (!(ExecApiVersions as readonly string[]).includes(exec.apiVersion)) fail(`${ex}.apiVersion: ${exec.apiVersion} is not one of ${ExecApiVersions.join(', ')}`);
      const mode = exec.interactiveMode ?? (exec.apiVersion === 'client.authentication.k8s.io/v1beta1' ? 'IfAvailable' : undefined);
      if (mode === undefined) fail(`${ex}.interactiveMode: must be given (Never or IfAvailable) for ${exec.apiVersion}`);
      if (!(ExecInteractiveModes as readonly string[]).includes(mode!)) fail(`${ex}.interactiveMode: ${mode} is not one of ${ExecInteractiveModes.join(', ')}`);
      if (mode === 'Always') fail(`${ex}.interactiveMode: Always is not supported: exec plugins run without a terminal`);
      exec.env.forEach((variable, index) => {
        if (!variable.name) fail(`${ex}.env[${index}].name: must be given`);
      });
    }
  }

  /** The files the context names must be readable, as clientcmd checks; a token file is read now when there is no token. */
  async #checkFiles(): Promise<void> {
    if (this.#cluster.certificateAuthority) await this.#read(this.#cluster.certificateAuthority, `${this.#clusterField}.certificate-authority`);
    if (this.#user.clientCertificate) await this.#read(this.#user.clientCertificate, `${this.#userField}.client-certificate`);
    if (this.#user.clientKey) await this.#read(this.#user.clientKey, `${this.#userField}.client-key`);
    if (this.#user.tokenFile && !this.#user.token) await this.#token();
  }

  /** True when the exec plugin is what authenticates: the user has no other credential (client-go's rule). */
  get #usesExec(): boolean {
    const user = this.#user;
    return user.exec !== undefined && !(user.token || user.tokenFile || user.username || user.password || user.clientCertificate || user.clientCertificateData);
  }

  /**
   * Sets `options`' ca, rejectUnauthorized, servername, cert, key and Authorization header as
   * the context says (an Authorization header already there is kept); runs the exec plugin when
   * it is the user's credential and none is cached.
   */
  async applyTo(options: RequestOptions): Promise<AppliedCredentials> {
    const cluster = this.#cluster;
    const user = this.#user;
    const ca = cluster.certificateAuthorityData ?? (cluster.certificateAuthority ? await this.#read(cluster.certificateAuthority, `${this.#clusterField}.certificate-authority`) : undefined);
    if (ca) options.ca = ca;
    options.rejectUnauthorized = !cluster.insecureSkipTlsVerify;
    if (cluster.tlsServerName) options.servername = cluster.tlsServerName;
    const cert = user.clientCertificateData ?? (user.clientCertificate ? await this.#read(user.clientCertificate, `${this.#userField}.client-certificate`) : undefined);
    const key = user.clientKeyData ?? (user.clientKey ? await this.#read(user.clientKey, `${this.#userField}.client-key`) : undefined);
    if (cert && key) {
      options.cert = cert;
      options.key = key;
    }
    if (Array.isArray(options.headers)) throw new Error('KubeconfigCredentials.applyTo: headers must be an object');
    const headers = (options.headers ??= {}) as OutgoingHttpHeaders;
    const authorized = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
    const none: AppliedCredentials = { rejected: () => undefined };
    if (authorized) return none;
    if (user.token || user.tokenFile) {
      headers['Authorization'] = `Bearer ${await this.#token()}`;
      return none;
    }
    if (user.username || user.password) {
      headers['Authorization'] = `Basic ${Buffer.from(`${user.username ?? ''}:${user.password ?? ''}`).toString('base64')}`;
      return none;
    }
    if (!this.#usesExec) return none;
    const { entry, credential } = await this.#execCredentials();
    if (credential.token) headers['Authorization'] = `Bearer ${credential.token}`;
    if (credential.cert && credential.key) {
      options.cert = credential.cert;
      options.key = credential.key;
    }
    return {
      rejected: () => {
        // Only while the refused credential is still the cached one: a newer one is kept.
        if (this.#exec === entry) this.#exec = undefined;
      },
    };
  }

  async #read(path: string, field: string): Promise<Buffer> {
    try {
      return await readFile(path);
    } catch (err) {
      throw new KubeconfigError(this.#file, `${field}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** The bearer token: the token file as it is now, else the last token read from it, else `token`. */
  async #token(): Promise<string> {
    const { token, tokenFile } = this.#user;
    if (!tokenFile) return token!;
    try {
      const read = (await this.#read(tokenFile, `${this.#userField}.tokenFile`)).toString('utf8').trim();
      if (!read) throw new KubeconfigError(this.#file, `${this.#userField}.tokenFile: ${tokenFile} is empty`);
      this.#fileToken = read;
      return read;
    } catch (err) {
      const fallback = this.#fileToken ?? token;
      if (fallback) return fallback;
      throw err;
    }
  }

  /** The cached exec credential while it has not expired; a new one from the plugin otherwise (one run for concurrent callers). */
  async #execCredentials(): Promise<{ entry: ExecEntry; credential: ExecCredential }> {
    for (;;) {
      let entry = this.#exec;
      const fresh = entry === undefined;
      if (!entry) {
        const made: ExecEntry = { credential: this.#runExec() };
        // A failed run is not kept: the next request runs the plugin again.
        made.credential.catch(() => {
          if (this.#exec === made) this.#exec = undefined;
        });
        this.#exec = entry = made;
      }
      const credential = await entry.credential;
      // A credential just made is used even if already expired, as client-go does: no loop.
      if (fresh || credential.expires === undefined || this.#now() <= credential.expires) return { entry, credential };
      if (this.#exec === entry) this.#exec = undefined;
    }
  }

  /** The KUBERNETES_EXEC_INFO the plugin gets. */
  #execInfo(exec: ExecConfig, ca: Buffer | undefined): string {
    const cluster = this.#cluster;
    const config = cluster.extensions.get(ExecClusterExtension);
    const clusterInfo = {
      server: cluster.server,
      ...defined('tls-server-name', cluster.tlsServerName),
      ...defined('insecure-skip-tls-verify', cluster.insecureSkipTlsVerify),
      ...defined('certificate-authority-data', ca?.toString('base64')),
      ...defined('config', config),
    };
    return JSON.stringify({ apiVersion: exec.apiVersion, kind: 'ExecCredential', spec: { interactive: false, ...(exec.provideClusterInfo ? { cluster: clusterInfo } : {}) } });
  }

  async #runExec(): Promise<ExecCredential> {
    const exec = this.#user.exec!;
    const field = `${this.#userField}.exec`;
    const fail = (detail: string, cause?: unknown): never => {
      throw new KubeconfigError(this.#file, `${field}: ${detail}`, cause === undefined ? undefined : { cause });
    };
    const cluster = this.#cluster;
    const ca = exec.provideClusterInfo ? (cluster.certificateAuthorityData ?? (cluster.certificateAuthority ? await this.#read(cluster.certificateAuthority, `${this.#clusterField}.certificate-authority`) : undefined)) : undefined;
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const { name, value } of exec.env) env[name] = value;
    env['KUBERNETES_EXEC_INFO'] = this.#execInfo(exec, ca);
    const { code, signal, stdout, stderr, error } = await run(exec.command, exec.args, env);
    if (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') fail(`executable ${exec.command} not found${exec.installHint ? `\n\n${exec.installHint.trim()}` : ''}`, error);
      fail(`executable ${exec.command}: ${errorMessage(error)}`, error);
    }
    const said = stderr.trim() ? `: ${stderr.trim()}` : '';
    if (signal) fail(`executable ${exec.command} was killed by ${signal}${said}`);
    if (code !== 0) fail(`executable ${exec.command} failed with exit code ${code}${said}`);
    let output: unknown;
    try {
      output = JSON.parse(stdout);
    } catch (err) {
      fail(`executable ${exec.command} printed no ExecCredential, but ${stdout.trim() ? JSON.stringify(stdout.trim().slice(0, 200)) : 'nothing'}`, err);
    }
    if (typeof output !== 'object' || output === null || Array.isArray(output)) return fail(`executable ${exec.command} printed no ExecCredential, but ${JSON.stringify(stdout.trim().slice(0, 200))}`);
    const credential = output as { apiVersion?: unknown; kind?: unknown; status?: unknown };
    if (credential.kind !== 'ExecCredential') fail(`executable ${exec.command} printed kind ${JSON.stringify(credential.kind ?? '')}, not ExecCredential`);
    if (credential.apiVersion !== exec.apiVersion) fail(`the plugin is configured to use API version ${exec.apiVersion}, and ${exec.command} returned version ${JSON.stringify(credential.apiVersion ?? '')}`);
    if (typeof credential.status !== 'object' || credential.status === null) return fail(`${exec.command} returned an ExecCredential without a status`);
    const status = credential.status as Record<string, unknown>;
    const text = (key: string): string | undefined => {
      const value = status[key];
      if (value === undefined || value === null || value === '') return undefined;
      return typeof value === 'string' ? value : fail(`${exec.command} returned status.${key} that is not a string`);
    };
    const token = text('token');
    const cert = text('clientCertificateData');
    const key = text('clientKeyData');
    const expiration = text('expirationTimestamp');
    if (!token && !cert && !key) fail(`${exec.command} returned neither a token nor a client certificate and key`);
    if (Boolean(cert) !== Boolean(key)) fail(`${exec.command} returned a client ${cert ? 'certificate without its key' : 'key without its certificate'}`);
    const expires = expiration === undefined ? undefined : Date.parse(expiration);
    if (expires !== undefined && Number.isNaN(expires)) fail(`${exec.command} returned status.expirationTimestamp ${expiration}, not an RFC 3339 time`);
    return { ...defined('token', token), ...defined('cert', cert), ...defined('key', key), ...defined('expires', expires) };
  }
}

/** Runs `command` without a terminal (stdin /dev/null), collecting its output. */
function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((done) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => done({ code: null, signal: null, stdout, stderr, error }));
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}
