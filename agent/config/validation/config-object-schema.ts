/**
 * What the API server's ValidateConfigMap and ValidateSecret reject (pkg/apis/core/validation),
 * for ConfigMaps and Secrets given next to static pods: names, keys (IsConfigMapKey), base64
 * values, a key in both data and binaryData, and the 1 MiB size limit.
 */
import { z } from 'zod';
import { dnsLabel, dnsSubdomain, labels } from './names.js';

/** MaxSecretSize and the ConfigMap limit (corev1.MaxSecretSize, validation.go). */
export const MaxObjectBytes = 1024 * 1024;

const ConfigMapKey = /^[-._a-zA-Z0-9]+$/;
const Base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** IsConfigMapKey, with the API server's wording. */
const keyedMap = <T extends z.ZodType>(value: T) =>
  z.record(z.string(), value).superRefine((map, ctx) => {
    for (const key of Object.keys(map)) {
      let problem: string | undefined;
      if (key.length > 253) problem = 'must be no more than 253 characters';
      else if (!ConfigMapKey.test(key)) problem = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
      else if (key === '.' || key === '..') problem = `must not be '${key}'`;
      if (problem) ctx.addIssue({ code: 'custom', path: [key], message: `Invalid value: "${key}": ${problem}` });
    }
  });

const base64Value = z.string().regex(Base64, 'illegal base64 data');

/** ObjectMeta as ValidateObjectMeta checks it for a namespaced object (a cluster-scoped one omits the namespace). */
export const objectMetadata = z.looseObject({
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
  labels: labels.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

function sizeOf(values: Array<Record<string, string> | undefined>, decode: (value: string) => number): number {
  return values.reduce((total, map) => total + Object.entries(map ?? {}).reduce((sum, [key, value]) => sum + key.length + decode(value), 0), 0);
}

const base64Bytes = (value: string): number => Buffer.from(value, 'base64').length;

export const configMapSchema = z
  .looseObject({
    apiVersion: z.literal('v1'),
    kind: z.literal('ConfigMap'),
    metadata: objectMetadata,
    data: keyedMap(z.string()).optional(),
    binaryData: keyedMap(base64Value).optional(),
    immutable: z.boolean().optional(),
  })
  .superRefine((configMap, ctx) => {
    for (const key of Object.keys(configMap.binaryData ?? {})) {
      if (configMap.data?.[key] !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['data', key], message: `Invalid value: "${key}": duplicate of key present in binaryData` });
      }
    }
    const size = sizeOf([configMap.data], (value) => Buffer.byteLength(value)) + sizeOf([configMap.binaryData], base64Bytes);
    if (size > MaxObjectBytes) ctx.addIssue({ code: 'custom', message: `Too long: must have at most ${MaxObjectBytes} bytes` });
  });

export const secretSchema = z
  .looseObject({
    apiVersion: z.literal('v1'),
    kind: z.literal('Secret'),
    metadata: objectMetadata,
    type: z.string().min(1).optional(),
    data: keyedMap(base64Value).optional(),
    stringData: keyedMap(z.string()).optional(),
    immutable: z.boolean().optional(),
  })
  .superRefine((secret, ctx) => {
    const size = sizeOf([secret.data], base64Bytes) + sizeOf([secret.stringData], (value) => Buffer.byteLength(value));
    if (size > MaxObjectBytes) ctx.addIssue({ code: 'custom', path: ['data'], message: `Too long: must have at most ${MaxObjectBytes} bytes` });
  });
