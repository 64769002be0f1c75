/**
 * The kubeconfig reader: fields and their errors, paths relative to the file, data and files,
 * tokens and token files, basic auth, exec plugins (real shell scripts), and KubeClient built
 * from a kubeconfig reaching a real HTTPS server that requires a client certificate.
 */
import { chmod, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { isDockerletError } from '../../../../common/api/errors.js';
import { KubeApiError, KubeClient } from '../../../../common/kube-api/kube-client.js';
import { KubeconfigCredentials, KubeconfigError, parseKubeconfig, type AppliedCredentials } from '../../../../common/kube-api/kubeconfig.js';
import { makeCa, makeCert, type Credentials } from '../../../helpers/pki.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-kubeconfig-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Fields = Record<string, unknown>;

/** A kubeconfig with one context "c" of cluster "k" and user "u". */
function config(cluster: Fields, user: Fields, extra: Fields = {}): Fields {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'k', cluster: { server: 'https://10.0.0.1:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    'current-context': 'c',
    ...extra,
  };
}

async function writeConfig(content: Fields | string, name = 'kubeconfig'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : stringify(content));
  return path;
}

async function load(content: Fields | string, now?: () => number): Promise<KubeconfigCredentials> {
  return KubeconfigCredentials.load(await writeConfig(content), now ? { now } : {});
}

/** The request options and Authorization header `credentials` give a fresh request. */
async function applied(credentials: KubeconfigCredentials, headers: Record<string, string> = {}): Promise<{ options: RequestOptions; authorization: unknown; result: AppliedCredentials }> {
  const options: RequestOptions = { headers: { ...headers } };
  const result = await credentials.applyTo(options);
  return { options, authorization: (options.headers as Record<string, unknown>)['Authorization'] ?? (options.headers as Record<string, unknown>)['authorization'], result };
}

async function loadError(content: Fields | string): Promise<string> {
  const path = await writeConfig(content);
  const err = await KubeconfigCredentials.load(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KubeconfigError);
  expect((err as KubeconfigError).file).toBe(path);
  expect((err as KubeconfigError).message).toBe(`${path}: ${(err as KubeconfigError).detail}`);
  return (err as KubeconfigError).detail;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

describe('parsing', () => {
  test('a value of the wrong type anywhere is an error naming its field', async () => {
    expect(await loadError(config({}, { 'client-certificate': 'a.crt', 'client-key': 5 }))).toBe('users[0].user.client-key: must be a string');
    expect(await loadError(config({ 'insecure-skip-tls-verify': 'sure' }, {}))).toBe('clusters[0].cluster.insecure-skip-tls-verify: must be true or false');
    expect(await loadError(config({}, { exec: { command: 'x', args: ['a', 2] } }))).toBe('users[0].user.exec.args[1]: must be a string');
    expect(await loadError(config({}, { 'client-key-data': 'not base64!' }))).toBe('users[0].user.client-key-data: not base64');
    expect(await loadError({ clusters: { k: {} } })).toBe('clusters: must be a list');
    expect(await loadError({ users: [{ user: {} }] })).toBe('users[0].name: must be given');
    // Another user's error counts too: Go's decoder fails on the whole file.
    const other = config({}, {});
    (other['users'] as Fields[]).push({ name: 'v', user: { token: 42 } });
    expect(await loadError(other)).toBe('users[1].user.token: must be a string');
  });

  test('YAML errors, duplicate keys and names, another kind', async () => {
    expect(await loadError('clusters: [\n')).toMatch(/^not YAML: /);
    expect(await loadError('current-context: a\ncurrent-context: b\n')).toMatch(/^not YAML: .*[Mm]ap keys must be unique/);
    const twice = config({}, {});
    (twice['clusters'] as Fields[]).push({ name: 'k', cluster: { server: 'https://x' } });
    expect(await loadError(twice)).toBe('clusters[1].name: "k" is also the name of clusters[0]');
    expect(await loadError({ ...config({}, {}), kind: 'Pod' })).toBe('kind: Pod, not Config');
  });

  test('the current context must name a context, and it a cluster and a user that are there', async () => {
    expect(await loadError({ ...config({}, {}), 'current-context': 'x' })).toBe('current-context "x" names no context');
    expect(await loadError({ ...config({}, {}), 'current-context': '' })).toBe('current-context is not set');
    expect(await loadError('')).toBe('current-context is not set');
    expect(await loadError({ ...config({}, {}), contexts: [{ name: 'c', context: { cluster: 'nope', user: 'u' } }] })).toBe('contexts[0].context.cluster: "nope" names no cluster');
    expect(await loadError({ ...config({}, {}), contexts: [{ name: 'c', context: { cluster: 'k', user: 'nope' } }] })).toBe('contexts[0].context.user: "nope" names no user');
    expect(await loadError({ ...config({}, {}), contexts: [{ name: 'c', context: { cluster: 'k' } }] })).toBe('contexts[0].context.user: must be given');
  });

  test("only the current context's cluster and user must be usable", async () => {
    const path = await writeConfig({
      ...config({}, { token: 't' }),
      clusters: [
        { name: 'k', cluster: { server: 'https://10.0.0.1:6443' } },
        { name: 'old', cluster: { server: 'http://plain:8080', 'proxy-url': 'http://proxy:3128' } },
      ],
      users: [
        { name: 'u', user: { token: 't' } },
        { name: 'gke', user: { 'auth-provider': { name: 'gcp' } } },
      ],
    });
    expect((await KubeconfigCredentials.load(path)).server).toBe('https://10.0.0.1:6443');
    await expect(KubeconfigCredentials.load(path, { context: 'nope' })).rejects.toThrow('current-context "nope" names no context');
  });

  test('what cannot be used, or contradicts itself, is an error naming the field', async () => {
    expect(await loadError(config({ server: 'http://10.0.0.1:8080' }, {}))).toBe('server http://10.0.0.1:8080 must be an https:// URL (clusters[0].cluster.server)');
    expect(await loadError(config({ server: '' }, {}))).toBe('clusters[0].cluster.server: must be given');
    expect(await loadError(config({ 'proxy-url': 'http://proxy:3128' }, {}))).toBe('clusters[0].cluster.proxy-url: not supported');
    expect(await loadError(config({}, { 'auth-provider': { name: 'oidc', config: { 'id-token': 'x' } } }))).toMatch(/^users\[0\]\.user\.auth-provider: auth providers \(here oidc\) are not supported: .*use an exec plugin/);
    expect(await loadError(config({}, { as: 'admin' }))).toBe('users[0].user.as: impersonation is not supported');
    expect(await loadError(config({ 'certificate-authority': 'ca.crt', 'certificate-authority-data': b64('x') }, {}))).toBe('clusters[0].cluster: certificate-authority and certificate-authority-data are both given');
    expect(await loadError(config({ 'insecure-skip-tls-verify': true, 'certificate-authority-data': b64('x') }, {}))).toBe('clusters[0].cluster: insecure-skip-tls-verify with a certificate authority is not allowed');
    expect(await loadError(config({}, { 'client-certificate-data': b64('c') }))).toBe('users[0].user: client-certificate without client-key (or client-key-data)');
    expect(await loadError(config({}, { 'client-key-data': b64('k') }))).toBe('users[0].user: client-key without client-certificate (or client-certificate-data)');
    expect(await loadError(config({}, { token: 't', username: 'a', password: 'b' }))).toBe('users[0].user: a token and a username/password are both given; only one may be');
    expect(await loadError(config({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' } }))).toMatch(/^users\[0\]\.user\.exec\.apiVersion: client\.authentication\.k8s\.io\/v1alpha1 is not one of /);
    expect(await loadError(config({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'x' } }))).toBe(
      'users[0].user.exec.interactiveMode: must be given (Never or IfAvailable) for client.authentication.k8s.io/v1',
    );
    expect(await loadError(config({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'x', interactiveMode: 'Always' } }))).toBe(
      'users[0].user.exec.interactiveMode: Always is not supported: exec plugins run without a terminal',
    );
    expect(await loadError(config({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1' } }))).toBe('users[0].user.exec.command: must be given');
  });

  test('the files the context names must be readable when it is loaded, as clientcmd checks', async () => {
    expect(await loadError(config({ 'certificate-authority': 'missing-ca.crt' }, {}))).toMatch(/^clusters\[0\]\.cluster\.certificate-authority: ENOENT: .*missing-ca\.crt/);
    expect(await loadError(config({}, { 'client-certificate': 'c.crt', 'client-key-data': b64('k') }))).toMatch(/^users\[0\]\.user\.client-certificate: ENOENT: .*c\.crt/);
    expect(await loadError(config({}, { tokenFile: 'token' }))).toMatch(/^users\[0\]\.user\.tokenFile: ENOENT: .*token/);
  });

  test('relative paths are relative to the kubeconfig\'s directory; absolute ones and a command without a "/" are kept', () => {
    const parsed = parseKubeconfig(
      stringify(
        config(
          { 'certificate-authority': 'pki/ca.crt' },
          { 'client-certificate': '../c.crt', 'client-key': '/etc/k.key', tokenFile: 'tok', exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: './bin/plugin' } },
          {},
        ),
      ),
      '/conf/dir/kubeconfig',
    );
    expect(parsed.path).toBe('/conf/dir/kubeconfig');
    expect(parsed.clusters[0]!.cluster.certificateAuthority).toBe('/conf/dir/pki/ca.crt');
    const user = parsed.users[0]!.user;
    expect([user.clientCertificate, user.clientKey, user.tokenFile, user.exec?.command]).toEqual(['/conf/c.crt', '/etc/k.key', '/conf/dir/tok', '/conf/dir/bin/plugin']);
    const onPath = parseKubeconfig(stringify(config({}, { exec: { apiVersion: 'v', command: 'aws' } })), 'kubeconfig');
    expect(onPath.users[0]!.user.exec?.command).toBe('aws');
    expect(onPath.contexts).toEqual([{ name: 'c', context: { cluster: 'k', user: 'u' } }]);
    expect(onPath.currentContext).toBe('c');
  });
});

describe('applying credentials', () => {
  test('-data fields are decoded; files are read again for each request (certificates rotate)', async () => {
    const fromData = await load(config({ 'certificate-authority-data': b64('CA-DATA') }, { 'client-certificate-data': b64('CERT-DATA'), 'client-key-data': b64('KEY-DATA') }));
    const { options } = await applied(fromData);
    expect([String(options.ca), String(options.cert), String(options.key), options.rejectUnauthorized]).toEqual(['CA-DATA', 'CERT-DATA', 'KEY-DATA', true]);

    await writeFile(join(dir, 'ca.crt'), 'CA-1');
    await writeFile(join(dir, 'c.crt'), 'CERT-1');
    await writeFile(join(dir, 'c.key'), 'KEY-1');
    const fromFiles = await load(config({ 'certificate-authority': 'ca.crt' }, { 'client-certificate': 'c.crt', 'client-key': 'c.key' }));
    expect((await applied(fromFiles)).options).toMatchObject({ ca: Buffer.from('CA-1'), cert: Buffer.from('CERT-1'), key: Buffer.from('KEY-1') });
    await writeFile(join(dir, 'ca.crt'), 'CA-2');
    await writeFile(join(dir, 'c.crt'), 'CERT-2');
    await writeFile(join(dir, 'c.key'), 'KEY-2');
    expect((await applied(fromFiles)).options).toMatchObject({ ca: Buffer.from('CA-2'), cert: Buffer.from('CERT-2'), key: Buffer.from('KEY-2') });
    await unlink(join(dir, 'c.key'));
    await expect(fromFiles.applyTo({ headers: {} })).rejects.toThrow(/users\[0\]\.user\.client-key: ENOENT/);
  });

  test('insecure-skip-tls-verify turns verification off; tls-server-name is the name verified', async () => {
    const insecure = await applied(await load(config({ 'insecure-skip-tls-verify': true, 'tls-server-name': 'kubernetes.default' }, {})));
    expect(insecure.options.rejectUnauthorized).toBe(false);
    expect(insecure.options.ca).toBeUndefined();
    expect(insecure.options.servername).toBe('kubernetes.default');
    expect(insecure.authorization).toBeUndefined();
    expect((await applied(await load(config({}, {})))).options.rejectUnauthorized).toBe(true);
  });

  test('a token is a bearer token; basic auth is a Basic header; an Authorization already set is kept', async () => {
    expect((await applied(await load(config({}, { token: 'abc' })))).authorization).toBe('Bearer abc');
    expect((await applied(await load(config({}, { username: 'admin', password: 'p:w' })))).authorization).toBe(`Basic ${b64('admin:p:w')}`);
    const kept = await applied(await load(config({}, { token: 'abc' })), { authorization: 'Bearer mine' });
    expect(kept.authorization).toBe('Bearer mine');
    expect(Object.keys(kept.options.headers!)).toEqual(['authorization']);
  });

  test('a token file is read for each request; when it cannot be, the last token read is used; it wins over token', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'first\n');
    const credentials = await load(config({}, { tokenFile: 'token' }));
    expect((await applied(credentials)).authorization).toBe('Bearer first');
    await writeFile(tokenFile, 'second');
    expect((await applied(credentials)).authorization).toBe('Bearer second');
    await unlink(tokenFile);
    expect((await applied(credentials)).authorization).toBe('Bearer second');

    // With token too: the file while it can be read, token before it ever could.
    const both = await load(config({}, { token: 'static', tokenFile: 'token' }));
    expect((await applied(both)).authorization).toBe('Bearer static');
    await writeFile(tokenFile, 'rotated');
    expect((await applied(both)).authorization).toBe('Bearer rotated');
  });
});

describe('exec plugins', () => {
  const V1 = 'client.authentication.k8s.io/v1';

  /** A plugin script in the test's directory: it counts its runs, records what it was given, then runs `body`. */
  async function plugin(body: string, name = 'plugin.sh'): Promise<string> {
    const path = join(dir, name);
    await writeFile(
      path,
      `#!/bin/sh
d=$(dirname "$0")
n=$(cat "$d/runs" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$d/runs"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$d/info.json"
printf '%s|' "$@" > "$d/args"
printf '%s' "$GREETING" > "$d/greeting"
${body}
`,
    );
    await chmod(path, 0o755);
    return path;
  }
  const runs = async (): Promise<number> => Number((await readFile(join(dir, 'runs'), 'utf8').catch(() => '0')).trim());
  const credential = (status: Fields, apiVersion = V1): string => `echo '${JSON.stringify({ apiVersion, kind: 'ExecCredential', status })}'`;
  const execUser = (extra: Fields = {}): Fields => ({ exec: { apiVersion: V1, interactiveMode: 'Never', command: './plugin.sh', args: ['--region', 'x y'], env: [{ name: 'GREETING', value: 'hello' }], ...extra } });

  test('runs the command (relative to the kubeconfig) with its args, env and KUBERNETES_EXEC_INFO; the token is kept until it expires', async () => {
    await plugin('echo "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"token-$n\\",\\"expirationTimestamp\\":\\"2030-01-01T00:00:00Z\\"}}"');
    let now = Date.parse('2029-12-31T23:00:00Z');
    const credentials = await load(config({}, execUser()), () => now);
    expect(await runs()).toBe(0);
    expect((await applied(credentials)).authorization).toBe('Bearer token-1');
    expect(JSON.parse(await readFile(join(dir, 'info.json'), 'utf8'))).toEqual({ apiVersion: V1, kind: 'ExecCredential', spec: { interactive: false } });
    expect(await readFile(join(dir, 'args'), 'utf8')).toBe('--region|x y|');
    expect(await readFile(join(dir, 'greeting'), 'utf8')).toBe('hello');
    const [a, b] = await Promise.all([applied(credentials), applied(credentials)]);
    expect([a.authorization, b.authorization, await runs()]).toEqual(['Bearer token-1', 'Bearer token-1', 1]);
    now = Date.parse('2030-01-01T00:00:01Z');
    expect((await applied(credentials)).authorization).toBe('Bearer token-2');
    expect(await runs()).toBe(2);
  });

  test('a credential the server refused (401) is not used again; one without an expiry is kept for ever', async () => {
    await plugin('echo "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"token-$n\\"}}"');
    const credentials = await load(config({}, execUser()), () => Date.parse('2100-01-01T00:00:00Z'));
    const first = await applied(credentials);
    expect((await applied(credentials)).authorization).toBe('Bearer token-1');
    first.result.rejected();
    expect((await applied(credentials)).authorization).toBe('Bearer token-2');
    // The refusal of a credential already replaced does not run the plugin again.
    first.result.rejected();
    expect((await applied(credentials)).authorization).toBe('Bearer token-2');
    expect(await runs()).toBe(2);
  });

  test('with provideClusterInfo, spec.cluster has the server, CA data and the exec extension; v1beta1 defaults interactiveMode', async () => {
    await plugin(credential({ token: 't' }, 'client.authentication.k8s.io/v1beta1'));
    await writeFile(join(dir, 'ca.crt'), 'CA-PEM');
    const credentials = await load(
      config(
        { 'certificate-authority': 'ca.crt', 'tls-server-name': 'api.example', extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { audience: 'dockerlet' } }] },
        { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: join(dir, 'plugin.sh'), provideClusterInfo: true } },
      ),
    );
    expect((await applied(credentials)).authorization).toBe('Bearer t');
    expect(JSON.parse(await readFile(join(dir, 'info.json'), 'utf8'))).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      spec: { interactive: false, cluster: { server: 'https://10.0.0.1:6443', 'tls-server-name': 'api.example', 'certificate-authority-data': b64('CA-PEM'), config: { audience: 'dockerlet' } } },
    });
  });

  test('a client certificate and key from the plugin go on the request', async () => {
    await plugin(credential({ clientCertificateData: 'CERT-PEM', clientKeyData: 'KEY-PEM' }));
    const { options, authorization } = await applied(await load(config({}, execUser())));
    expect([options.cert, options.key, authorization]).toEqual(['CERT-PEM', 'KEY-PEM', undefined]);
  });

  test('the plugin is not run when the user has another credential', async () => {
    await plugin(credential({ token: 'from-plugin' }));
    expect((await applied(await load(config({}, { ...execUser(), token: 'static' })))).authorization).toBe('Bearer static');
    expect(await runs()).toBe(0);
  });

  test('a failing command, one not found, and output that is no usable ExecCredential are errors saying so; a failed run is not kept', async () => {
    await plugin('echo "  token service unreachable  " >&2\nexit 3');
    const failing = await load(config({}, execUser()));
    await expect(failing.applyTo({ headers: {} })).rejects.toThrow(/: users\[0\]\.user\.exec: executable \S+plugin\.sh failed with exit code 3: token service unreachable$/);
    await expect(failing.applyTo({ headers: {} })).rejects.toThrow(/exit code 3/);
    expect(await runs()).toBe(2);

    const missing = await load(config({}, { exec: { apiVersion: V1, interactiveMode: 'Never', command: 'dockerlet-no-such-plugin', installHint: 'Install it with: brew install it' } }));
    await expect(missing.applyTo({ headers: {} })).rejects.toThrow('users[0].user.exec: executable dockerlet-no-such-plugin not found\n\nInstall it with: brew install it');

    const cases: Array<[string, RegExp]> = [
      ['echo hello', /printed no ExecCredential, but "hello"$/],
      ['true', /printed no ExecCredential, but nothing$/],
      ['echo "[1]"', /printed no ExecCredential, but "\[1\]"$/],
      [`echo '{"apiVersion":"v1","kind":"Status"}'`, /printed kind "Status", not ExecCredential/],
      [credential({ token: 't' }, 'client.authentication.k8s.io/v1beta1'), /configured to use API version client\.authentication\.k8s\.io\/v1, and \S+ returned version "client\.authentication\.k8s\.io\/v1beta1"/],
      [`echo '{"apiVersion":"${V1}","kind":"ExecCredential"}'`, /returned an ExecCredential without a status/],
      [credential({}), /returned neither a token nor a client certificate and key/],
      [credential({ clientCertificateData: 'C' }), /returned a client certificate without its key/],
      [credential({ token: 't', expirationTimestamp: 'soon' }), /status\.expirationTimestamp soon, not an RFC 3339 time/],
    ];
    for (const [body, error] of cases) {
      await plugin(body);
      await expect((await load(config({}, execUser()))).applyTo({ headers: {} })).rejects.toThrow(error);
    }
  });
});

describe('KubeClient from a kubeconfig, against a real HTTPS server', () => {
  let pkiDir: string;
  let ca: Credentials;
  let serverPair: Credentials;
  let clientPair: Credentials;
  let server: Server | undefined;

  beforeAll(async () => {
    pkiDir = await mkdtemp(join(tmpdir(), 'dockerlet-kubeconfig-pki-'));
    ca = await makeCa(pkiDir);
    [serverPair, clientPair] = await Promise.all([makeCert(pkiDir, ca, 'server', '/CN=kube-apiserver', 'IP:127.0.0.1'), makeCert(pkiDir, ca, 'client', '/O=system:nodes/CN=system:node:node-1')]);
  });
  afterAll(async () => {
    await rm(pkiDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  /** A server answering each request with who it was from: the client certificate's CN and the Authorization header; 401 to `refuse`. */
  async function start(requestCert: boolean, refuse?: string): Promise<string> {
    const [key, cert, caCert] = await Promise.all([readFile(serverPair.key), readFile(serverPair.cert), readFile(ca.cert)]);
    server = createServer({ key, cert, ca: caCert, requestCert, rejectUnauthorized: requestCert }, (req, res) => {
      const authorization = req.headers.authorization ?? null;
      if (refuse !== undefined && authorization === refuse) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', reason: 'Unauthorized', message: 'Unauthorized', code: 401 }));
        return;
      }
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, cn: peer.subject?.CN ?? null, authorization }));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  interface Answer {
    path: string;
    cn: string | null;
    authorization: string | null;
  }

  test('the client certificate and key from files, verified against the CA, with a bearer token when one is configured', async () => {
    const url = await start(true);
    const withCert = { 'client-certificate': clientPair.cert, 'client-key': clientPair.key };
    const client = await KubeClient.fromKubeconfig(await writeConfig(config({ server: url, 'certificate-authority': ca.cert }, withCert)), 'dockerlet-test');
    expect(client.server).toBe(url);
    expect(await client.get<Answer>('/api/v1/nodes/node-1')).toEqual({ path: '/api/v1/nodes/node-1', cn: 'system:node:node-1', authorization: null });

    const withToken = await KubeClient.fromKubeconfig(await writeConfig(config({ server: url, 'certificate-authority': ca.cert }, { ...withCert, token: 'secret-token' }), 'with-token'), 'dockerlet-test');
    expect(await withToken.get<Answer>('/api')).toEqual({ path: '/api', cn: 'system:node:node-1', authorization: 'Bearer secret-token' });

    // Without the client certificate the server turns the connection away.
    const noCert = await KubeClient.fromKubeconfig(await writeConfig(config({ server: url, 'certificate-authority': ca.cert }, { token: 'secret-token' }), 'no-cert'), 'dockerlet-test');
    await expect(noCert.get('/api')).rejects.toThrow(/^GET \/api: /);
  });

  test("the server's certificate is verified unless insecure-skip-tls-verify", async () => {
    const url = await start(false);
    const unverified = await KubeClient.fromKubeconfig(await writeConfig(config({ server: url }, { token: 't' })), 'dockerlet-test');
    await expect(unverified.get('/api')).rejects.toThrow(/^GET \/api: .*(self.signed|unable to (get|verify)|certificate)/i);
    const insecure = await KubeClient.fromKubeconfig(await writeConfig(config({ server: url, 'insecure-skip-tls-verify': true }, { token: 't' }), 'insecure'), 'dockerlet-test');
    expect(await insecure.get<Answer>('/api')).toMatchObject({ authorization: 'Bearer t' });
  });

  test("an exec plugin's token refused with 401 is replaced by the plugin's next one", async () => {
    const url = await start(false, 'Bearer token-1');
    const script = join(dir, 'plugin.sh');
    await writeFile(
      script,
      `#!/bin/sh\nn=$(cat "${dir}/runs" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${dir}/runs"\necho "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"token-$n\\"}}"\n`,
    );
    await chmod(script, 0o755);
    const client = await KubeClient.fromKubeconfig(
      await writeConfig(config({ server: url, 'certificate-authority': ca.cert }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', interactiveMode: 'IfAvailable', command: './plugin.sh' } })),
      'dockerlet-test',
    );
    const refused = await client.get('/api').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(KubeApiError);
    expect((refused as KubeApiError).status).toBe(401);
    expect(await client.get<Answer>('/api')).toMatchObject({ authorization: 'Bearer token-2' });
  });

  test('a kubeconfig that cannot be used is DKL_ERR_FLAG_INVALID naming the flag, the file and the field', async () => {
    const path = await writeConfig({ ...config({}, {}), 'current-context': 'x' });
    const err = await KubeClient.fromKubeconfig(path, 'dockerlet-test', '--proxy-kubeconfig').catch((e: unknown) => e);
    expect(isDockerletError(err, 'DKL_ERR_FLAG_INVALID')).toBe(true);
    expect((err as Error).message).toBe(`--proxy-kubeconfig ${path}: current-context "x" names no context`);
    const missing = join(dir, 'absent');
    await expect(KubeClient.fromKubeconfig(missing, 'dockerlet-test')).rejects.toThrow(`--kubeconfig ${missing}: ENOENT: no such file or directory, open '${missing}'`);
    const http = await writeConfig(config({ server: 'http://127.0.0.1:8080' }, {}), 'http');
    await expect(KubeClient.fromKubeconfig(http, 'dockerlet-test')).rejects.toThrow(`--kubeconfig ${http}: server http://127.0.0.1:8080 must be an https:// URL (clusters[0].cluster.server)`);
  });
});
