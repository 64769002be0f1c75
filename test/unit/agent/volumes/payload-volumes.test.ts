import { describe, expect, test } from 'vitest';
import type { ConfigMap, Secret } from '../../../../common/api/types.js';
import type { Payload } from '../../../../agent/volumes/atomic-writer.js';
import { aggregateMessage } from '../../../../common/api/errors.js';
import type { ConfigObjectLookup } from '../../../../agent/config/config-objects.js';
import { configMapPayload } from '../../../../agent/volumes/plugins/config-map.js';
import { downwardApiPayload } from '../../../../agent/volumes/plugins/downward-api.js';
import type { PayloadResult } from '../../../../agent/volumes/plugins/payload-volume.js';
import { projectedPayload } from '../../../../agent/volumes/plugins/projected.js';
import { secretPayload } from '../../../../agent/volumes/plugins/secret.js';
import { ctr, pod } from '../../fixtures.js';

const allocatable = { milliCpu: 4000, memoryBytes: 8 * 2 ** 30, ephemeralStorageBytes: 100 * 2 ** 30 };

const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** A payload as { path: [text, mode] }, for exact comparison. */
function files(result: PayloadResult): Record<string, [string, number]> {
  if (!result.ok) throw new Error(`expected a payload, got: ${result.message}`);
  return Object.fromEntries([...(result.payload as Payload)].map(([path, { data, mode }]) => [path, [data.toString('utf8'), mode]]));
}

const settings: ConfigMap = {
  metadata: { name: 'settings', namespace: 'default' },
  data: { 'app.yaml': 'debug: true\n', level: 'info' },
  binaryData: { 'logo.bin': Buffer.from([0xff, 0x00, 0x01]).toString('base64') },
};

const credentials: Secret = {
  metadata: { name: 'credentials', namespace: 'default' },
  data: { username: b64('admin'), password: b64('s3cret') },
};

describe('configMapPayload (configmap.go MakePayload)', () => {
  test('no items: every data and binaryData key, with defaultMode 0644', () => {
    const result = configMapPayload({ name: 'settings' }, settings);
    expect(files(result)).toEqual({ 'app.yaml': ['debug: true\n', 0o644], level: ['info', 0o644], 'logo.bin': ['\ufffd\u0000\u0001', 0o644] });
    expect(result.ok && result.payload.get('logo.bin')!.data).toEqual(Buffer.from([0xff, 0x00, 0x01]));
  });

  test("the source's defaultMode applies to every file", () => {
    expect(files(configMapPayload({ name: 'settings', defaultMode: 0o400 }, { data: { a: '1' } }))).toEqual({ a: ['1', 0o400] });
  });

  test("items: only their keys, at their paths, an item's mode over defaultMode", () => {
    const result = configMapPayload(
      { name: 'settings', defaultMode: 0o440, items: [{ key: 'level', path: 'conf/level.txt' }, { key: 'app.yaml', path: 'app.yaml', mode: 0o600 }] },
      settings,
    );
    expect(files(result)).toEqual({ 'conf/level.txt': ['info', 0o440], 'app.yaml': ['debug: true\n', 0o600] });
  });

  test('an item may name a binaryData key', () => {
    const result = configMapPayload({ name: 'settings', items: [{ key: 'logo.bin', path: 'logo' }] }, settings);
    expect(result.ok && result.payload.get('logo')!.data).toEqual(Buffer.from([0xff, 0x00, 0x01]));
  });

  test('a missing ConfigMap fails', () => {
    expect(configMapPayload({ name: 'absent' }, undefined)).toEqual({ ok: false, message: 'configmap "absent" not found' });
  });

  test('a missing optional ConfigMap is an empty volume, with or without items', () => {
    expect(files(configMapPayload({ name: 'absent', optional: true }, undefined))).toEqual({});
    expect(files(configMapPayload({ name: 'absent', optional: true, items: [{ key: 'k', path: 'k' }] }, undefined))).toEqual({});
  });

  test("an item naming a missing key fails with upstream's message", () => {
    expect(configMapPayload({ name: 'settings', items: [{ key: 'level', path: 'l' }, { key: 'nope', path: 'n' }] }, settings)).toEqual({
      ok: false,
      message: 'configmap references non-existent config key: nope',
    });
  });

  test('in an optional source, an item naming a missing key is skipped', () => {
    const result = configMapPayload({ name: 'settings', optional: true, items: [{ key: 'level', path: 'l' }, { key: 'nope', path: 'n' }] }, settings);
    expect(files(result)).toEqual({ l: ['info', 0o644] });
  });
});

describe('secretPayload (secret.go MakePayload)', () => {
  test('no items: every key, base64-decoded, with defaultMode 0644', () => {
    expect(files(secretPayload({ secretName: 'credentials' }, credentials))).toEqual({ username: ['admin', 0o644], password: ['s3cret', 0o644] });
  });

  test('stringData is merged over data', () => {
    const secret: Secret = { data: { a: b64('from-data'), b: b64('kept') }, stringData: { a: 'from-stringData', c: 'plain' } };
    expect(files(secretPayload({ secretName: 's', defaultMode: 0o400 }, secret))).toEqual({
      a: ['from-stringData', 0o400],
      b: ['kept', 0o400],
      c: ['plain', 0o400],
    });
  });

  test("items: only their keys, at their paths, an item's mode over defaultMode", () => {
    const result = secretPayload({ secretName: 'credentials', defaultMode: 0o440, items: [{ key: 'password', path: 'db/pass', mode: 0o400 }, { key: 'username', path: 'user' }] }, credentials);
    expect(files(result)).toEqual({ 'db/pass': ['s3cret', 0o400], user: ['admin', 0o440] });
  });

  test('binary data survives decoding byte for byte', () => {
    const result = secretPayload({ secretName: 's' }, { data: { key: Buffer.from([0, 0xfe, 0x80]).toString('base64') } });
    expect(result.ok && result.payload.get('key')!.data).toEqual(Buffer.from([0, 0xfe, 0x80]));
  });

  test('a missing Secret fails', () => {
    expect(secretPayload({ secretName: 'absent' }, undefined)).toEqual({ ok: false, message: 'secret "absent" not found' });
  });

  test('a missing optional Secret is an empty volume', () => {
    expect(files(secretPayload({ secretName: 'absent', optional: true, items: [{ key: 'k', path: 'k' }] }, undefined))).toEqual({});
  });

  test("an item naming a missing key fails with upstream's message", () => {
    expect(secretPayload({ secretName: 'credentials', items: [{ key: 'token', path: 't' }] }, credentials)).toEqual({
      ok: false,
      message: 'references non-existent secret key: token',
    });
  });

  test('in an optional source, an item naming a missing key is skipped', () => {
    const result = secretPayload({ secretName: 'credentials', optional: true, items: [{ key: 'token', path: 't' }, { key: 'username', path: 'u' }] }, credentials);
    expect(files(result)).toEqual({ u: ['admin', 0o644] });
  });
});

describe('downwardApiPayload (downwardapi.go CollectData)', () => {
  const p = pod(
    {
      containers: [
        ctr('main', { resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '250m', memory: '64Mi' } } }),
        ctr('sidecar'),
      ],
      initContainers: [ctr('setup', { resources: { limits: { 'hugepages-2Mi': '4Mi' } } })],
    },
    { labels: { app: 'web' }, annotations: { note: 'hi' } },
  );

  test('fieldRef items at their paths, with defaultMode or their own mode', () => {
    const result = downwardApiPayload(
      [
        { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
        { path: 'meta/labels', fieldRef: { fieldPath: 'metadata.labels' }, mode: 0o600 },
        { path: 'meta/annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
        { path: 'app', fieldRef: { fieldPath: "metadata.labels['app']" } },
      ],
      0o644,
      p,
      allocatable,
    );
    expect(files(result)).toEqual({
      name: ['web', 0o644],
      'meta/labels': ['app="web"', 0o600],
      'meta/annotations': ['note="hi"', 0o644],
      app: ['web', 0o644],
    });
  });

  test('item paths are cleaned (path.Clean)', () => {
    expect(Object.keys(files(downwardApiPayload([{ path: './a//b/', fieldRef: { fieldPath: 'metadata.uid' } }], 0o644, p, allocatable)))).toEqual(['a/b']);
  });

  test("resourceFieldRef: the named container's limit or request in units of the divisor, rounded up", () => {
    const result = downwardApiPayload(
      [
        { path: 'cpu_limit', resourceFieldRef: { containerName: 'main', resource: 'limits.cpu', divisor: '1m' } },
        { path: 'cpu_limit_cores', resourceFieldRef: { containerName: 'main', resource: 'limits.cpu' } },
        { path: 'mem_request', resourceFieldRef: { containerName: 'main', resource: 'requests.memory', divisor: '1Mi' } },
      ],
      0o644,
      p,
      allocatable,
    );
    expect(files(result)).toEqual({ cpu_limit: ['500', 0o644], cpu_limit_cores: ['1', 0o644], mem_request: ['64', 0o644] });
  });

  test('an unset limit is the node allocatable', () => {
    const result = downwardApiPayload(
      [
        { path: 'cpu', resourceFieldRef: { containerName: 'sidecar', resource: 'limits.cpu', divisor: '1m' } },
        { path: 'memory', resourceFieldRef: { containerName: 'sidecar', resource: 'limits.memory', divisor: '1Gi' } },
        { path: 'storage', resourceFieldRef: { containerName: 'sidecar', resource: 'limits.ephemeral-storage', divisor: '1Gi' } },
      ],
      0o644,
      p,
      allocatable,
    );
    expect(files(result)).toEqual({ cpu: ['4000', 0o644], memory: ['8', 0o644], storage: ['100', 0o644] });
  });

  test('an init container may be named; hugepages read as declared, an unset one as 0 (never allocatable)', () => {
    const result = downwardApiPayload(
      [
        { path: 'hp', resourceFieldRef: { containerName: 'setup', resource: 'limits.hugepages-2Mi', divisor: '1Mi' } },
        { path: 'hp1g', resourceFieldRef: { containerName: 'setup', resource: 'limits.hugepages-1Gi' } },
      ],
      0o644,
      p,
      allocatable,
    );
    expect(files(result)).toEqual({ hp: ['4', 0o644], hp1g: ['0', 0o644] });
  });

  test('a container that is not in the pod fails naming it', () => {
    expect(downwardApiPayload([{ path: 'x', resourceFieldRef: { containerName: 'ghost', resource: 'limits.cpu' } }], 0o644, p, allocatable)).toEqual({
      ok: false,
      message: 'container ghost not found',
    });
  });

  test('a resourceFieldRef without a container fails: a volume has no container of its own', () => {
    expect(downwardApiPayload([{ path: 'x', resourceFieldRef: { resource: 'limits.cpu' } }], 0o644, p, allocatable)).toEqual({
      ok: false,
      message: 'downwardAPI item "x": resourceFieldRef.containerName is required in a volume',
    });
  });

  test('an unsupported resource fails', () => {
    expect(downwardApiPayload([{ path: 'x', resourceFieldRef: { containerName: 'main', resource: 'limits.gpu' } }], 0o644, p, allocatable)).toEqual({
      ok: false,
      message: 'unsupported container resource : limits.gpu',
    });
  });

  test('every item is evaluated and the failures are reported together (NewAggregate)', () => {
    expect(
      downwardApiPayload(
        [
          { path: 'a', fieldRef: { fieldPath: 'spec.nodeName' } },
          { path: 'b', fieldRef: { fieldPath: 'metadata.name' } },
          { path: 'c', resourceFieldRef: { containerName: 'ghost', resource: 'limits.cpu' } },
          { path: 'd', fieldRef: { fieldPath: 'spec.nodeName' } },
        ],
        0o644,
        p,
        allocatable,
      ),
    ).toEqual({ ok: false, message: '[unsupported fieldPath: spec.nodeName, container ghost not found]' });
  });
});

describe('aggregateMessage (utilerrors.NewAggregate)', () => {
  test('one message alone, several bracketed, repeats dropped', () => {
    expect(aggregateMessage(['a'])).toBe('a');
    expect(aggregateMessage(['a', 'b', 'a'])).toBe('[a, b]');
    expect(aggregateMessage(['a', 'a'])).toBe('a');
  });
});

describe('projectedPayload (projected.go collectData)', () => {
  const p = pod({ containers: [ctr('main', { resources: { limits: { memory: '256Mi' } } })] }, { labels: { app: 'web' } });
  const objects: ConfigObjectLookup = {
    configMap: (namespace, name) => (namespace === 'default' && name === 'settings' ? settings : undefined),
    secret: (namespace, name) => (namespace === 'default' && name === 'credentials' ? credentials : undefined),
  };

  test('configMap, secret and downwardAPI sources combine, with the projected defaultMode and per-item modes', () => {
    const result = projectedPayload(
      {
        defaultMode: 0o440,
        sources: [
          { configMap: { name: 'settings', items: [{ key: 'level', path: 'config/level' }] } },
          { secret: { name: 'credentials', items: [{ key: 'password', path: 'secret/password', mode: 0o400 }] } },
          {
            downwardAPI: {
              items: [
                { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
                { path: 'mem', resourceFieldRef: { containerName: 'main', resource: 'limits.memory', divisor: '1Mi' }, mode: 0o444 },
              ],
            },
          },
        ],
      },
      p,
      objects,
      allocatable,
    );
    expect(files(result)).toEqual({
      'config/level': ['info', 0o440],
      'secret/password': ['s3cret', 0o400],
      labels: ['app="web"', 0o440],
      mem: ['256', 0o444],
    });
  });

  test('defaultMode is 0644 when unset; a source without items projects all its keys', () => {
    expect(files(projectedPayload({ sources: [{ secret: { name: 'credentials' } }] }, p, objects, allocatable))).toEqual({
      username: ['admin', 0o644],
      password: ['s3cret', 0o644],
    });
  });

  test('objects are looked up in the pod\'s namespace', () => {
    const other = pod({}, { namespace: 'other' });
    expect(projectedPayload({ sources: [{ configMap: { name: 'settings' } }] }, other, objects, allocatable)).toEqual({
      ok: false,
      message: 'configmap "settings" not found',
    });
  });

  test('a later source wins a path an earlier one also writes', () => {
    const result = projectedPayload(
      {
        sources: [
          { configMap: { name: 'settings', items: [{ key: 'level', path: 'value' }] } },
          { secret: { name: 'credentials', items: [{ key: 'username', path: 'value' }] } },
        ],
      },
      p,
      objects,
      allocatable,
    );
    expect(files(result)).toEqual({ value: ['admin', 0o644] });
  });

  test('missing optional sources contribute nothing', () => {
    const result = projectedPayload(
      {
        sources: [
          { configMap: { name: 'absent', optional: true } },
          { secret: { name: 'absent', optional: true, items: [{ key: 'k', path: 'k' }] } },
          { downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
        ],
      },
      p,
      objects,
      allocatable,
    );
    expect(files(result)).toEqual({ name: ['web', 0o644] });
  });

  test('every source is evaluated and the failures are reported together', () => {
    const result = projectedPayload(
      {
        sources: [
          { configMap: { name: 'absent' } },
          { secret: { name: 'credentials', items: [{ key: 'token', path: 't' }] } },
          { downwardAPI: { items: [{ path: 'n', fieldRef: { fieldPath: 'status.podIP' } }] } },
        ],
      },
      p,
      objects,
      allocatable,
    );
    expect(result).toEqual({
      ok: false,
      message: '[configmap "absent" not found, references non-existent secret key: token, unsupported fieldPath: status.podIP]',
    });
  });

  test('a serviceAccountToken source gets the token fetched for it, at its path with the default mode', () => {
    const request = { path: 'token', expirationSeconds: 3600 };
    const result = projectedPayload({ defaultMode: 0o640, sources: [{ serviceAccountToken: request }, { configMap: { name: 'settings' } }] }, p, objects, allocatable, new Map([[request, { ok: true, token: 'jwt' }]]));
    expect(files(result)).toMatchObject({ token: ['jwt', 0o640], level: ['info', 0o640] });
  });

  test('with an fsGroup the token file is 0600 whatever the default mode (fsGroup ownership then adds group read)', () => {
    const request = { path: 'token' };
    const grouped = { ...p, spec: { ...p.spec, securityContext: { fsGroup: 2000 } } };
    const result = projectedPayload({ defaultMode: 0o644, sources: [{ serviceAccountToken: request }] }, grouped, objects, allocatable, new Map([[request, { ok: true, token: 'jwt' }]]));
    expect(files(result)).toEqual({ token: ['jwt', 0o600] });
  });

  test('a token that could not be fetched fails the volume with its message; none at all (no API server) says where tokens come from', () => {
    const request = { path: 'token' };
    const volume = { sources: [{ serviceAccountToken: request }, { configMap: { name: 'settings' } }] };
    expect(projectedPayload(volume, p, objects, allocatable, new Map([[request, { ok: false, message: 'failed to fetch token: 403 Forbidden' }]]))).toEqual({
      ok: false,
      message: 'failed to fetch token: 403 Forbidden',
    });
    expect(projectedPayload(volume, p, objects, allocatable)).toEqual({
      ok: false,
      message: 'serviceAccountToken projection "token": service account tokens come from an API server: only pods from one (--kubeconfig) get them',
    });
  });

  test('a clusterTrustBundle source is not served', () => {
    expect(projectedPayload({ sources: [{ clusterTrustBundle: { path: 'ca.pem', name: 'bundle' } }] }, p, objects, allocatable)).toEqual({
      ok: false,
      message: 'clusterTrustBundle projection "ca.pem": cluster trust bundles are not served by dockerlet',
    });
  });

  test('no sources: an empty volume', () => {
    expect(files(projectedPayload({}, p, objects, allocatable))).toEqual({});
  });
});
