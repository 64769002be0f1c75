/**
 * The --config file: a KubeletConfiguration (kubelet.config.k8s.io/v1beta1). Fields dockerlet
 * acts on are checked strictly; fields it does not know are reported, not fatal, so a kubelet
 * config written for the upstream kubelet still loads.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { DockerletError, errorMessage } from '../common/api/errors.js';
import { formatIssues } from '../agent/config/validation/format-issues.js';
import { parseDuration } from '../common/util/duration.js';

const duration = z.string().refine((text) => parseDuration(text) !== undefined, 'must be a duration such as 20s, 1m or 1m30s');
const port = z.number().int().min(0).max(65535);
/** The effects a taint may have. */
export const TaintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

const taint = z.strictObject({
  key: z.string().min(1),
  value: z.string().optional(),
  effect: z.enum(TaintEffects),
});

const kubeletConfiguration = z.strictObject({
  kind: z.literal('KubeletConfiguration'),
  apiVersion: z.literal('kubelet.config.k8s.io/v1beta1'),
  staticPodPath: z.string().optional(),
  staticPodURL: z.string().url().optional(),
  staticPodURLHeader: z.record(z.string(), z.array(z.string())).optional(),
  fileCheckFrequency: duration.optional(),
  httpCheckFrequency: duration.optional(),
  syncFrequency: duration.optional(),
  address: z.string().optional(),
  port: port.optional(),
  readOnlyPort: port.optional(),
  tlsCertFile: z.string().optional(),
  tlsPrivateKeyFile: z.string().optional(),
  tlsMinVersion: z.string().optional(),
  tlsCipherSuites: z.array(z.string()).optional(),
  streamingConnectionIdleTimeout: duration.optional(),
  authentication: z
    .strictObject({
      x509: z.strictObject({ clientCAFile: z.string().optional() }).optional(),
      webhook: z.strictObject({ enabled: z.boolean().optional(), cacheTTL: duration.optional() }).optional(),
      anonymous: z.strictObject({ enabled: z.boolean().optional() }).optional(),
    })
    .optional(),
  authorization: z
    .strictObject({
      mode: z.enum(['AlwaysAllow', 'Webhook']).optional(),
      webhook: z.strictObject({ cacheAuthorizedTTL: duration.optional(), cacheUnauthorizedTTL: duration.optional() }).optional(),
    })
    .optional(),
  clusterDNS: z.array(z.string()).optional(),
  /** dockerlet's own: hostPath volumes must lie under one of these prefixes (default: anywhere). */
  allowedHostPathPrefixes: z.array(z.string()).optional(),
  allowedUnsafeSysctls: z.array(z.string()).optional(),
  clusterDomain: z.string().optional(),
  /** dockerlet's own: whether `dockerlet up` serves the cluster DNS (default: yes, unless clusterDNS names another server in cluster mode). */
  serveClusterDNS: z.boolean().optional(),
  /** dockerlet's own: whether a cluster node routes every other node's pod subnet via its InternalIP (default: no). */
  nodeRoutes: z.boolean().optional(),
  resolvConf: z.string().optional(),
  podCIDR: z.string().optional(),
  /** dockerlet's own: a cluster node's pod subnet is its Node's spec.podCIDR, waited for at start (default: no, podCIDR). */
  podCIDRFromNode: z.boolean().optional(),
  /** The cgroup every pod goes under: as the kubelet's, but dockerlet puts its pods right below it (it is dockerlet's kubepods). */
  cgroupRoot: z.string().optional(),
  runtimeRequestTimeout: duration.optional(),
  containerRuntimeEndpoint: z.string().optional(),
  evictionHard: z.record(z.string(), z.string()).optional(),
  evictionSoft: z.record(z.string(), z.string()).optional(),
  evictionSoftGracePeriod: z.record(z.string(), duration).optional(),
  evictionMinimumReclaim: z.record(z.string(), z.string()).optional(),
  evictionPressureTransitionPeriod: duration.optional(),
  evictionMaxPodGracePeriod: z.number().int().min(0).optional(),
  imageGCHighThresholdPercent: z.number().int().min(0).max(100).optional(),
  imageGCLowThresholdPercent: z.number().int().min(0).max(100).optional(),
  imageMinimumGCAge: duration.optional(),
  imageMaximumGCAge: duration.optional(),
  containerLogMaxSize: z.string().optional(),
  containerLogMaxFiles: z.number().int().min(2).optional(),
  crashLoopBackOff: z.strictObject({ maxContainerRestartPeriod: duration.optional() }).optional(),
  nodeStatusUpdateFrequency: duration.optional(),
  nodeStatusReportFrequency: duration.optional(),
  nodeLeaseDurationSeconds: z.number().int().min(1).optional(),
  maxPods: z.number().int().min(1).optional(),
  registerWithTaints: z.array(taint).optional(),
});

export type KubeletConfiguration = z.infer<typeof kubeletConfiguration>;

/**
 * Fields whose zero value the kubelet's defaulting (SetDefaults_KubeletConfiguration) replaces with
 * the default: a file written by kubeadm spells them out as `0s`, `0` or `""`.
 */
const ZeroMeansDefault = [
  'syncFrequency',
  'fileCheckFrequency',
  'httpCheckFrequency',
  'runtimeRequestTimeout',
  'nodeStatusUpdateFrequency',
  'nodeStatusReportFrequency',
  'nodeLeaseDurationSeconds',
  'maxPods',
  'containerRuntimeEndpoint',
  'containerLogMaxSize',
  'imageMinimumGCAge',
  'evictionPressureTransitionPeriod',
  'address',
  'tlsCertFile',
  'tlsPrivateKeyFile',
  'tlsMinVersion',
  'streamingConnectionIdleTimeout',
  'authentication.webhook.cacheTTL',
  'authorization.webhook.cacheAuthorizedTTL',
  'authorization.webhook.cacheUnauthorizedTTL',
] as const;

const isZero = (value: unknown): boolean => value === 0 || value === '' || (typeof value === 'string' && parseDuration(value) === 0);

/** The fields with their zero values dropped (nested ones by their dotted path), as the kubelet's defaulting treats them. */
function withoutZeroValues(fields: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(fields);
  for (const path of ZeroMeansDefault) {
    const keys = path.split('.');
    const parent = keys.slice(0, -1).reduce<unknown>((object, key) => (isObject(object) ? object[key] : undefined), copy);
    const last = keys.at(-1)!;
    if (isObject(parent) && isZero(parent[last])) delete parent[last];
  }
  return copy;
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

export interface LoadedConfig {
  config: KubeletConfiguration;
  /** Fields present in the file that dockerlet does not act on. */
  ignoredFields: string[];
}

export async function loadKubeletConfig(path: string): Promise<LoadedConfig> {
  let document: unknown;
  try {
    document = parse(await readFile(path, 'utf8'), { version: '1.1' });
  } catch (err) {
    throw new DockerletError('DKL_ERR_CONFIG_INVALID', `--config ${path}: ${errorMessage(err)}`, { cause: err });
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new DockerletError('DKL_ERR_CONFIG_INVALID', `--config ${path}: expected a KubeletConfiguration object`);
  }
  const known = new Set(Object.keys(kubeletConfiguration.shape));
  const fields = document as Record<string, unknown>;
  const ignoredFields = Object.keys(fields).filter((key) => !known.has(key));
  const relevant = withoutZeroValues(Object.fromEntries(Object.entries(fields).filter(([key]) => known.has(key))));
  const parsed = kubeletConfiguration.safeParse(relevant, { reportInput: true });
  if (!parsed.success) {
    const problems = formatIssues(parsed.error.issues).map(({ field, message }) => `${field}: ${message}`);
    throw new DockerletError('DKL_ERR_CONFIG_INVALID', `--config ${path}: ${problems.join('; ')}`);
  }
  return { config: parsed.data, ignoredFields };
}
