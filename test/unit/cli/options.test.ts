import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { DockerletError } from '../../../common/api/errors.js';
import { parseIpv4Cidr } from '../../../common/util/ipv4.js';
import { resolveAgentOptions, type AgentFlags } from '../../../cli/options.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-options-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A KubeletConfiguration file with `body` under the header; its path. */
async function config(body: string): Promise<string> {
  const path = join(dir, 'kubelet.yaml');
  await writeFile(path, `apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n${body}`);
  return path;
}

const resolve = (flags: AgentFlags = {}) => resolveAgentOptions({ hostnameOverride: 'node-1', ...flags });

async function failure(flags: AgentFlags): Promise<DockerletError> {
  const err: unknown = await resolve(flags).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof DockerletError)) throw new Error(`expected a DockerletError, got ${String(err)}`);
  return err;
}

describe('resolveAgentOptions: defaults', () => {
  test('without flags or config file, every option has its default', async () => {
    const { options, ignoredConfigFields } = await resolve();
    expect(options).toEqual({
      nodeName: 'node-1',
      rootDir: '/var/lib/dockerlet',
      staticPodURLHeader: {},
      fileCheckFrequencyMs: 20_000,
      httpCheckFrequencyMs: 20_000,
      syncFrequencyMs: 60_000,
      address: '127.0.0.1',
      port: 10250,
      readOnlyPort: 10255,
      serving: {
        tls: { minVersion: '', cipherSuites: [] },
        authentication: { webhook: { enabled: false, cacheTtlMs: 120_000 }, anonymous: false },
        streamingConnectionIdleTimeoutMs: 4 * 3600_000,
        authorization: { mode: 'AlwaysAllow', webhook: { cacheAuthorizedTtlMs: 300_000, cacheUnauthorizedTtlMs: 30_000 } },
      },
      containerRuntimeEndpoint: 'unix:///var/run/docker.sock',
      runtimeRequestTimeoutMs: 120_000,
      imagePullProgressDeadlineMs: 60_000,
      podInfraContainerImage: 'dockerlet.local/pause:3.10',
      podCIDR: parseIpv4Cidr('10.244.0.0/16'),
      podNetworkName: 'dockerlet',
      podBridgeName: 'dockerlet0',
      nodeIPs: [],
      clusterDNS: [],
      clusterDomain: 'cluster.local',
      resolvConf: '/etc/resolv.conf',
      crashLoopBackOffMaxMs: 300_000,
      maxPods: 110,
      allowedUnsafeSysctls: [],
      allowedHostPathPrefixes: [],
      evictionMonitoringPeriodMs: 10_000,
      imageGC: { highThresholdPercent: 85, lowThresholdPercent: 80, minimumAgeMs: 120_000, maximumAgeMs: 0, periodMs: 300_000 },
      eviction: {
        thresholds: [
          { signal: 'memory.available', value: { quantity: 100 * 2 ** 20 }, gracePeriodMs: 0, hard: true },
          { signal: 'nodefs.available', value: { percentage: 0.1 }, gracePeriodMs: 0, hard: true },
          { signal: 'nodefs.inodesFree', value: { percentage: 0.05 }, gracePeriodMs: 0, hard: true },
          { signal: 'imagefs.available', value: { percentage: 0.15 }, gracePeriodMs: 0, hard: true },
        ],
        pressureTransitionPeriodMs: 300_000,
        maxPodGracePeriodSeconds: 0,
      },
      containerLogMaxSize: '10485760',
      containerLogMaxFiles: 5,
      plegRelistPeriodMs: 10_000,
      podsCgroup: 'dockerlet',
    });
    expect(ignoredConfigFields).toEqual([]);
  });

  test('the node name is the hostname override, trimmed and in lower case', async () => {
    expect((await resolve({ hostnameOverride: ' Node-A.Example ' })).options.nodeName).toBe('node-a.example');
  });

  test('another pod network gets a bridge named after it, cut to 15 characters', async () => {
    const { options } = await resolve({ podNetwork: 'a-rather-long-network-name' });
    expect([options.podNetworkName, options.podBridgeName]).toEqual(['a-rather-long-network-name', 'a-rather-long-n']);
  });

  test("--cgroup-root over the cgroupRoot field names the pods' cgroup; the kubelet's leading slash is taken, and its / is the default", async () => {
    expect((await resolve({})).options.podsCgroup).toBe('dockerlet');
    const file = await config('cgroupRoot: /node-a\n');
    expect((await resolve({ config: file })).options.podsCgroup).toBe('node-a');
    expect((await resolve({ config: file, cgroupRoot: 'node-b' })).options.podsCgroup).toBe('node-b');
    // The kubelet's default, the root itself, is dockerlet's default.
    expect((await resolve({ config: await config("cgroupRoot: /\n") })).options.podsCgroup).toBe('dockerlet');
  });
});

describe('resolveAgentOptions: flags over config file over defaults', () => {
  test('config file values are used when no flag is given', async () => {
    const path = await config(
      [
        'staticPodPath: /etc/kubernetes/manifests',
        'staticPodURL: http://127.0.0.1:8080/pods',
        'staticPodURLHeader: {X-Token: [abc]}',
        'fileCheckFrequency: 5s',
        'httpCheckFrequency: 7s',
        'syncFrequency: 30s',
        'address: 0.0.0.0',
        'port: 11250',
        'readOnlyPort: 0',
        'clusterDNS: [10.96.0.10]',
        'clusterDomain: example.local',
        'resolvConf: /run/resolv.conf',
        'podCIDR: 10.88.0.0/16',
        'runtimeRequestTimeout: 1m',
        'containerRuntimeEndpoint: unix:///run/docker.sock',
        'containerLogMaxSize: 1Mi',
        'containerLogMaxFiles: 3',
        'imageGCHighThresholdPercent: 90',
        'imageGCLowThresholdPercent: 70',
        'imageMinimumGCAge: 5m',
        'imageMaximumGCAge: 168h',
        'evictionHard: {memory.available: 500Mi}',
        "evictionSoft: {nodefs.available: '15%'}",
        'evictionSoftGracePeriod: {nodefs.available: 1m30s}',
        'evictionMinimumReclaim: {memory.available: 100Mi}',
        'evictionPressureTransitionPeriod: 30s',
        'evictionMaxPodGracePeriod: 20',
        'crashLoopBackOff: {maxContainerRestartPeriod: 60s}',
        '',
      ].join('\n'),
    );
    const { options } = await resolve({ config: path });
    expect(options).toMatchObject({
      staticPodPath: '/etc/kubernetes/manifests',
      staticPodURL: 'http://127.0.0.1:8080/pods',
      staticPodURLHeader: { 'X-Token': ['abc'] },
      fileCheckFrequencyMs: 5_000,
      httpCheckFrequencyMs: 7_000,
      syncFrequencyMs: 30_000,
      address: '0.0.0.0',
      port: 11250,
      readOnlyPort: 0,
      clusterDNS: ['10.96.0.10'],
      clusterDomain: 'example.local',
      resolvConf: '/run/resolv.conf',
      podCIDR: parseIpv4Cidr('10.88.0.0/16'),
      runtimeRequestTimeoutMs: 60_000,
      containerRuntimeEndpoint: 'unix:///run/docker.sock',
      containerLogMaxSize: '1048576',
      containerLogMaxFiles: 3,
      imageGC: { highThresholdPercent: 90, lowThresholdPercent: 70, minimumAgeMs: 300_000, maximumAgeMs: 168 * 3600_000, periodMs: 300_000 },
      // evictionHard replaces the defaults.
      eviction: {
        thresholds: [
          { signal: 'memory.available', value: { quantity: 500 * 2 ** 20 }, gracePeriodMs: 0, hard: true, minReclaim: { quantity: 100 * 2 ** 20 } },
          { signal: 'nodefs.available', value: { percentage: 0.15 }, gracePeriodMs: 90_000, hard: false },
        ],
        pressureTransitionPeriodMs: 30_000,
        maxPodGracePeriodSeconds: 20,
      },
      crashLoopBackOffMaxMs: 60_000,
    });
  });

  test('flags override the config file', async () => {
    const path = await config('staticPodPath: /from/file\nsyncFrequency: 30s\nport: 11250\naddress: 0.0.0.0\nclusterDNS: [10.96.0.10]\nstaticPodURLHeader: {X-From: [file]}\n');
    const { options } = await resolve({
      config: path,
      podManifestPath: '/from/flag',
      syncFrequency: '2m',
      port: '12250',
      address: '127.0.0.2',
      clusterDns: '10.96.0.11,10.96.0.12',
      manifestUrlHeader: ['X-From:flag'],
    });
    expect(options).toMatchObject({
      staticPodPath: '/from/flag',
      syncFrequencyMs: 120_000,
      port: 12250,
      address: '127.0.0.2',
      clusterDNS: ['10.96.0.11', '10.96.0.12'],
      staticPodURLHeader: { 'X-From': ['flag'] },
    });
  });

  test('--manifest-url-header takes comma-separated Name:value pairs and may repeat', async () => {
    const { options } = await resolve({ manifestUrlHeader: ['a:hello,b:again', 'b:beautiful'] });
    expect(options.staticPodURLHeader).toEqual({ a: ['hello'], b: ['again', 'beautiful'] });
  });

  test('--allowed-host-path-prefixes takes absolute paths, comma-separated, over the config file', async () => {
    const path = await config('allowedHostPathPrefixes: [/srv]\n');
    expect((await resolve({ config: path })).options.allowedHostPathPrefixes).toEqual(['/srv']);
    expect((await resolve({ config: path, allowedHostPathPrefixes: '/data, /var/data' })).options.allowedHostPathPrefixes).toEqual(['/data', '/var/data']);
  });

  test('--node-ip takes a comma-separated list', async () => {
    expect((await resolve({ nodeIp: '192.168.1.10, fd00::10' })).options.nodeIPs).toEqual(['192.168.1.10', 'fd00::10']);
  });

  test('config fields dockerlet does not act on are reported', async () => {
    const path = await config('kubeAPIQPS: 50\nstaticPodPath: /m\nserializeImagePulls: false\n');
    const { ignoredConfigFields } = await resolve({ config: path });
    expect(ignoredConfigFields).toEqual(['kubeAPIQPS', 'serializeImagePulls']);
  });
});

describe('resolveAgentOptions: routes to the other nodes', () => {
  test('a cluster node keeps none by default; --node-routes over the nodeRoutes field turns them on or off', async () => {
    const kubeconfig = '/etc/kubernetes/kubelet.conf';
    expect((await resolve({ kubeconfig })).options.cluster?.nodeRoutes).toBe(false);
    const on = await config('nodeRoutes: true\n');
    expect((await resolve({ kubeconfig, config: on })).options.cluster?.nodeRoutes).toBe(true);
    expect((await resolve({ kubeconfig, config: on, nodeRoutes: 'false' })).options.cluster?.nodeRoutes).toBe(false);
    expect((await resolve({ kubeconfig, nodeRoutes: true })).options.cluster?.nodeRoutes).toBe(true);
  });
});

describe("resolveAgentOptions: the pod subnet from the node's Node", () => {
  test('--pod-cidr-from-node over the podCIDRFromNode field leaves the pod CIDR unset, for the Node to give', async () => {
    const kubeconfig = '/etc/kubernetes/kubelet.conf';
    expect((await resolve({ kubeconfig, podCidrFromNode: true })).options.podCIDR).toBeUndefined();
    const file = await config('podCIDRFromNode: true\n');
    expect((await resolve({ kubeconfig, config: file })).options.podCIDR).toBeUndefined();
    expect((await resolve({ kubeconfig, config: file, podCidrFromNode: 'false' })).options.podCIDR?.text).toBe('10.244.0.0/16');
  });

  test('it needs cluster mode, and is refused beside a subnet of its own', async () => {
    expect((await failure({ podCidrFromNode: true })).message).toBe('--pod-cidr-from-node: invalid value true: needs --kubeconfig: the subnet comes from the Node the API server has');
    const kubeconfig = '/etc/kubernetes/kubelet.conf';
    const both = 'the pod subnet comes from the Node or from --pod-cidr (podCIDR), not both: drop one';
    expect((await failure({ kubeconfig, podCidrFromNode: true, podCidr: '10.88.0.0/24' })).message).toBe(`--pod-cidr-from-node: invalid value true: ${both}`);
    expect((await failure({ kubeconfig, podCidrFromNode: true, config: await config('podCIDR: 10.88.0.0/24\n') })).message).toBe(`--pod-cidr-from-node: invalid value true: ${both}`);
  });
});

describe('resolveAgentOptions: the secure server', () => {
  test('in cluster mode, tokens and access are checked with the API server by default, as KubeletConfiguration defaults them', async () => {
    const { options } = await resolve({ kubeconfig: '/etc/kubernetes/kubelet.conf' });
    expect(options.serving.authentication.webhook.enabled).toBe(true);
    expect(options.serving.authorization.mode).toBe('Webhook');
    expect(options.serving.authentication.anonymous).toBe(false);
  });

  test('flags override the config file, which overrides the defaults; --anonymous-auth alone means true', async () => {
    const path = await config(
      [
        'tlsCertFile: /pki/kubelet.crt',
        'tlsPrivateKeyFile: /pki/kubelet.key',
        'tlsMinVersion: VersionTLS13',
        'tlsCipherSuites: [TLS_AES_128_GCM_SHA256]',
        'streamingConnectionIdleTimeout: 30m',
        'authentication:',
        '  x509: {clientCAFile: /pki/ca.crt}',
        '  webhook: {enabled: false, cacheTTL: 10s}',
        '  anonymous: {enabled: false}',
        'authorization:',
        '  mode: AlwaysAllow',
        '  webhook: {cacheAuthorizedTTL: 1m, cacheUnauthorizedTTL: 5s}',
        '',
      ].join('\n'),
    );
    const { options } = await resolve({ config: path, kubeconfig: '/etc/kubernetes/kubelet.conf', anonymousAuth: true, clientCaFile: '/other/ca.crt' });
    expect(options.serving).toEqual({
      tlsCertFile: '/pki/kubelet.crt',
      tlsPrivateKeyFile: '/pki/kubelet.key',
      tls: { minVersion: 'VersionTLS13', cipherSuites: ['TLS_AES_128_GCM_SHA256'] },
      authentication: { x509ClientCAFile: '/other/ca.crt', webhook: { enabled: false, cacheTtlMs: 10_000 }, anonymous: true },
      streamingConnectionIdleTimeoutMs: 30 * 60_000,
      authorization: { mode: 'AlwaysAllow', webhook: { cacheAuthorizedTtlMs: 60_000, cacheUnauthorizedTtlMs: 5_000 } },
    });
  });

  test('a config file that does not set readOnlyPort turns the read-only port off, as KubeletConfiguration defaults it; the flag still turns it on', async () => {
    const path = await config('staticPodPath: /etc/manifests\n');
    expect((await resolve({ config: path })).options.readOnlyPort).toBe(0);
    expect((await resolve({ config: path, readOnlyPort: '10255' })).options.readOnlyPort).toBe(10255);
    expect((await resolve()).options.readOnlyPort).toBe(10255);
  });

  test('a cache TTL of 0 keeps nothing, as upstream; anonymous requests off loopback are fine when the API server authorizes them', async () => {
    const { options } = await resolve({ authenticationTokenWebhookCacheTtl: '0s', kubeconfig: '/etc/kubernetes/kubelet.conf', anonymousAuth: 'true', address: '0.0.0.0' });
    expect(options.serving.authentication.webhook.cacheTtlMs).toBe(0);
    expect(options.serving.authentication.anonymous).toBe(true);
  });

  test('a bad authorization mode in the config file names the field', async () => {
    const path = await config('authorization:\n  mode: RBAC\n');
    await expect(resolve({ config: path })).rejects.toThrow('authorization.mode');
  });
});

describe('resolveAgentOptions: bad flags', () => {
  test.each([
    [{ hostnameOverride: 'node_1' }, '--hostname-override: invalid value "node_1": must be a lowercase RFC 1123 subdomain, such as node-1'],
    [{ podNetwork: '-bad' }, '--pod-network: invalid value "-bad": must be a Docker network name'],
    [{ manifestUrl: 'ftp://host/pods' }, '--manifest-url: invalid value "ftp://host/pods": must be an http:// or https:// URL'],
    [{ containerRuntimeEndpoint: 'tcp://127.0.0.1:2375' }, '--container-runtime-endpoint: invalid value "tcp://127.0.0.1:2375": must be a unix:// socket of a Docker engine'],
    [{ address: 'localhost' }, '--address: invalid value "localhost": must be an IP address'],
    [{ fileCheckFrequency: '20' }, '--file-check-frequency: invalid value "20": must be a positive duration such as 20s, 1m or 1m30s'],
    [{ httpCheckFrequency: 'often' }, '--http-check-frequency: invalid value "often": must be a positive duration such as 20s, 1m or 1m30s'],
    [{ syncFrequency: '1 m' }, '--sync-frequency: invalid value "1 m": must be a positive duration such as 20s, 1m or 1m30s'],
    [{ runtimeRequestTimeout: 'x' }, '--runtime-request-timeout: invalid value "x": must be a positive duration such as 20s, 1m or 1m30s'],
    [{ syncFrequency: '0s' }, '--sync-frequency: invalid value "0s": must be a positive duration such as 20s, 1m or 1m30s'],
    [{ port: '70000' }, '--port: invalid value "70000": must be a port number from 0 to 65535 (0 disables)'],
    [{ readOnlyPort: 'ten' }, '--read-only-port: invalid value "ten": must be a port number from 0 to 65535 (0 disables)'],
    [{ podCidr: '10.244.0.0/31' }, '--pod-cidr: invalid value "10.244.0.0/31": must be an IPv4 CIDR from /8 to /30, such as 10.244.0.0/16'],
    [{ podCidr: 'fd00::/64' }, '--pod-cidr: invalid value "fd00::/64": must be an IPv4 CIDR from /8 to /30, such as 10.244.0.0/16'],
    [{ podCidr: '10.244.1.0/16' }, '--pod-cidr: invalid value "10.244.1.0/16": has host bits set: did you mean 10.244.0.0/16?'],
    [{ nodeIp: '192.168.1.10,nope' }, '--node-ip: invalid value "nope": must be a comma-separated list of IP addresses'],
    [{ clusterDns: '10.96.0.300' }, '--cluster-dns: invalid value "10.96.0.300": must be a comma-separated list of IP addresses'],
    [{ manifestUrlHeader: ['novalue'] }, "--manifest-url-header: invalid value \"novalue\": must be 'Name:value' pairs separated by commas"],
    [{ allowedHostPathPrefixes: '/data,relative' }, '--allowed-host-path-prefixes: invalid value "relative": must be absolute paths, comma-separated, such as /data,/srv'],
    [{ tlsCertFile: '/etc/kubelet.crt' }, '--tls-cert-file: invalid value "/etc/kubelet.crt": --tls-cert-file and --tls-private-key-file (tlsCertFile, tlsPrivateKeyFile) go together: give both or neither'],
    [{ tlsMinVersion: 'TLS1.2' }, '--tls-min-version: invalid value "TLS1.2": must be one of VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13'],
    [{ tlsCipherSuites: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,AES128-SHA' }, '--tls-cipher-suites: invalid value "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,AES128-SHA": cipher suite AES128-SHA not supported or doesn\'t exist; the names are Go\'s, such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
    [{ anonymousAuth: 'maybe' }, '--anonymous-auth: invalid value "maybe": must be true or false'],
    [{ cgroupRoot: 'kube/pods' }, '--cgroup-root: invalid value "kube/pods": must be one cgroup name of letters, digits, \'_\', \'.\' and \'-\', such as dockerlet'],
    [{ kubeconfig: '/etc/kubernetes/kubelet.conf', nodeRoutes: 'yes' }, '--node-routes: invalid value "yes": must be true or false'],
    [{ authenticationTokenWebhook: true }, '--authentication-token-webhook: invalid value true: needs --kubeconfig: tokens are checked by the API server'],
    [{ authorizationMode: 'Webhook' }, '--authorization-mode: invalid value "Webhook": Webhook needs --kubeconfig: access is checked by the API server'],
    [{ authorizationWebhookCacheAuthorizedTtl: 'soon' }, '--authorization-webhook-cache-authorized-ttl: invalid value "soon": must be a duration such as 30s or 5m (0 keeps nothing)'],
    [{ anonymousAuth: true, address: '0.0.0.0' }, '--anonymous-auth: invalid value true: with authorization AlwaysAllow, anonymous requests on --address 0.0.0.0 would let anyone who reaches it read logs and exec into pods: keep --address on loopback, or use --authorization-mode Webhook'],
  ] as Array<[AgentFlags, string]>)('%j is a flag error naming the flag', async (flags, message) => {
    const err = await failure(flags);
    expect(err.code).toBe('DKL_ERR_FLAG_INVALID');
    expect(err.status).toBe(2);
    expect(err.message).toBe(message);
  });
});

describe('resolveAgentOptions: bad config file values', () => {
  test.each([
    ['address: nowhere\n', 'address: invalid value "nowhere": must be an IP address'],
    ['staticPodURL: ftp://host/pods\n', 'staticPodURL: invalid value "ftp://host/pods": must be an http:// or https:// URL'],
    ['containerRuntimeEndpoint: tcp://127.0.0.1:2375\n', 'containerRuntimeEndpoint: invalid value "tcp://127.0.0.1:2375": must be a unix:// socket of a Docker engine'],
    ['podCIDR: 10.0.0.0/4\n', 'podCIDR: invalid value "10.0.0.0/4": must be an IPv4 CIDR from /8 to /30, such as 10.244.0.0/16'],
    ['clusterDNS: [10.96.0.10, dns.local]\n', 'clusterDNS: invalid value "dns.local": must be a comma-separated list of IP addresses'],
    ['containerLogMaxSize: "100"\n', 'containerLogMaxSize: invalid value "100": must be a quantity of at least 1Ki, such as 10Mi'],
    ['imageGCLowThresholdPercent: 85\n', 'imageGCLowThresholdPercent: invalid value 85: must be less than imageGCHighThresholdPercent (85)'],
    ['imageGCHighThresholdPercent: 70\n', 'imageGCHighThresholdPercent: invalid value 70: must be greater than imageGCLowThresholdPercent (80)'],
    ['imageGCHighThresholdPercent: 50\nimageGCLowThresholdPercent: 60\n', 'imageGCLowThresholdPercent: invalid value 60: must be less than imageGCHighThresholdPercent (50)'],
    ['evictionHard: {memory.avail: 100Mi}\n', 'evictionHard.memory.avail: invalid value "100Mi": is not an eviction signal dockerlet knows: memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree, pid.available'],
    ['evictionHard: {memory.available: lots}\n', 'evictionHard.memory.available: invalid value "lots": must be a quantity such as 100Mi or a percentage such as 10%'],
    ["evictionSoft: {memory.available: '5%'}\n", 'evictionSoftGracePeriod.memory.available: invalid value "": a soft threshold needs a grace period, such as 1m30s'],
    ["evictionMinimumReclaim: {pid.available: '100'}\n", 'evictionMinimumReclaim.pid.available: invalid value "100": has no evictionHard or evictionSoft threshold'],
    ['imageMaximumGCAge: 1m\n', 'imageMaximumGCAge: invalid value "1m": must be greater than imageMinimumGCAge, or 0 to never remove images for their age'],
    ['allowedHostPathPrefixes: [/data, srv]\n', 'allowedHostPathPrefixes: invalid value "srv": must be absolute paths, comma-separated, such as /data,/srv'],
    ['crashLoopBackOff: {maxContainerRestartPeriod: 500ms}\n', 'crashLoopBackOff.maxContainerRestartPeriod: invalid value "500ms": must be from 1s to 300s'],
    ['crashLoopBackOff: {maxContainerRestartPeriod: 301s}\n', 'crashLoopBackOff.maxContainerRestartPeriod: invalid value "301s": must be from 1s to 300s'],
  ])('%j is a config error naming the field', async (body, problem) => {
    const path = await config(body);
    const err = await failure({ config: path });
    expect(err.code).toBe('DKL_ERR_CONFIG_INVALID');
    expect(err.status).toBe(2);
    expect(err.message).toBe(`--config ${path}: ${problem}`);
  });

  test('a bad value in the file does not matter when a flag overrides it', async () => {
    const path = await config('address: nowhere\n');
    expect((await resolve({ config: path, address: '127.0.0.1' })).options.address).toBe('127.0.0.1');
  });

  test('a config file that fails to load stops resolution with its error', async () => {
    const path = await config('port: 70000\n');
    const err = await failure({ config: path });
    expect(err.code).toBe('DKL_ERR_CONFIG_INVALID');
    expect(err.message).toBe(`--config ${path}: port: Invalid value: 70000: must be less than or equal to 65535`);
  });
});
