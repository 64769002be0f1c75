import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { DockerletError } from '../../../common/api/errors.js';
import { loadKubeletConfig } from '../../../cli/kubelet-config.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerlet-config-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const header = 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n';

async function configFile(body: string, withHeader = true): Promise<string> {
  const path = join(dir, 'kubelet.yaml');
  await writeFile(path, withHeader ? header + body : body);
  return path;
}

/** The DockerletError loading `path` throws. */
async function failure(path: string): Promise<DockerletError> {
  const err: unknown = await loadKubeletConfig(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof DockerletError)) throw new Error(`expected a DockerletError, got ${String(err)}`);
  return err;
}

describe('loadKubeletConfig', () => {
  test('reads the fields dockerlet acts on', async () => {
    const path = await configFile(
      'staticPodPath: /etc/kubernetes/manifests\nsyncFrequency: 30s\nport: 10260\nclusterDNS: [10.96.0.10]\nstaticPodURLHeader: {X-Token: [abc]}\ncrashLoopBackOff: {maxContainerRestartPeriod: 60s}\n',
    );
    const { config, ignoredFields } = await loadKubeletConfig(path);
    expect(config).toEqual({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      staticPodPath: '/etc/kubernetes/manifests',
      syncFrequency: '30s',
      port: 10260,
      clusterDNS: ['10.96.0.10'],
      staticPodURLHeader: { 'X-Token': ['abc'] },
      crashLoopBackOff: { maxContainerRestartPeriod: '60s' },
    });
    expect(ignoredFields).toEqual([]);
  });

  test("kubeadm's zero values stand for the defaults, as the kubelet's defaulting reads them", async () => {
    const kubeadm = `authentication:
  anonymous: {enabled: false}
  webhook: {cacheTTL: 0s, enabled: true}
  x509: {clientCAFile: /etc/kubernetes/pki/ca.crt}
authorization:
  mode: Webhook
  webhook: {cacheAuthorizedTTL: 0s, cacheUnauthorizedTTL: 0s}
cgroupDriver: systemd
clusterDNS: [10.96.0.10]
clusterDomain: cluster.local
containerRuntimeEndpoint: ""
cpuManagerReconcilePeriod: 0s
evictionPressureTransitionPeriod: 0s
fileCheckFrequency: 0s
healthzBindAddress: 127.0.0.1
healthzPort: 10248
httpCheckFrequency: 0s
imageMinimumGCAge: 0s
logging: {flushFrequency: 0, options: {json: {infoBufferSize: "0"}}, verbosity: 0}
memorySwap: {}
nodeStatusReportFrequency: 0s
nodeStatusUpdateFrequency: 0s
resolvConf: /run/systemd/resolve/resolv.conf
rotateCertificates: true
runtimeRequestTimeout: 0s
shutdownGracePeriod: 0s
shutdownGracePeriodCriticalPods: 0s
staticPodPath: /etc/kubernetes/manifests
streamingConnectionIdleTimeout: 0s
syncFrequency: 0s
volumeStatsAggPeriod: 0s
`;
    const { config } = await loadKubeletConfig(await configFile(kubeadm));
    expect(config).toEqual({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: '/etc/kubernetes/pki/ca.crt' } },
      authorization: { mode: 'Webhook', webhook: {} },
      clusterDNS: ['10.96.0.10'],
      clusterDomain: 'cluster.local',
      resolvConf: '/run/systemd/resolve/resolv.conf',
      staticPodPath: '/etc/kubernetes/manifests',
    });
  });

  test('fields it does not act on are reported, not fatal', async () => {
    const path = await configFile('kubeAPIQPS: 50\nstaticPodPath: /m\ncpuManagerPolicy: static\n');
    const { config, ignoredFields } = await loadKubeletConfig(path);
    expect(ignoredFields).toEqual(['kubeAPIQPS', 'cpuManagerPolicy']);
    expect(config.staticPodPath).toBe('/m');
  });

  test('a wrong kind is a config error naming the file and the field', async () => {
    const err = await failure(await configFile('apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeProxyConfiguration\n', false));
    expect(err.code).toBe('DKL_ERR_CONFIG_INVALID');
    expect(err.message).toBe(`--config ${dir}/kubelet.yaml: kind: Unsupported value: "KubeProxyConfiguration": supported values: "KubeletConfiguration"`);
  });

  test('a missing apiVersion is a Required value', async () => {
    const err = await failure(await configFile('kind: KubeletConfiguration\n', false));
    expect(err.code).toBe('DKL_ERR_CONFIG_INVALID');
    expect(err.message).toBe(`--config ${dir}/kubelet.yaml: apiVersion: Required value`);
  });

  test.each([
    ['port: 70000\n', 'port: Invalid value: 70000: must be less than or equal to 65535'],
    ['readOnlyPort: -1\n', 'readOnlyPort: Invalid value: -1: must be greater than or equal to 0'],
    ['syncFrequency: soon\n', 'syncFrequency: Invalid value: "soon": must be a duration such as 20s, 1m or 1m30s'],
    ['fileCheckFrequency: 20\n', 'fileCheckFrequency: Invalid value: 20: must be a string'],
    ['containerLogMaxFiles: 1\n', 'containerLogMaxFiles: Invalid value: 1: must be greater than or equal to 2'],
    ['crashLoopBackOff: {maxContainerRestartPeriod: forever}\n', 'crashLoopBackOff.maxContainerRestartPeriod: Invalid value: "forever": must be a duration such as 20s, 1m or 1m30s'],
  ])('%j is refused, naming the field', async (body, problem) => {
    const err = await failure(await configFile(body));
    expect(err.code).toBe('DKL_ERR_CONFIG_INVALID');
    expect(err.message).toBe(`--config ${dir}/kubelet.yaml: ${problem}`);
  });

  test('a staticPodURL that is not a URL is refused', async () => {
    const err = await failure(await configFile('staticPodURL: not a url\n'));
    expect(err.code).toBe('DKL_ERR_CONFIG_INVALID');
    expect(err.message).toMatch(/^--config .*kubelet\.yaml: staticPodURL: Invalid value: "not a url": /);
  });

  test('an unknown field inside a known one is refused', async () => {
    const err = await failure(await configFile('crashLoopBackOff: {maxContainerRestartPeriod: 10s, other: 1}\n'));
    expect(err.code).toBe('DKL_ERR_CONFIG_INVALID');
    expect(err.message).toMatch(/^--config .*kubelet\.yaml: crashLoopBackOff: .*"other"/);
  });

  test('several problems are all reported', async () => {
    const err = await failure(await configFile('port: 70000\nsyncFrequency: soon\n'));
    expect(err.message).toBe(
      `--config ${dir}/kubelet.yaml: syncFrequency: Invalid value: "soon": must be a duration such as 20s, 1m or 1m30s; port: Invalid value: 70000: must be less than or equal to 65535`,
    );
  });

  test('YAML that does not parse is a config error with its cause', async () => {
    const err = await failure(await configFile('port: [1, 2\n'));
    expect(err.code).toBe('DKL_ERR_CONFIG_INVALID');
    expect(err.message).toMatch(new RegExp(`^--config ${dir}/kubelet.yaml: `));
    expect(err.cause).toBeInstanceOf(Error);
  });

  test('a document that is not an object is refused', async () => {
    const err = await failure(await configFile('- a\n- b\n', false));
    expect(err.message).toBe(`--config ${dir}/kubelet.yaml: expected a KubeletConfiguration object`);
  });

  test('a file that does not exist is a config error naming it', async () => {
    const err = await failure(join(dir, 'absent.yaml'));
    expect(err.code).toBe('DKL_ERR_CONFIG_INVALID');
    expect(err.message).toMatch(new RegExp(`^--config ${dir}/absent.yaml: ENOENT`));
  });
});
